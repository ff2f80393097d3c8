"""A layer's `md` as WMS capabilities advertise it: abstract, keywords, attribution, authority
identifiers and links to metadata, data and feature lists (MapProxy's layer `md` keys)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import attrs

from domain.config import LayerConf
from domain.errors import ConfigValueError


@attrs.frozen
class Link:
    """A MetadataURL, DataURL or FeatureListURL: where, in which format, of which type."""

    url: str
    format: str = ""
    type: str = ""


@attrs.frozen
class Logo:
    url: str
    format: str = ""
    width: int | None = None
    height: int | None = None


@attrs.frozen
class Attribution:
    title: str = ""
    url: str = ""
    logo: Logo | None = None


@attrs.frozen
class Identifier:
    """An authority (`name`, with its `url`) and the layer's `value` in its scheme."""

    name: str
    url: str = ""
    value: str = ""


@attrs.frozen
class Keywords:
    vocabulary: str
    words: tuple[str, ...]


@attrs.frozen
class LayerMd:
    abstract: str = ""
    keywords: tuple[Keywords, ...] = ()
    attribution: Attribution | None = None
    identifiers: tuple[Identifier, ...] = ()
    metadata: tuple[Link, ...] = ()
    data: tuple[Link, ...] = ()
    feature_list: tuple[Link, ...] = ()


def layer_md(md: Mapping[str, object] | None, path: str = "md") -> LayerMd:
    """The typed metadata; a ConfigValueError names the key path of a value of the wrong kind."""
    if not md:
        return LayerMd()
    attribution = md.get("attribution")
    return LayerMd(
        abstract=_str(md, "abstract", path),
        keywords=tuple(
            Keywords(
                _str(entry, "vocabulary", where),
                tuple(
                    _text(w, f"{where}.keywords")
                    for w in _list(entry, "keywords", where)
                ),
            )
            for entry, where in _entries(md, "keyword_list", path)
        ),
        attribution=None
        if attribution is None
        else _attribution(
            _mapping(attribution, f"{path}.attribution"), f"{path}.attribution"
        ),
        identifiers=tuple(
            Identifier(
                _str(entry, "name", where, required=True),
                _str(entry, "url", where),
                _str(entry, "value", where),
            )
            for entry, where in _entries(md, "identifier", path)
        ),
        metadata=_links(md, "metadata", path, with_type=True),
        data=_links(md, "data", path),
        feature_list=_links(md, "feature_list", path),
    )


def check_layer_md(layers: Sequence[LayerConf], path: str = "$.layers") -> list[str]:
    """Problems of every layer's `md`, each ending in its key path (for the config loader)."""
    problems = []
    for index, layer in enumerate(layers):
        where = f"{path}[{index}]"
        try:
            layer_md(layer.md, f"{where}.md")
        except ConfigValueError as exc:
            problems.append(str(exc))
        problems += check_layer_md(layer.layers, f"{where}.layers")
    return problems


def _attribution(value: Mapping[str, object], path: str) -> Attribution:
    logo = value.get("logo")
    parsed = None
    if logo is not None:
        where = f"{path}.logo"
        entry = _mapping(logo, where)
        parsed = Logo(
            _str(entry, "url", where, required=True),
            _str(entry, "format", where),
            _int(entry, "width", where),
            _int(entry, "height", where),
        )
    return Attribution(_str(value, "title", path), _str(value, "url", path), parsed)


def _links(
    md: Mapping[str, object], key: str, path: str, with_type: bool = False
) -> tuple[Link, ...]:
    return tuple(
        Link(
            _str(entry, "url", where, required=True),
            _str(entry, "format", where),
            _str(entry, "type", where) if with_type else "",
        )
        for entry, where in _entries(md, key, path)
    )


def _entries(
    md: Mapping[str, object], key: str, path: str
) -> Iterator[tuple[Mapping[str, object], str]]:
    for index, entry in enumerate(_list(md, key, path)):
        where = f"{path}.{key}[{index}]"
        yield _mapping(entry, where), where


def _list(md: Mapping[str, object], key: str, path: str) -> list[object]:
    value = md.get(key)
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ConfigValueError(f"expected a list @ {path}.{key}")
    return list(value)


def _mapping(value: object, path: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ConfigValueError(f"expected a mapping @ {path}")
    return value


def _str(md: Mapping[str, object], key: str, path: str, required: bool = False) -> str:
    value = md.get(key)
    if value is None:
        if required:
            raise ConfigValueError(f"required field missing @ {path}.{key}")
        return ""
    return _text(value, f"{path}.{key}")


def _text(value: object, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigValueError(f"expected a text @ {path}")
    return str(value)


def _int(md: Mapping[str, object], key: str, path: str) -> int | None:
    value = md.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigValueError(f"expected a positive integer @ {path}.{key}")
    return value
