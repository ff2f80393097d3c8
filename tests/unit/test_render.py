"""Rendering maps from a cache: level choice, tile mosaic, scaling and reprojection."""

from __future__ import annotations

import pytest

from domain.bbox import Bbox
from domain.errors import RequestError
from domain.formats import image_format
from domain.grids import resolve_grids
from domain.ports import MapQuery, SourceImage, StoredTile
from domain.render import render_from_cache
from domain.srs import srs
from domain.tiles import TileSet
from tests.unit.fakes import CountingSource, FixedClock, InMemoryTileCache, ThreadLocker

GRIDS = resolve_grids({})
PNG = image_format("image/png")


def tileset(source: CountingSource, grid: str = "GLOBAL_WEBMERCATOR") -> TileSet:
    return TileSet(
        name="c",
        grid=GRIDS[grid],
        cache=InMemoryTileCache(),
        sources=(source,),
        format=PNG,
        request_format=PNG,
        locker=ThreadLocker(),
        clock=FixedClock(),
        meta_size=(1, 1),
        meta_buffer=0,
    )


def read(tile: StoredTile) -> bytes:
    assert tile.data is not None
    return tile.data


def test_a_map_at_a_tile_resolution_uses_that_level() -> None:
    source = CountingSource(color=(10, 200, 30, 255))
    web = GRIDS["GLOBAL_WEBMERCATOR"]
    # Exactly the four tiles of level 1.
    query = MapQuery(web.bbox, (512, 512), srs("EPSG:3857"))
    image = render_from_cache(query, (tileset(source),), read)
    assert image.size == (512, 512)
    assert image.mode == "RGB"  # every tile opaque: no alpha to carry
    assert image.getpixel((256, 256)) == (10, 200, 30)
    assert len(source.queries) == 4
    assert {q.size for q in source.queries} == {(256, 256)}


def test_the_grid_in_the_requested_srs_is_preferred() -> None:
    mercator, geodetic = CountingSource(), CountingSource()
    sets = (tileset(mercator), tileset(geodetic, "GLOBAL_GEODETIC"))
    render_from_cache(
        MapQuery(Bbox(0, 0, 45, 45), (256, 256), srs("EPSG:4326")), sets, read
    )
    assert mercator.queries == []
    assert geodetic.queries


def test_reprojects_from_the_first_grid_when_none_matches() -> None:
    source = CountingSource(color=(200, 0, 0, 255))
    query = MapQuery(Bbox(5, 45, 15, 55), (300, 200), srs("EPSG:4326"))
    image = render_from_cache(query, (tileset(source),), read)
    assert image.size == (300, 200)
    assert image.convert("RGBA").getpixel((150, 100)) == (200, 0, 0, 255)
    assert all(q.srs == srs("EPSG:3857") for q in source.queries)


def test_outside_the_grid_is_transparent_without_requests() -> None:
    source = CountingSource()
    query = MapQuery(Bbox(-200, -100, -190, -95), (100, 50), srs("EPSG:4326"))
    image = render_from_cache(query, (tileset(source, "GLOBAL_GEODETIC"),), read)
    assert image.getchannel("A").getextrema() == (0, 0)
    assert source.queries == []


def test_too_many_tiles_is_a_client_error_before_any_request() -> None:
    source = CountingSource()
    query = MapQuery(Bbox(-2e7, -2e7, 2e7, 2e7), (4000, 4000), srs("EPSG:3857"))
    with pytest.raises(RequestError, match="max_tile_limit"):
        render_from_cache(query, (tileset(source),), read, max_tiles=50)
    assert source.queries == []


def test_mosaic_places_tiles_where_they_belong() -> None:
    # Tiles whose colour depends on their position: left half red, right half blue.
    class HalfSource(CountingSource):
        def get_map(self, query: MapQuery) -> SourceImage:
            self.color = (255, 0, 0, 255) if query.bbox.minx < 0 else (0, 0, 255, 255)
            return super().get_map(query)

    source = HalfSource()
    query = MapQuery(Bbox(-1e6, -1e6, 1e6, 1e6), (200, 200), srs("EPSG:3857"))
    image = render_from_cache(query, (tileset(source),), read, resampling="nearest")
    assert image.convert("RGBA").getpixel((50, 100)) == (255, 0, 0, 255)
    assert image.convert("RGBA").getpixel((150, 100)) == (0, 0, 255, 255)
