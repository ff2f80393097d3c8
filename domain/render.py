"""The use case "render a map from a cache": pick a grid and level, mosaic the tiles, warp.

A WMS request asks for any bbox, size and SRS; a cache has tiles in fixed grids. We use the
cache's grid in the requested SRS if there is one (else its first grid, reprojecting), the level
`Grid.level_for_res` picks for the resolution, fetch (or create) the tiles that cover the bbox,
and warp their mosaic into the requested image.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image

from domain import imaging
from domain.errors import RequestError
from domain.grid import Grid, TileRange
from domain.ports import MapQuery, StoredTile
from domain.srs import same_srs, transform_bbox
from domain.tiles import TileSet, get_tile
from domain.warp import GeoImage, Resampling, warp

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
    blank = Image.new("RGBA", query.size, (0, 0, 0, 0))
    try:
        wanted = transform_bbox(query.bbox, query.srs, grid.srs)
    except ValueError:
        return blank  # nowhere in the grid's SRS
    area = wanted.intersection(grid.bbox)
    if area is None:
        return blank
    res = min(wanted.width / query.size[0], wanted.height / query.size[1])
    if res > grid.res[0] * grid.max_shrink_factor:
        return blank  # as MapProxy: far coarser than the coarsest level
    z = grid.level_for_res(res)
    tiles = grid.tiles_for_bbox(area, z)
    if tiles is None:
        return blank
    if tiles.count > max_tiles:
        raise RequestError(
            f"the map needs {tiles.count} tiles, more than max_tile_limit {max_tiles}"
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
    decoded = [
        (coord, imaging.decode(read(get_tile(coord, tileset)), (tw, th)))
        for coord in tiles
    ]
    mode = "RGBA" if any(imaging.has_transparency(t) for _, t in decoded) else "RGB"
    mosaic = Image.new(mode, (cols * tw, rows * th))
    for coord, tile in decoded:
        col = coord.x - tiles.x0
        row = tiles.y1 - coord.y if grid.origin == "ll" else coord.y - tiles.y0
        mosaic.paste(tile.convert(mode), (col * tw, row * th))
    return mosaic
