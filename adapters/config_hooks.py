"""The cattrs structure hooks that turn YAML values into the config model, strictly."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from typing import Any, Literal, get_args, get_origin

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn

from domain.config import (
    CACHE_TYPES,
    SOURCE_TYPES,
    BandMergeConf,
    BboxConf,
    BboxSrsConf,
    BboxSrsEntry,
    CacheBackendConf,
    CacheSourcesConf,
    ColorConf,
    LayerConf,
    MapnikSourceConf,
    PixelLimit,
    ScalarParam,
    ServicesConf,
    SourceConf,
)
from domain.errors import ConfigValueError
from domain.inspire_config import INSPIRE_TYPES, InspireConf
from domain.time_spec import TimeSpec

_RES_FACTOR = float | Literal["sqrt2"]


def register_hooks(converter: cattrs.Converter) -> None:
    """Install every hook on `converter`; later registrations win, so classes come last."""
    converter.register_structure_hook(str, _str)
    converter.register_structure_hook(bool, _bool)
    converter.register_structure_hook(int, _int)
    converter.register_structure_hook(float, _float)
    converter.register_structure_hook(datetime.date, _date)
    converter.register_structure_hook_func(_is_object, _as_is)
    converter.register_structure_hook_func(_is_literal, _literal)
    converter.register_structure_hook_func(_is_res_factor, _res_factor)
    converter.register_structure_hook_func(_is_scalar, _scalar)
    converter.register_structure_hook_func(
        _is_pixel_limit, functools.partial(_pixel_limit, converter)
    )
    converter.register_structure_hook_func(
        _is_tuple, functools.partial(_tuple, converter)
    )
    converter.register_structure_hook_factory(
        attrs.has, functools.partial(_class_hook, converter)
    )
    converter.register_structure_hook_func(
        _is_source, functools.partial(_source, converter)
    )
    converter.register_structure_hook_func(
        _is_cache_backend, functools.partial(_cache_backend, converter)
    )
    converter.register_structure_hook_func(
        _is_inspire, functools.partial(_inspire, converter)
    )
    converter.register_structure_hook_func(
        _is_bbox_srs, functools.partial(_bbox_srs, converter)
    )
    converter.register_structure_hook_func(
        _is_cache_sources, functools.partial(_cache_sources, converter)
    )
    converter.register_structure_hook_func(
        _is_status_or_color, functools.partial(_status_or_color, converter)
    )


def _is_status_or_color(type_: Any) -> bool:
    return bool(type_ in (int | str, ColorConf, ColorConf | None))


def _status_or_color(
    converter: cattrs.Converter, value: object, type_: Any
) -> int | str | tuple[int, ...] | None:
    """An `on_error` key (a status or `other`) or a colour (`#rrggbb` or a list of numbers)."""
    if value is None and type_ == ColorConf | None:
        return None
    if isinstance(value, int | str) and not isinstance(value, bool):
        return value
    if type_ != int | str and isinstance(value, list | tuple):
        return converter.structure(value, tuple[int, ...])
    raise ConfigValueError(f"expected a string or number, got {kind(value)}")


def _is_cache_sources(type_: Any) -> bool:
    return bool(type_ == CacheSourcesConf)


def _cache_sources(
    converter: cattrs.Converter, value: object, _: Any
) -> CacheSourcesConf:
    """A cache's `sources`: a list of names, or a mapping of channels (band merging)."""
    if isinstance(value, dict):
        # As MapProxy: an unknown channel is an error (it would silently drop a band).
        unknown = [str(k) for k in value if k not in ("r", "g", "b", "a", "l")]
        if unknown:
            raise ConfigValueError(
                f"unknown band merging channel {', '.join(unknown)}, expected r, g, b, a or l"
            )
        return converter.structure(value, BandMergeConf)
    return converter.structure(value, tuple[str, ...])


def _is_object(type_: Any) -> bool:
    return type_ is object


def _is_literal(type_: Any) -> bool:
    return get_origin(type_) is Literal


def _is_res_factor(type_: Any) -> bool:
    return type_ in (_RES_FACTOR, _RES_FACTOR | None)


def _is_scalar(type_: Any) -> bool:
    return bool(type_ == ScalarParam)


def _is_pixel_limit(type_: Any) -> bool:
    return bool(type_ == PixelLimit)


def _pixel_limit(converter: cattrs.Converter, value: object, _: Any) -> object:
    if isinstance(value, list | tuple):
        return converter.structure(value, tuple[int, int])
    return _int(value, int)


def _is_tuple(type_: Any) -> bool:
    return get_origin(type_) is tuple


def _is_source(type_: Any) -> bool:
    return bool(type_ == SourceConf)


def _is_cache_backend(type_: Any) -> bool:
    return bool(type_ == CacheBackendConf)


def _is_inspire(type_: Any) -> bool:
    return bool(type_ == InspireConf | None)


def _is_bbox_srs(type_: Any) -> bool:
    return bool(type_ == BboxSrsEntry)


def _bbox_srs(converter: cattrs.Converter, value: object, _: Any) -> BboxSrsEntry:
    """A `bbox_srs` entry: an SRS code, or `{srs, bbox}`."""
    if isinstance(value, dict):
        return converter.structure(value, BboxSrsConf)
    return _str(value, str)


def _as_is(value: object, _: Any) -> object:
    return value


# Primitive hooks raise a bare ValueError so that cattrs says "invalid value for type, expected int".
def _str(value: object, _: type) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(value)


def _bool(value: object, _: type) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(value)


def _int(value: object, _: type) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(value)


def _float(value: object, _: type) -> float:
    # PyYAML reads `1e-3` (no dot) as a string; MapProxy takes it as a number, so do we.
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return float(value)
    raise ValueError(value)


def _date(value: object, _: type) -> datetime.date:
    # YAML reads an unquoted 2015-05-01 as a date; a quoted one is a string.
    if isinstance(value, datetime.datetime):
        raise ConfigValueError(f"expected a date (YYYY-MM-DD), got {value.isoformat()}")
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigValueError(f"expected a date (YYYY-MM-DD), got {value!r}")


def _literal(value: object, type_: Any) -> object:
    options = get_args(type_)
    if isinstance(value, str | int) and value in options:
        return value
    raise ConfigValueError(
        f"invalid value {value!r}, expected one of {', '.join(map(str, options))}"
    )


def _res_factor(value: object, type_: Any) -> float | str | None:
    if value is None and type_ != _RES_FACTOR:
        return None
    if value == "sqrt2":
        return "sqrt2"
    try:
        return _float(value, float)
    except ValueError:
        raise ConfigValueError(f"expected a number or 'sqrt2', got {value!r}") from None


def _scalar(value: object, _: Any) -> object:
    if isinstance(value, str | int | float | bool):
        return value
    raise ConfigValueError(f"expected a string, number or boolean, got {kind(value)}")


def _tuple(
    converter: cattrs.Converter, value: object, type_: Any
) -> tuple[object, ...]:
    args = get_args(type_)
    if type_ == BboxConf and isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if args == (LayerConf, ...) and isinstance(value, dict):
        # The older dict form of `layers`: name -> {title, sources}.
        items: list[tuple[int | str, object]] = [
            (
                name,
                {"name": name, **(layer or {})}
                if isinstance(layer, dict | None)
                else layer,
            )
            for name, layer in value.items()
        ]
        return _items(converter, items, [LayerConf] * len(items), type_)
    if not isinstance(value, list | tuple):
        raise ConfigValueError(f"expected a list, got {kind(value)}")
    if len(args) == 2 and args[1] is Ellipsis:
        types = [args[0]] * len(value)
    elif len(value) != len(args):
        raise ConfigValueError(
            f"expected a list of {len(args)} values, got {list(value)}"
        )
    else:
        types = list(args)
    return _items(converter, [(i, v) for i, v in enumerate(value)], types, type_)


def _items(
    converter: cattrs.Converter,
    items: list[tuple[int | str, object]],
    types: list[Any],
    type_: Any,
) -> tuple[object, ...]:
    """Each item structured; every failure collected with its index, as cattrs does for lists."""
    out: list[object] = []
    errors: list[Exception] = []
    for (index, item), item_type in zip(items, types, strict=True):
        try:
            out.append(converter.structure(item, item_type))
        except Exception as exc:
            exc.__notes__ = [
                *getattr(exc, "__notes__", []),
                cattrs.IterableValidationNote(
                    f"Structuring {type_} @ index {index!r}", index, item_type
                ),
            ]
            errors.append(exc)
    if errors:
        raise cattrs.IterableValidationError(
            f"While structuring {type_!r}", errors, type_
        )
    return tuple(out)


def _class_hook(
    converter: cattrs.Converter, cls: type
) -> Callable[[object, Any], object]:
    structure: Callable[[Any, Any], Any] = make_dict_structure_fn(
        cls, converter, _cattrs_forbid_extra_keys=True
    )
    prepare = _PREPARE.get(cls)

    def hook(value: object, type_: Any) -> object:
        # `section:` with nothing after it means the section with its defaults.
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ConfigValueError(f"expected a mapping, got {kind(value)}")
        return structure(prepare(value) if prepare else value, type_)

    return hook


def _services(value: dict[str, object]) -> dict[str, object]:
    # `demo:` (None in YAML) turns a service on with its defaults.
    return {name: {} if options is None else options for name, options in value.items()}


def _mapnik_source(value: dict[str, object]) -> dict[str, object]:
    # MapProxy takes `layers` as a list or as one comma-separated string.
    layers = value.get("layers")
    if isinstance(layers, str):
        return {**value, "layers": [name.strip() for name in layers.split(",")]}
    return value


def _time_spec(value: dict[str, object]) -> dict[str, object]:
    # YAML reads an unquoted `time: 2013-10-10T12:35:00` as a datetime already.
    if isinstance(value.get("time"), datetime.date):
        return {**value, "time": value["time"].isoformat()}  # type: ignore[attr-defined]
    return value


_PREPARE: dict[type, Callable[[dict[str, object]], dict[str, object]]] = {
    ServicesConf: _services,
    MapnikSourceConf: _mapnik_source,
    TimeSpec: _time_spec,
}


def _source(converter: cattrs.Converter, value: object, _: Any) -> SourceConf:
    if not isinstance(value, dict):
        raise ConfigValueError(f"expected a mapping, got {kind(value)}")
    known = ", ".join(SOURCE_TYPES)
    source_type = value.get("type")
    if source_type is None:
        raise ConfigValueError(f"source type missing, expected one of {known}")
    if not isinstance(source_type, str) or source_type not in SOURCE_TYPES:
        raise ConfigValueError(
            f"unknown source type {source_type!r}, expected one of {known}"
        )
    return converter.structure(_numbered_layers(value), SOURCE_TYPES[source_type])


def _numbered_layers(source: dict[Any, Any]) -> dict[Any, Any]:
    """As MapProxy: `req.layers: 4` (an ArcGIS WMS numbers its layers) names the layer "4"."""
    req = source.get("req")
    if isinstance(req, dict):
        layers = req.get("layers")
        if isinstance(layers, int | float) and not isinstance(layers, bool):
            return {**source, "req": {**req, "layers": str(layers)}}
    return source


def _cache_backend(
    converter: cattrs.Converter, value: object, _: Any
) -> CacheBackendConf:
    # `cache:` with nothing after it is the default file cache.
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ConfigValueError(f"expected a mapping, got {kind(value)}")
    cache_type = value.get("type", "file")
    if cache_type == "riak":
        raise ConfigValueError(
            "cache type 'riak' is left out: MapProxy 7 dropped it too"
        )
    if not isinstance(cache_type, str) or cache_type not in CACHE_TYPES:
        raise ConfigValueError(
            f"unknown cache type {cache_type!r}, expected one of {', '.join(CACHE_TYPES)}"
        )
    return converter.structure(value, CACHE_TYPES[cache_type])


def _inspire(converter: cattrs.Converter, value: object, _: Any) -> InspireConf | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigValueError(f"expected a mapping, got {kind(value)}")
    known = ", ".join(INSPIRE_TYPES)
    md_type = value.get("type")
    if not isinstance(md_type, str) or md_type not in INSPIRE_TYPES:
        raise ConfigValueError(
            f"inspire_md type {md_type!r} is not one of {known}"
            if md_type is not None
            else f"inspire_md type missing, expected one of {known}"
        )
    return converter.structure(value, INSPIRE_TYPES[md_type])


def kind(value: object) -> str:
    """What a YAML value is, for messages."""
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )
