"""mapproxy.yaml into the frozen config model: YAML, `base:` includes, cattrs, cross references."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import ForbiddenExtraKeysError
from cattrs.v import format_exception

from adapters.config_checks import (
    check_left_out,
    check_references,
    layerless_sources,
)
from adapters.config_dimensions import check_dimensions
from adapters.config_hooks import register_hooks
from adapters.config_merge import read_yaml, resolve_includes
from adapters.config_wms import check_wms
from adapters.logs import CONFIG, get_logger
from adapters.mapnik_source import check_mapnik
from adapters.mapserver_source import check_mapserver
from adapters.xslt import check_xslt
from domain.config import TilegateConf
from domain.errors import ConfigError, ConfigValueError

_converter = cattrs.Converter(forbid_extra_keys=True)
register_hooks(_converter)

_EXTRA = "extra fields found ("
T = TypeVar("T")
_log = get_logger(CONFIG)


@attrs.frozen
class LoadedConfig:
    """A structured configuration, its warnings and the files it was read from."""

    conf: TilegateConf
    warnings: tuple[str, ...]
    files: tuple[Path, ...]


def load_config(path: Path) -> LoadedConfig:
    """The configuration in `path` with its `base:` files merged in."""
    loaded = _parse(read_yaml(path), str(path), path.parent, (path.resolve(),))
    return attrs.evolve(loaded, files=(path, *loaded.files))


def parse_config(
    raw: object, source: str, base_dir: Path | None = None
) -> LoadedConfig:
    """An already loaded mapping structured; `base:` files are looked up in `base_dir` (or here)."""
    return _parse(raw, source, base_dir or Path(), ())


def _parse(
    raw: object, source: str, base_dir: Path, chain: tuple[Path, ...]
) -> LoadedConfig:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            source,
            [
                f"expected a mapping of configuration sections, got {type(raw).__name__} @ $"
            ],
        )
    merged, files = resolve_includes(raw, source, base_dir, chain)
    # `parts:` is free space for YAML anchors; an empty section (`caches:`) is no section.
    data: dict[object, object] = {
        k: _own_copy(v)
        for k, v in merged.items()
        if k not in ("parts", "base") and v is not None
    }
    warnings = check_left_out(data)
    conf, extra = structure_config(_converter, data, TilegateConf, source)
    warnings += extra
    errors = check_references(conf, data)
    warnings += layerless_sources(conf)
    errors += check_dimensions(conf, data)
    errors += check_xslt(conf, base_dir)
    errors += check_wms(conf)
    errors += check_mapserver(conf, base_dir)
    errors += check_mapnik(conf, base_dir)
    if errors:
        raise ConfigError(source, errors)
    for warning in warnings:
        _log.warning("configuration warning", file=source, problem=warning)
    return LoadedConfig(conf=conf, warnings=tuple(warnings), files=tuple(files))


def _own_copy(value: object) -> object:
    """A copy of YAML data that the checks may edit in place: the caller's dicts stay as they
    are, and nodes shared through YAML anchors become separate (copy.deepcopy would keep them
    shared, and is several times slower on a large configuration)."""
    if isinstance(value, dict):
        return {k: _own_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_own_copy(v) for v in value]
    return value


def structure_config(
    converter: cattrs.Converter,
    data: dict[object, object],
    cls: type[T],
    source: str,
) -> tuple[T, list[str]]:
    """`data` structured as `cls`; unknown keys are warnings, stripped before structuring again.

    Any other problem raises a ConfigError with the problems found.
    """
    warnings: list[str] = []
    while True:
        try:
            conf = converter.structure(data, cls)
        except cattrs.BaseValidationError as exc:
            problems = cattrs.transform_error(exc, path="$", format_exception=_describe)
            unknown = [p for p in problems if p.startswith(_EXTRA)]
            others = [p for p in problems if not p.startswith(_EXTRA)]
            if others or not unknown:
                raise ConfigError(source, others) from exc
            warnings += unknown
            for path, keys in _extra_keys(exc, ()):
                _strip(data, path, keys)
        except ConfigValueError as exc:
            raise ConfigError(source, [f"{exc} @ $"]) from exc
        else:
            return conf, warnings


def _describe(exc: BaseException, type_: Any) -> str:
    # Our hooks and attrs validators already say what is wrong: keep their words.
    if isinstance(exc, ConfigValueError) or (
        isinstance(exc, ValueError) and type_ is None
    ):
        return str(exc)
    return format_exception(exc, type_)


def _extra_keys(
    exc: BaseException, path: tuple[object, ...]
) -> Iterator[tuple[tuple[object, ...], set[str]]]:
    """Where in the input `exc` found unknown keys, and which."""
    if isinstance(exc, ForbiddenExtraKeysError):
        yield path, exc.extra_fields
    if not isinstance(
        exc, cattrs.ClassValidationError | cattrs.IterableValidationError
    ):
        return
    with_notes, without_notes = exc.group_exceptions()
    for sub, note in with_notes:
        step = (
            note.name
            if isinstance(note, cattrs.AttributeValidationNote)
            else note.index
        )
        yield from _extra_keys(sub, (*path, step))
    for sub in without_notes:
        yield from _extra_keys(sub, path)


def _strip(data: object, path: tuple[object, ...], keys: set[str]) -> None:
    for step in path:
        if isinstance(data, dict):  # noqa: SIM114  (separate, so mypy can narrow `step`)
            data = data[step]
        elif isinstance(data, list) and isinstance(step, int):
            data = data[step]
    if isinstance(data, dict):
        for key in keys:
            data.pop(key, None)
