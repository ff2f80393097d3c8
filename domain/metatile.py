"""Meta-tiles: blocks of tiles rendered with one source request, with a buffer around them."""

from __future__ import annotations

import math

import attrs

from domain.bbox import Bbox
from domain.grid import Grid, TileCoord, TileRange


@attrs.frozen
class MetaTile:
    """A block of tiles and the buffered image that covers it.

    `buffer` is (left, bottom, right, top) in pixels: it shrinks at the grid's edges, where
    there is nothing to render beyond, and is negative where tiles reach beyond the grid's
    bbox (that part of them lies outside the image).
    """

    tiles: TileRange
    bbox: Bbox
    buffered_bbox: Bbox
    size: tuple[int, int]
    buffer: tuple[int, int, int, int]
    origin: str
    tile_size: tuple[int, int]

    def tile_offset(self, coord: TileCoord) -> tuple[int, int]:
        """Pixel position of the tile's top-left corner in the meta-tile image."""
        col = coord.x - self.tiles.x0
        row = (
            self.tiles.y1 - coord.y if self.origin == "ll" else coord.y - self.tiles.y0
        )
        return (
            self.buffer[0] + col * self.tile_size[0],
            self.buffer[3] + row * self.tile_size[1],
        )


@attrs.frozen
class MetaGrid:
    """How a grid's tiles group into meta-tiles."""

    grid: Grid
    meta_size: tuple[int, int] = (4, 4)
    meta_buffer: int = 80

    def meta_tile(self, coord: TileCoord) -> MetaTile:
        mw, mh = self.meta_size
        nx, ny = self.grid.sizes[coord.z]
        x0, y0 = coord.x // mw * mw, coord.y // mh * mh
        tiles = TileRange(
            x0, y0, min(x0 + mw - 1, nx - 1), min(y0 + mh - 1, ny - 1), coord.z
        )
        return self.for_tiles(tiles)

    def for_tiles(self, tiles: TileRange) -> MetaTile:
        """The meta-tile image for any block of tiles (a part of a meta-tile, or a single tile)."""
        grid = self.grid
        res = grid.res[tiles.z]
        bbox = grid.range_bbox(tiles)
        gb = grid.bbox
        # Whole pixels only, so that tiles stay on the pixel raster of the buffered image.
        tw, th = grid.tile_size
        cols, rows = tiles.x1 - tiles.x0 + 1, tiles.y1 - tiles.y0 + 1
        left, right = _one_pixel_at_least(
            self._room(bbox.minx - gb.minx, res),
            self._room(gb.maxx - bbox.maxx, res),
            cols * tw,
        )
        bottom, top = _one_pixel_at_least(
            self._room(bbox.miny - gb.miny, res),
            self._room(gb.maxy - bbox.maxy, res),
            rows * th,
        )
        buffered = Bbox(
            bbox.minx - left * res,
            bbox.miny - bottom * res,
            bbox.maxx + right * res,
            bbox.maxy + top * res,
        )
        size = (cols * tw + left + right, rows * th + bottom + top)
        return MetaTile(
            tiles,
            bbox,
            buffered,
            size,
            (left, bottom, right, top),
            grid.origin,
            grid.tile_size,
        )

    def _room(self, distance: float, res: float) -> int:
        # Negative where the last tiles reach beyond the grid's bbox (GLOBAL_GEODETIC's level 0,
        # any bbox that is no multiple of the tile size): the image then stops at the grid's edge,
        # rounded inwards to a whole pixel, so no source is asked for an area outside the grid.
        return min(self.meta_buffer, math.floor(distance / res + 1e-6))

    def lock_name(self, coord: TileCoord) -> str:
        mw, mh = self.meta_size
        return f"{coord.z}-{coord.x // mw}-{coord.y // mh}"


def _one_pixel_at_least(low: int, high: int, span: int) -> tuple[int, int]:
    """The rooms on both sides, widened on the clipped side where a last tile overlaps the grid
    by less than a pixel (a grid bbox that came from `bbox_srs`): one pixel, not an empty image."""
    if span + low + high >= 1:
        return low, high
    if high < 0:
        return low, 1 - span - low
    return 1 - span - high, high
