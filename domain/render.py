"""The use case "render a map from a cache": pick a grid and level, mosaic the tiles, warp.

A WMS request asks for any bbox, size and SRS; a cache has tiles in fixed grids. We use the
cache's grid in the requested SRS if there is one (else its first grid, reprojecting), the level
`Grid.level_for_res` picks for the resolution, fetch (or create) the tiles that cover the bbox,
and warp their mosaic into the requested image.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import attrs
from PIL import Image

from domain import imaging
from domain.errors import RequestError
from domain.grid import Grid, TileCoord, TileRange
from domain.ports import MapQuery, StoredTile
from domain.srs import same_srs, transform_bbox
from domain.tiles import TileSet, get_tile
from domain.warp import GeoImage, Resampling, scale_rows, warp

TileReader = Callable[[StoredTile], bytes]


def render_from_cache(
    query: MapQuery,
    tilesets: tuple[TileSet, ...],
    read: TileReader,
    resampling: Resampling = "bicubic",
    max_tiles: int = 500,
) -> Image.Image:
    """The map for query from the cache's tiles; transparent where the cache has none."""
    tileset = next(
        (ts for ts in tilesets if same_srs(ts.grid.srs, query.srs)), tilesets[0]
    )
    grid = tileset.grid
    try:
        wanted = transform_bbox(query.bbox, query.srs, grid.srs)
    except ValueError:
        return _blank(query.size)  # nowhere in the grid's SRS
    area = wanted.intersection(grid.bbox)
    if area is None:
        return _blank(query.size)
    res = min(wanted.width / query.size[0], wanted.height / query.size[1])
    if res > grid.res[0] * grid.max_shrink_factor:
        return _blank(query.size)  # as MapProxy: far coarser than the coarsest level
    z = grid.level_for_res(res)
    tiles = grid.tiles_for_bbox(area, z)
    if tiles is None:
        return _blank(query.size)
    if tiles.count > max_tiles:
        raise RequestError(
            f"the map needs {tiles.count} tiles, more than max_tile_limit {max_tiles}"
        )
    _create_meta_tiles(tileset, tiles)
    if same_srs(grid.srs, query.srs):
        # Rows of tiles are read as the resize reaches them: the mosaic of up to
        # max_tile_limit tiles (128 MB and more) is never held whole.
        width = (tiles.x1 - tiles.x0 + 1) * grid.tile_size[0]
        height = (tiles.y1 - tiles.y0 + 1) * grid.tile_size[1]
        return scale_rows(
            _TileRows(grid, tileset, tiles, read).read,
            (width, height),
            grid.range_bbox(tiles),
            query.bbox,
            query.size,
            resampling,
        )
    mosaic = _mosaic(grid, tileset, tiles, read)
    return warp(
        GeoImage(mosaic, grid.range_bbox(tiles), grid.srs),
        query.bbox,
        query.srs,
        query.size,
        resampling,
    )


def _mosaic(
    grid: Grid, tileset: TileSet, tiles: TileRange, read: TileReader
) -> Image.Image:
    """The tiles of the range side by side, rows from the top: RGB when every tile is opaque
    (the common case, and half the work for the warp), else RGBA."""
    tw, th = grid.tile_size
    cols, rows = tiles.x1 - tiles.x0 + 1, tiles.y1 - tiles.y0 + 1
    mosaic = Image.new("RGB", (cols * tw, rows * th))
    # Each tile is pasted as it is decoded: holding all of them (up to max_tile_limit) first
    # would add their size again to the request's memory.
    for coord in tiles:
        tile = imaging.decode(read(get_tile(coord, tileset)), (tw, th))
        if mosaic.mode == "RGB" and imaging.has_transparency(tile):
            mosaic = mosaic.convert("RGBA")
        col = coord.x - tiles.x0
        row = tiles.y1 - coord.y if grid.origin == "ll" else coord.y - tiles.y0
        mosaic.paste(tile.convert(mosaic.mode), (col * tw, row * th))
    return mosaic


def _create_meta_tiles(tileset: TileSet, tiles: TileRange) -> None:
    """Make the meta-tiles a map needs `concurrent_tile_creators` at a time (the runner's
    bound), one tile of each; the mosaic then finds them all stored."""
    if tileset.disable_storage:
        return  # nothing would be found stored: each tile is made as it is read
    firsts: dict[str, TileCoord] = {}
    for coord in tiles:
        firsts.setdefault(tileset.lock_name(coord), coord)
    if len(firsts) > 1:
        tileset.runner.map(
            [functools.partial(get_tile, c, tileset) for c in firsts.values()]
        )


@attrs.define
class _TileRows:
    """The mosaic of a tile range, read by rows of pixels: the rows of tiles that hold them are
    decoded once, and dropped when reading has gone past them."""

    grid: Grid
    tileset: TileSet
    tiles: TileRange
    read_tile: TileReader
    strips: dict[int, Image.Image] = attrs.Factory(dict)

    def read(self, first: int, end: int) -> tuple[Image.Image, int]:
        th = self.grid.tile_size[1]
        rows = range(first // th, (end - 1) // th + 1)
        self.strips = {r: s for r, s in self.strips.items() if r in rows}
        for r in rows:
            if r not in self.strips:
                self.strips[r] = self._strip(r)
        if len(rows) == 1:
            return self.strips[rows[0]], rows[0] * th
        mode = "RGBA" if any(s.mode == "RGBA" for s in self.strips.values()) else "RGB"
        image = Image.new(mode, (self.strips[rows[0]].width, len(rows) * th))
        for i, r in enumerate(rows):
            image.paste(self.strips[r].convert(mode), (0, i * th))
        return image, rows[0] * th

    def _strip(self, row: int) -> Image.Image:
        """Pixel row `row` of tiles (counted from the top of the range)."""
        tiles, grid = self.tiles, self.grid
        y = tiles.y1 - row if grid.origin == "ll" else tiles.y0 + row
        one_row = TileRange(tiles.x0, y, tiles.x1, y, tiles.z)
        return _mosaic(grid, self.tileset, one_row, self.read_tile)


def _blank(size: tuple[int, int]) -> Image.Image:
    """A transparent map, made only when it is the answer (a 4000x4000 one is 64 MB)."""
    return Image.new("RGBA", size, (0, 0, 0, 0))
