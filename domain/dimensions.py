"""Layer dimensions (TIME, ELEVATION, DIM_*): their values and the value a request picks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

from domain.errors import ConfigValueError, RequestError
from domain.time_interval import unfold

if TYPE_CHECKING:
    from domain.config import LayerConf

# WMS names these two itself; every other dimension is DIM_<name> in a GetMap.
WMS_OWN = ("time", "elevation")
# A value is one directory name of a cache path: short enough for any file system, and
# nothing that could name another directory.
MAX_VALUE_BYTES = 200
_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")


def check_value(value: str) -> str:
    """value, if it can be a directory name of a cache path; ConfigValueError if not."""
    if value in ("", ".", "..") or _UNSAFE.search(value):
        raise ConfigValueError(
            f"dimension value {value!r} cannot be stored: no '/', '\\', control characters,"
            " and not empty, '.' or '..'"
        )
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise ConfigValueError(
            f"dimension value {value[:40]!r}... is longer than {MAX_VALUE_BYTES} bytes"
        )
    return value


@attrs.frozen
class Dimension:
    """One dimension of a layer: its name as configured, its values and its default."""

    name: str
    values: tuple[str, ...]
    default: str

    @property
    def key(self) -> str:
        """The name in lower case: how requests, cache paths and sources match it."""
        return self.name.lower()

    @property
    def wms_param(self) -> str:
        """The GetMap parameter that carries a value (lower case)."""
        return _wms_name(self.key)

    @classmethod
    def from_conf(
        cls, name: str, raw: Sequence[object], default: object | None
    ) -> Dimension:
        """As MapProxy: a single value is an ISO 8601 interval (`start/end/period`) for time
        dimensions, else values split at '/'; without a default the last value is it."""
        if not raw:
            raise ConfigValueError(f"dimension {name!r} needs at least one value")
        if len(raw) == 1 and "time" in name.lower():
            values = unfold(str(raw[0]))
        elif len(raw) == 1:
            values = tuple(v.strip() for v in str(raw[0]).split("/"))
        else:
            values = tuple(str(v) for v in raw)
        for value in values:
            check_value(value)
        chosen = values[-1] if default is None else check_value(str(default))
        return cls(name, values, chosen)


@attrs.frozen
class Chosen:
    """The value of every dimension of a layer for one request, in cache path order."""

    values: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, values: Iterable[tuple[str, str]]) -> Chosen:
        """(lower-case name, value) pairs in cache path order."""
        return cls(
            tuple(sorted(values, key=lambda kv: (kv[0].startswith("dim_"), kv[0])))
        )

    @property
    def path(self) -> str:
        """The directories below a cache's own that hold these tiles, as MapProxy lays them
        out: `name-value` for each dimension, the dim_ ones after the others, each by name."""
        return "/".join(f"{key}-{check_value(value)}" for key, value in self.values)

    @property
    def params(self) -> tuple[tuple[str, str], ...]:
        """The values as request parameters for sources, which forward the ones their
        `forward_req_params` names: a dimension `band` both as `band` and as `dim_band` (its
        WMS name), so that either spelling reaches the source."""
        params = []
        for key, value in self.values:
            params.append((key, value))
            if _wms_name(key) != key:
                params.append((_wms_name(key), value))
        return tuple(params)


def _wms_name(key: str) -> str:
    return key if key in WMS_OWN or key.startswith("dim_") else f"dim_{key}"


@attrs.frozen
class LayerDimensions:
    """The dimensions of one layer."""

    dimensions: tuple[Dimension, ...]

    def keys(self) -> tuple[str, ...]:
        return tuple(d.key for d in self.dimensions)

    def choose(self, given: Callable[[Dimension], str | None]) -> Chosen:
        """Each dimension's value: `given(dimension)` (the request's), its default where that
        is missing, empty or 'default'; RequestError for a value the layer does not offer."""
        chosen = []
        for dim in self.dimensions:
            value = given(dim)
            if value in (None, "", "default"):
                value = dim.default
            elif value not in dim.values:
                raise RequestError(
                    f"invalid dimension value ({dim.key}={value})",
                    param=dim.key,
                    code="InvalidParameterValue",
                )
            chosen.append((dim.key, value))
        return Chosen.of(chosen)


def dimensions_of(layer: LayerConf) -> LayerDimensions | None:
    """A layer's dimensions from its configuration, if it has any."""
    if not layer.dimensions:
        return None
    return LayerDimensions(
        tuple(
            Dimension.from_conf(name, d.values, d.default)
            for name, d in layer.dimensions.items()
        )
    )
