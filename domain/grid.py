"""Tile grids: which tiles exist at which resolution, and where each tile lies."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Literal

import attrs

from domain.bbox import Bbox
from domain.srs import SRS

Origin = Literal["ll", "ul"]

# Relative slack when a bbox edge falls on a tile edge up to float noise.
_EPS = 1e-9
# Relative rounding of coordinates (a few dozen ulps), for edges computed from far-off origins.
_COORD_EPS = 1e-14


@attrs.frozen
class TileCoord:
    """A tile's column, row (counted from the grid's origin) and level."""

    x: int
    y: int
    z: int


@attrs.frozen
class TileRange:
    """The tiles x0..x1 x y0..y1 (inclusive) of level z."""

    x0: int
    y0: int
    x1: int
    y1: int
    z: int

    @property
    def count(self) -> int:
        return (self.x1 - self.x0 + 1) * (self.y1 - self.y0 + 1)

    def __iter__(self) -> Iterator[TileCoord]:
        for y in range(self.y0, self.y1 + 1):
            for x in range(self.x0, self.x1 + 1):
                yield TileCoord(x, y, self.z)

    def __contains__(self, coord: object) -> bool:
        return (
            isinstance(coord, TileCoord)
            and coord.z == self.z
            and self.x0 <= coord.x <= self.x1
            and self.y0 <= coord.y <= self.y1
        )


def _check_res(
    instance: Grid,
    attribute: attrs.Attribute[tuple[float, ...]],
    value: tuple[float, ...],
) -> None:
    if not value:
        raise ValueError("a grid needs at least one resolution")
    if any(not (math.isfinite(r) and r > 0) for r in value):
        raise ValueError(f"resolutions must be positive numbers, got {list(value)}")
    if any(a <= b for a, b in itertools.pairwise(value)):
        raise ValueError(
            f"resolutions must decrease from level to level, got {list(value)}"
        )


@attrs.frozen
class Grid:
    """A tile pyramid over `bbox` in `srs`: level z has tiles of `res[z]` units per pixel."""

    name: str
    srs: SRS
    bbox: Bbox
    res: tuple[float, ...] = attrs.field(validator=_check_res)
    tile_size: tuple[int, int] = (256, 256)
    origin: Origin = "ll"
    threshold_res: tuple[float, ...] = ()
    stretch_factor: float = 1.15
    max_shrink_factor: float = 4.0
    sizes: tuple[tuple[int, int], ...] = attrs.field(init=False)

    @sizes.default
    def _sizes(self) -> tuple[tuple[int, int], ...]:
        tw, th = self.tile_size
        # Relative slack: at deep levels a tile count like 524288.0000000014 is float noise.
        return tuple(
            (
                max(1, math.ceil(self.bbox.width / (r * tw) * (1 - _EPS))),
                max(1, math.ceil(self.bbox.height / (r * th) * (1 - _EPS))),
            )
            for r in self.res
        )

    @property
    def num_levels(self) -> int:
        return len(self.res)

    def contains(self, coord: TileCoord) -> bool:
        if not 0 <= coord.z < len(self.res):
            return False
        nx, ny = self.sizes[coord.z]
        return 0 <= coord.x < nx and 0 <= coord.y < ny

    def tile_bbox(self, coord: TileCoord) -> Bbox:
        return self.range_bbox(TileRange(coord.x, coord.y, coord.x, coord.y, coord.z))

    def range_bbox(self, tiles: TileRange) -> Bbox:
        """The bbox of a block of tiles, each edge computed from indices (never by adding widths)."""
        res = self.res[tiles.z]
        tw, th = self.tile_size[0] * res, self.tile_size[1] * res
        minx = self.bbox.minx + tiles.x0 * tw
        maxx = self.bbox.minx + (tiles.x1 + 1) * tw
        if self.origin == "ll":
            miny = self.bbox.miny + tiles.y0 * th
            maxy = self.bbox.miny + (tiles.y1 + 1) * th
        else:
            maxy = self.bbox.maxy - tiles.y0 * th
            miny = self.bbox.maxy - (tiles.y1 + 1) * th
        return Bbox(minx, miny, maxx, maxy)

    def tiles_for_bbox(self, bbox: Bbox, z: int) -> TileRange | None:
        """The tiles of level z that intersect bbox, or None if none does."""
        res = self.res[z]
        tw, th = self.tile_size[0] * res, self.tile_size[1] * res
        nx, ny = self.sizes[z]
        # Slack in tiles: tiny tiles far from zero (deep levels) carry the coordinates' rounding.
        ex = (
            _EPS
            + _COORD_EPS * max(abs(bbox.minx), abs(bbox.maxx), abs(self.bbox.minx)) / tw
        )
        ey = (
            _EPS
            + _COORD_EPS
            * max(
                abs(bbox.miny), abs(bbox.maxy), abs(self.bbox.miny), abs(self.bbox.maxy)
            )
            / th
        )
        x0 = math.floor((bbox.minx - self.bbox.minx) / tw + ex)
        x1 = math.ceil((bbox.maxx - self.bbox.minx) / tw - ex) - 1
        if self.origin == "ll":
            y0 = math.floor((bbox.miny - self.bbox.miny) / th + ey)
            y1 = math.ceil((bbox.maxy - self.bbox.miny) / th - ey) - 1
        else:
            y0 = math.floor((self.bbox.maxy - bbox.maxy) / th + ey)
            y1 = math.ceil((self.bbox.maxy - bbox.miny) / th - ey) - 1
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, nx - 1), min(y1, ny - 1)
        if x0 > x1 or y0 > y1:
            return None
        return TileRange(x0, y0, x1, y1, z)

    def level_for_res(self, res: float) -> int:
        """The level to render a map of `res` from: the coarsest level that needs at most
        `stretch_factor` upscaling, switching at a `threshold_res` where one lies between levels."""
        thresholds = sorted(self.threshold_res, reverse=True)
        for z, level_res in enumerate(self.res):
            if z + 1 < len(self.res):
                finer = self.res[z + 1]
                between = [t for t in thresholds if finer < t < level_res]
                if between and finer < res < level_res:
                    return z if res > between[0] else z + 1
            if level_res <= res * self.stretch_factor:
                return z
        return len(self.res) - 1

    def flip_y(self, coord: TileCoord) -> TileCoord:
        """The same tile counted from the opposite origin (rows from the top vs. the bottom)."""
        return TileCoord(coord.x, self.sizes[coord.z][1] - 1 - coord.y, coord.z)
