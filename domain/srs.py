"""Spatial reference systems: codes as MapProxy spells them, axis order, bbox transformation."""

from __future__ import annotations

import functools

import attrs
import numpy as np
import pyproj
from numpy.typing import NDArray
from pyproj.exceptions import CRSError

from domain.bbox import Bbox
from domain.errors import ConfigValueError

# Codes that predate the EPSG registry's entry for web mercator; MapProxy still uses them.
_ALIASES = {
    "CRS:84": "OGC:CRS84",
    "EPSG:900913": "EPSG:3857",
    "EPSG:102100": "EPSG:3857",
    "EPSG:102113": "EPSG:3857",
}


@attrs.frozen
class SrsSettings:
    """`globals.srs`: codes whose axis order is declared (north/east or east/north) instead of
    taken from the EPSG database, and per target SRS the source SRS to reproject from first."""

    axis_order_ne: frozenset[str] = frozenset()
    axis_order_en: frozenset[str] = frozenset()
    preferred_src: dict[str, tuple[str, ...]] = attrs.field(factory=dict, hash=False)


# Process-wide (MapProxy keeps them in its base configuration): set by the composition root
# when a configuration is loaded; in a process serving several, the last one loaded wins.
_settings = SrsSettings()


def configure_srs(settings: SrsSettings) -> None:
    global _settings
    _settings = settings


def srs_settings() -> SrsSettings:
    return _settings


@attrs.frozen
class SRS:
    """A spatial reference system known by its code (`EPSG:4326`, `EPSG:900913`, `CRS:84`)."""

    code: str

    @property
    def crs(self) -> pyproj.CRS:
        return _crs(self.code)

    @property
    def is_latlong(self) -> bool:
        return bool(self.crs.is_geographic)

    @property
    def is_axis_order_ne(self) -> bool:
        """True where the official axis order is north/east (WMS 1.3.0 must flip these)."""
        if self.code in _settings.axis_order_ne:
            return True
        if self.code in _settings.axis_order_en or self.code.upper().startswith("CRS:"):
            return False
        axes = self.crs.axis_info
        return len(axes) >= 2 and axes[0].direction.lower() in ("north", "south")

    @property
    def path_code(self) -> str:
        """The code without its colon, as MapProxy names cache directories (`EPSG900913`)."""
        return self.code.replace(":", "")

    @property
    def epsg(self) -> int | None:
        auth, _, number = self.code.partition(":")
        return int(number) if auth.upper() == "EPSG" and number.isdigit() else None

    def __str__(self) -> str:
        return self.code


def srs(code: str | int) -> SRS:
    """The SRS for a code, checked to exist; integers are EPSG codes."""
    normal = f"EPSG:{code}" if isinstance(code, int) else code.strip().upper()
    if normal.isdigit():
        normal = f"EPSG:{normal}"
    _crs(normal)
    return SRS(normal)


@functools.cache
def _crs(code: str) -> pyproj.CRS:
    try:
        return pyproj.CRS.from_user_input(_ALIASES.get(code, code))
    except CRSError as exc:
        raise ConfigValueError(f"unknown SRS {code!r}") from exc


@functools.cache
def _transformer(src: str, dst: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(_crs(src), _crs(dst), always_xy=True)


def same_srs(a: SRS, b: SRS) -> bool:
    return a.code == b.code or _ALIASES.get(a.code, a.code) == _ALIASES.get(
        b.code, b.code
    )


def transform_bbox(bbox: Bbox, src: SRS, dst: SRS) -> Bbox:
    """The bbox in dst that covers bbox in src, from densified edges rather than corners."""
    if same_srs(src, dst):
        return bbox
    minx, miny, maxx, maxy = _transformer(src.code, dst.code).transform_bounds(
        *bbox.as_tuple(), densify_pts=21
    )
    return Bbox(minx, miny, maxx, maxy)


def transform_arrays(
    xs: NDArray[np.float64], ys: NDArray[np.float64], src: SRS, dst: SRS
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Coordinates transformed as arrays; inf where dst cannot express a point."""
    if same_srs(src, dst):
        return xs, ys
    tx, ty = _transformer(src.code, dst.code).transform(xs, ys)
    return np.asarray(tx, dtype=np.float64), np.asarray(ty, dtype=np.float64)


def transform_points(
    points: list[tuple[float, float]], src: SRS, dst: SRS
) -> list[tuple[float, float]]:
    if same_srs(src, dst):
        return points
    xs, ys = _transformer(src.code, dst.code).transform(
        [p[0] for p in points], [p[1] for p in points]
    )
    return list(zip(xs, ys, strict=True))
