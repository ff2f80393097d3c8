"""A cache as the source of another cache: its tiles drawn into any bbox, size and SRS."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from domain.bbox import Bbox
from domain.cache_source import CacheSource
from domain.errors import RequestError
from domain.ports import MapQuery
from domain.srs import srs
from tests.unit.fakes import CountingSource, InMemoryTileCache
from tests.unit.test_render import read, tileset

GEODETIC = srs("EPSG:4326")


def pixels(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGBA")


def test_a_query_in_another_srs_is_drawn_from_the_lower_cache_which_stores_its_tiles() -> (
    None
):
    lower = CountingSource(color=(10, 200, 30, 255))
    tiles = tileset(lower)  # GLOBAL_WEBMERCATOR
    source = CacheSource((tiles,), read)

    result = source.get_map(MapQuery(Bbox(0, 0, 45, 45), (256, 256), GEODETIC))

    assert result.format == "image/png"
    image = pixels(result.data)
    assert image.size == (256, 256)
    assert image.getpixel((128, 128)) == (10, 200, 30, 255)
    # Every tile the lower cache made was asked in its own grid's SRS and stored.
    assert lower.queries
    assert {q.srs.code for q in lower.queries} == {"EPSG:3857"}
    assert isinstance(tiles.cache, InMemoryTileCache)
    assert tiles.cache.stores == len(lower.queries)

    source.get_map(MapQuery(Bbox(0, 0, 45, 45), (256, 256), GEODETIC))
    assert tiles.cache.stores == len(lower.queries)  # the second map is all cache hits


def test_the_answer_is_encoded_in_the_query_format() -> None:
    source = CacheSource((tileset(CountingSource()),), read)
    result = source.get_map(
        MapQuery(Bbox(0, 0, 45, 45), (64, 64), GEODETIC, "image/jpeg")
    )
    assert result.format == "image/jpeg"
    assert Image.open(io.BytesIO(result.data)).format == "JPEG"


def test_outside_the_lower_grid_is_transparent() -> None:
    lower = CountingSource()
    source = CacheSource((tileset(lower),), read)
    # Beyond 85.06° north, where the web mercator grid ends.
    result = source.get_map(MapQuery(Bbox(0, 86, 2, 88), (64, 64), GEODETIC))
    assert pixels(result.data).getchannel("A").getextrema() == (0, 0)
    assert lower.queries == []


def test_max_tiles_bounds_what_one_request_may_create() -> None:
    lower = CountingSource()
    source = CacheSource((tileset(lower),), read, max_tiles=3)
    with pytest.raises(RequestError, match="max_tile_limit 3"):
        source.get_map(MapQuery(Bbox(-180, -80, 180, 80), (2048, 1024), GEODETIC))
    assert lower.queries == []
