"""Map scales: resolution (SRS units per pixel) to scale denominator and back."""

from __future__ import annotations

import math

from domain.grid import Grid

# OGC's "standardized rendering pixel" (WMS SLD, WMTS): 0.28 mm, about 90.7 DPI.
OGC_PIXEL_SIZE = 0.00028
INCH = 0.0254
# Degrees convert at the equator of the WGS84 ellipsoid, as WMTS and MapProxy do.
METERS_PER_DEGREE = 6378137 * 2 * math.pi / 360


def pixel_size(dpi: float | None) -> float:
    """The size of one pixel in metres at `dpi` (None: the OGC pixel)."""
    if dpi is None:
        return OGC_PIXEL_SIZE
    if not (math.isfinite(dpi) and dpi > 0):
        raise ValueError(f"DPI must be a positive number, got {dpi}")
    return INCH / dpi


def dpi_of(pixel: float) -> float:
    return INCH / pixel


def meters_per_unit(latlong: bool) -> float:
    return METERS_PER_DEGREE if latlong else 1.0


def res_to_scale(
    res: float, latlong: bool = False, pixel: float = OGC_PIXEL_SIZE
) -> float:
    """The scale denominator of a map with `res` units per pixel."""
    return res * meters_per_unit(latlong) / pixel


def scale_to_res(
    scale: float, latlong: bool = False, pixel: float = OGC_PIXEL_SIZE
) -> float:
    """The units per pixel of a map at scale 1:`scale`."""
    return scale * pixel / meters_per_unit(latlong)


def scale_denominator(grid: Grid, res: float) -> float:
    """The WMTS scale denominator of `res` in `grid` (OGC pixel)."""
    return res_to_scale(res, grid.srs.is_latlong)
