"""The use case "get a tile": from the cache, or made once from the sources under a lock."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

import attrs
from PIL import Image

from domain import imaging
from domain.band_merge import BandMerge
from domain.errors import OutsideGridError, StoreError
from domain.fonts import BUILTIN, TextFont
from domain.formats import ImageFormat
from domain.grid import Grid, TileCoord, TileRange
from domain.locking import create_once
from domain.metatile import MetaGrid, MetaTile
from domain.ports import (
    Clock,
    EncodedTile,
    Locker,
    MapQuery,
    MapSource,
    SerialRunner,
    SourceImage,
    StoredTile,
    TaskRunner,
    TileCache,
)
from domain.rescale import Rescale, rescaled_image
from domain.watermark import WatermarkConf, draw_watermark


@attrs.frozen
class TileSet:
    """One cache in one grid, with everything needed to fill it (MapProxy's tile manager)."""

    name: str
    grid: Grid
    cache: TileCache
    sources: tuple[MapSource, ...]
    format: ImageFormat
    request_format: ImageFormat
    locker: Locker
    clock: Clock
    meta_size: tuple[int, int] = (4, 4)
    meta_buffer: int = 80
    minimize_meta_requests: bool = False
    disable_storage: bool = False
    link_single_color_images: bool = False
    lock_timeout: float = 60.0
    encode_options: imaging.EncodeOptions = attrs.field(factory=imaging.EncodeOptions)
    watermark: WatermarkConf | None = None
    watermark_font: TextFont = BUILTIN
    # Each source's `image.opacity` (None: opaque as it comes), applied where sources merge.
    source_opacity: tuple[float | None, ...] = ()
    # Band merging: the sources' images combined channel by channel instead of stacked.
    band_merge: BandMerge | None = None
    # `refresh_before`: the moment (asked on each request) before which stored tiles are
    # old and made again.
    refresh_before: Callable[[], float] | None = None
    # `upscale_tiles`/`downscale_tiles`: missing tiles drawn from other levels' tiles.
    rescale: Rescale | None = None
    # `bulk_meta_tiles`: sources without meta-tiles are asked for every tile of a meta-tile
    # at once, tile by tile, `runner` running up to `concurrent_tile_creators` at a time.
    bulk_meta_tiles: bool = False
    runner: TaskRunner = attrs.field(factory=SerialRunner)
    meta_grid: MetaGrid = attrs.field(init=False)

    @meta_grid.default
    def _meta_grid(self) -> MetaGrid:
        if not self.tiled_sources:
            return MetaGrid(self.grid, self.meta_size, self.meta_buffer)
        if self.bulk_meta_tiles:
            return MetaGrid(self.grid, self.meta_size, 0)
        return MetaGrid(self.grid, (1, 1), 0)

    @property
    def tiled_sources(self) -> bool:
        """True if a source is asked for single tiles only (a tile source)."""
        return not all(s.supports_meta_tiles for s in self.sources)

    def is_fresh(self, tile: StoredTile | None) -> StoredTile | None:
        """tile, unless there is none or it was stored before `refresh_before`."""
        if tile is None or self.refresh_before is None:
            return tile
        return None if tile.mtime < self.refresh_before() else tile

    def lock_name(self, coord: TileCoord) -> str:
        """The lock under which the meta-tile of coord is made (by a request or the seeder)."""
        return f"{self.name}-{self.meta_grid.lock_name(coord)}"


def get_tile(coord: TileCoord, tiles: TileSet) -> StoredTile:
    """The tile at coord: a cache hit as stored, or a new tile made from the sources."""
    if not tiles.grid.contains(coord):
        raise OutsideGridError(
            f"tile {coord.z}/{coord.x}/{coord.y} is outside grid {tiles.grid.name!r}"
        )
    if tiles.disable_storage:
        return _as_stored(_render(coord, tiles), tiles)[coord]
    if (hit := tiles.is_fresh(tiles.cache.load(coord))) is not None:
        return hit
    if tiles.rescale is not None and coord.z in tiles.rescale.levels:
        return _rescaled(coord, tiles, tiles.rescale)
    return create_once(
        tiles.lock_name(coord),
        find=lambda: tiles.is_fresh(tiles.cache.load(coord)),
        create=lambda: _create(coord, tiles),
        locker=tiles.locker,
        timeout=tiles.lock_timeout,
        clock=tiles.clock,
    )


def _create(coord: TileCoord, tiles: TileSet) -> StoredTile:
    made = _render(coord, tiles)
    for tile in storable(made, tiles):
        try:
            tiles.cache.store(tile)
        except StoreError:
            # Disk full, say: the client still gets the tile it asked for, only it is not
            # kept. The cache has reported why (at most once in a while, not per request).
            continue
    return _as_stored(made, tiles)[coord]


def _rescaled(coord: TileCoord, tiles: TileSet, rescale: Rescale) -> StoredTile:
    image = rescaled_image(coord, tiles.grid, tiles.cache, rescale)
    if image is None:
        # As MapProxy: nothing within reach is a transparent tile, never stored.
        blank = Image.new("RGBA", tiles.grid.tile_size, (255, 255, 255, 0))
        return _as_stored([_encode(coord, blank, tiles)], tiles)[coord]
    tile = _encode(coord, image, tiles)
    if rescale.store:
        with contextlib.suppress(StoreError):
            tiles.cache.store(tile)
    return _as_stored([tile], tiles)[coord]


def _as_stored(made: list[EncodedTile], tiles: TileSet) -> dict[TileCoord, StoredTile]:
    now = tiles.clock()
    return {t.coord: StoredTile(t.coord, now, len(t.data), data=t.data) for t in made}


def _render(coord: TileCoord, tiles: TileSet) -> list[EncodedTile]:
    meta_grid = tiles.meta_grid
    if tiles.minimize_meta_requests:
        meta = meta_grid.for_tiles(
            TileRange(coord.x, coord.y, coord.x, coord.y, coord.z)
        )
    else:
        meta = meta_grid.meta_tile(coord)
    return render_meta_tile(meta, tiles)


def render_meta_tile(meta: MetaTile, tiles: TileSet) -> list[EncodedTile]:
    """Every tile of `meta`, encoded, from one request per source; nothing is stored."""
    if tiles.tiled_sources and meta.tiles.count > 1:
        # bulk_meta_tiles: each tile of the meta-tile is asked for on its own.
        singles = [
            tiles.meta_grid.for_tiles(TileRange(c.x, c.y, c.x, c.y, c.z))
            for c in meta.tiles
        ]
        made = tiles.runner.map(
            [functools.partial(render_meta_tile, m, tiles) for m in singles]
        )
        return [tile for one in made for tile in one]
    if not tiles.sources:
        # A cache without sources (`sources: []`, filled by others): a tile it lacks is
        # blank and not stored, as MapProxy answers it.
        blank = Image.new("RGBA", tiles.grid.tile_size, (0, 0, 0, 0))
        return [
            attrs.evolve(_encode(c, blank, tiles), cacheable=False) for c in meta.tiles
        ]
    query = MapQuery(
        meta.buffered_bbox, meta.size, tiles.grid.srs, tiles.request_format.mime
    )
    results = [source.get_map(query) for source in tiles.sources]
    return [_marked(tile, results) for tile in _made(meta, tiles, results)]


def _made(
    meta: MetaTile, tiles: TileSet, results: list[SourceImage]
) -> list[EncodedTile]:
    # One source, one tile, no buffer, same format: store exactly what the source sent.
    if (
        len(results) == 1
        and meta.tiles.count == 1
        and meta.size == tiles.grid.tile_size
        and tiles.band_merge is None
    ):
        (result,) = results
        coord = next(iter(meta.tiles))
        img = imaging.decode(result.data, meta.size)
        if result.format.split(";")[0] == tiles.format.mime and tiles.watermark is None:
            return [EncodedTile(coord, result.data, _color(img, tiles))]
        return [_encode(coord, img, tiles)]
    images = [imaging.decode(r.data, meta.size) for r in results]
    if tiles.band_merge is not None:
        images = [tiles.band_merge.combine(images)]
    elif len(images) > 1:
        # As MapProxy: a source's opacity fades it over the ones below; a lone source is kept.
        opacities = tiles.source_opacity or (None,) * len(images)
        images = [
            img if opacity is None else imaging.with_opacity(img, opacity)
            for img, opacity in zip(images, opacities, strict=True)
        ]
    image = imaging.merge(images)
    if min(meta.buffer) < 0:
        # Tiles reach beyond the image (and the grid): transparent there, not palette entry 0.
        image = image.convert("RGBA")
    return [_encode(c, _crop(image, meta, c), tiles) for c in meta.tiles]


def _marked(tile: EncodedTile, results: list[SourceImage]) -> EncodedTile:
    """tile, marked as made from a source's `on_error` stand-in where one was used."""
    cacheable = all(r.cacheable for r in results)
    authorize_stale = any(r.authorize_stale for r in results)
    if cacheable and not authorize_stale:
        return tile
    return attrs.evolve(tile, cacheable=cacheable, authorize_stale=authorize_stale)


def storable(made: list[EncodedTile], tiles: TileSet) -> list[EncodedTile]:
    """The tiles made that go into the cache: not `on_error` stand-ins that are not to be
    cached, nor those allowed to leave a tile already stored in place (`authorize_stale`)."""
    return [
        t
        for t in made
        if t.cacheable and not (t.authorize_stale and tiles.cache.load(t.coord))
    ]


def _crop(image: Image.Image, meta: MetaTile, coord: TileCoord) -> Image.Image:
    left, top = meta.tile_offset(coord)
    tw, th = meta.tile_size
    return image.crop((left, top, left + tw, top + th))


def _encode(coord: TileCoord, img: Image.Image, tiles: TileSet) -> EncodedTile:
    if tiles.watermark is not None:
        # Drawn as the tile is made, so it is stored (and served) with the text.
        img = draw_watermark(img, coord, tiles.watermark, tiles.watermark_font)
    return EncodedTile(
        coord,
        imaging.encode(img, tiles.format, tiles.encode_options),
        _color(img, tiles),
    )


def _color(img: Image.Image, tiles: TileSet) -> tuple[int, ...] | None:
    return imaging.single_color(img) if tiles.link_single_color_images else None
