"""docs/ names every key Tilegate reads from mapproxy.yaml and seed.yaml: each field of the
configuration model appears in the documentation, as `key`, `parent.key` or `key:`."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from pathlib import Path

import attrs

from domain.config import TilegateConf
from domain.seed_config import SeedConf

DOCS = Path(__file__).parents[2] / "docs"


def model_classes(tp: object, seen: set[type]) -> Iterator[type]:
    """The attrs classes reachable from `tp` through its fields' types, each once."""
    if typing.get_origin(tp) is not None:
        for arg in typing.get_args(tp):
            yield from model_classes(arg, seen)
        return
    if isinstance(tp, type) and attrs.has(tp) and tp not in seen:
        seen.add(tp)
        yield tp
        hints = typing.get_type_hints(tp)
        for field in attrs.fields(tp):
            yield from model_classes(hints[field.name], seen)


def undocumented(root: type, text: str) -> dict[str, list[str]]:
    missing: dict[str, list[str]] = {}
    for cls in model_classes(root, set()):
        for field in attrs.fields(cls):
            # `from_` in Python is `from` in YAML.
            name = re.escape(field.name.rstrip("_"))
            # `key`, `parent.key`, `a/key`, `key: ...`, or in a `{a, key, b}` list.
            pattern = rf"[`./{{]{name}[`:=\s\[.,/}}]|\b{name}:|, {name}[,}}]"
            if field.init and not re.search(pattern, text):
                missing.setdefault(field.name, []).append(cls.__name__)
    return missing


def test_every_configuration_key_is_documented() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    assert undocumented(TilegateConf, text) == {}
    assert undocumented(SeedConf, text) == {}


def test_the_check_finds_an_undocumented_key() -> None:
    assert "seeds" in undocumented(SeedConf, "`cleanups`")
    assert "seeds" not in undocumented(SeedConf, "`seeds`")
