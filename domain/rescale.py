"""Missing tiles made from stored tiles of other levels (`upscale_tiles`, `downscale_tiles`).

As MapProxy documents it: only where no source can make the tile (the cache has no sources, or
every source is `seed_only` or limited to other resolutions), a missing tile is drawn from the
tiles already stored up to `upscale` levels coarser or `downscale` levels finer; none found is
a transparent tile. We look at the nearest levels first and, at the same distance, at the finer
level first (its data is the sharper one). A level is used when it holds at least one of the
tiles covering the wanted one; its missing tiles are transparent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs
from PIL import Image

from domain import imaging
from domain.grid import Grid, TileCoord
from domain.ports import MapQuery, MapSource, StoredTile, TileCache
from domain.reprojecting_source import ReprojectingSource
from domain.source_limits import LimitedSource
from domain.warp import GeoImage, Resampling, warp

TileReader = Callable[[StoredTile], bytes]


@attrs.frozen
class Rescale:
    """A cache's rescaling options; `levels` are those where no source makes tiles."""

    levels: frozenset[int]
    read: TileReader
    upscale: int = 0
    downscale: int = 0
    # `cache_rescaled_tiles`: keep what was rescaled (else it is redrawn on each request).
    store: bool = False
    resampling: Resampling = "bicubic"

    def other_levels(self, z: int, num_levels: int) -> Iterator[int]:
        """The levels a tile of level z may be drawn from, nearest (and finer) first."""
        for d in range(1, max(self.upscale, self.downscale) + 1):
            if d <= self.downscale and z + d < num_levels:
                yield z + d
            if d <= self.upscale and z - d >= 0:
                yield z - d


def sourceless_levels(grid: Grid, sources: tuple[MapSource, ...]) -> frozenset[int]:
    """The levels of grid at which none of sources would be asked for a tile."""
    return frozenset(
        z
        for z in range(grid.num_levels)
        if not any(_asked(s, _tile_query(grid, z)) for s in sources)
    )


def _tile_query(grid: Grid, z: int) -> MapQuery:
    coord = TileCoord(0, 0, z)
    return MapQuery(grid.tile_bbox(coord), grid.tile_size, grid.srs)


def _asked(source: MapSource, query: MapQuery) -> bool:
    if isinstance(source, ReprojectingSource):
        return _asked(source.source, query)
    if isinstance(source, LimitedSource):
        if source.seed_only:
            return False
        limits = source.res_range
        return limits is None or limits.contains(query.bbox, query.size, query.srs)
    return True


def rescaled_image(
    coord: TileCoord, grid: Grid, cache: TileCache, rescale: Rescale
) -> Image.Image | None:
    """The tile at coord drawn from stored tiles of the nearest level that has any, or None."""
    bbox = grid.tile_bbox(coord)
    for z in rescale.other_levels(coord.z, grid.num_levels):
        tiles = grid.tiles_for_bbox(bbox, z)
        if tiles is None:
            continue
        stored = [(c, t) for c in tiles if (t := cache.load(c)) is not None]
        if not stored:
            continue
        tw, th = grid.tile_size
        cols, rows = tiles.x1 - tiles.x0 + 1, tiles.y1 - tiles.y0 + 1
        mosaic = Image.new("RGBA", (cols * tw, rows * th), (0, 0, 0, 0))
        for c, tile in stored:
            image = imaging.decode(rescale.read(tile), (tw, th)).convert("RGBA")
            row = tiles.y1 - c.y if grid.origin == "ll" else c.y - tiles.y0
            mosaic.paste(image, ((c.x - tiles.x0) * tw, row * th))
        if len(stored) == tiles.count and not imaging.has_transparency(mosaic):
            mosaic = mosaic.convert("RGB")
        return warp(
            GeoImage(mosaic, grid.range_bbox(tiles), grid.srs),
            bbox,
            grid.srs,
            grid.tile_size,
            rescale.resampling,
        )
    return None
