"""Rendering WMS maps: sources in order, SRS choice for direct sources, errors, background."""

from __future__ import annotations

import pytest
from PIL import Image

from domain.bbox import Bbox
from domain.coverage import bbox_coverage
from domain.errors import RequestError, SourceError
from domain.grids import resolve_grids
from domain.ports import MapQuery, StoredTile
from domain.reprojecting_source import request_srs
from domain.source_limits import LimitedSource
from domain.srs import srs
from domain.wms_map import (
    CachedSource,
    DirectSource,
    MapLayer,
    MapOptions,
    extent,
    extent_bbox,
    finish,
    parse_color,
    render_map,
)
from tests.unit.fakes import CountingSource
from tests.unit.test_render import tileset

MERCATOR = srs("EPSG:3857")
GEODETIC = srs("EPSG:4326")
QUERY = MapQuery(Bbox(0, 0, 1e6, 1e6), (64, 64), MERCATOR)


def read(tile: StoredTile) -> bytes:
    assert tile.data is not None
    return tile.data


def layer(
    *sources: CountingSource, supported: tuple[str, ...] | None = None
) -> MapLayer:
    srs_list = tuple(srs(c) for c in supported) if supported else None
    return MapLayer("l", tuple(DirectSource(s, srs_list) for s in sources))


def test_later_layers_are_drawn_over_earlier_ones_with_their_transparency() -> None:
    bottom = CountingSource(color=(255, 0, 0, 255))
    half = CountingSource(color=(0, 0, 255, 128))
    image = render_map(QUERY, (layer(bottom), layer(half)), read)
    red, green, blue, alpha = image.getpixel((10, 10))  # type: ignore[misc]
    assert alpha == 255
    assert red in range(125, 130)
    assert blue in range(126, 131)
    assert green == 0


def test_a_source_serving_the_srs_is_asked_for_the_query_itself() -> None:
    source = CountingSource()
    render_map(QUERY, (layer(source, supported=("EPSG:3857",)),), read)
    assert source.queries == [QUERY]


def test_a_source_not_serving_the_srs_is_asked_in_one_it_serves_and_warped() -> None:
    source = CountingSource(color=(1, 2, 3, 255))
    query = MapQuery(Bbox(0, 0, 10, 10), (64, 64), GEODETIC)
    image = render_map(query, (layer(source, supported=("EPSG:3857",)),), read)
    (asked,) = source.queries
    assert asked.srs == MERCATOR
    assert asked.bbox.maxx == pytest.approx(1113194.9, rel=1e-6)
    assert image.size == (64, 64)
    assert image.getpixel((32, 32)) == (1, 2, 3, 255)


def test_request_srs_prefers_a_served_srs_of_the_same_kind() -> None:
    served = (srs("EPSG:25832"), srs("EPSG:4258"))
    assert request_srs(GEODETIC, served) == srs("EPSG:4258")
    assert request_srs(MERCATOR, served) == srs("EPSG:25832")
    assert request_srs(MERCATOR, None) == MERCATOR


def test_cached_layers_render_from_their_tiles() -> None:
    source = CountingSource(color=(9, 8, 7, 255))
    web = resolve_grids({})["GLOBAL_WEBMERCATOR"]
    query = MapQuery(web.bbox, (256, 256), MERCATOR)
    image = render_map(
        query, (MapLayer("c", (CachedSource((tileset(source),)),)),), read
    )
    assert image.convert("RGBA").getpixel((128, 128)) == (9, 8, 7, 255)
    assert len(source.queries) == 1


def test_raise_fails_the_map_on_any_source_error() -> None:
    with pytest.raises(SourceError):
        render_map(
            QUERY,
            (layer(CountingSource()), layer(CountingSource(fail=True))),
            read,
            MapOptions(on_source_errors="raise"),
        )


def test_notify_draws_the_error_unless_every_source_failed() -> None:
    good = CountingSource(color=(255, 255, 255, 255))
    image = render_map(QUERY, (layer(good), layer(CountingSource(fail=True))), read)
    assert len(image.getcolors(64 * 64) or []) > 1  # text drawn over the white map
    with pytest.raises(SourceError):
        render_map(QUERY, (layer(CountingSource(fail=True)),), read)


def test_an_undecodable_answer_is_a_source_error() -> None:
    with pytest.raises(SourceError):
        render_map(QUERY, (layer(CountingSource(answer=b"not an image")),), read)


def test_finish_puts_an_opaque_background_unless_transparent() -> None:
    clear = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert finish(clear, False, "0x102030").getpixel((0, 0)) == (16, 32, 48)
    assert finish(clear, True, "0x102030").getpixel((0, 0)) == (0, 0, 0, 0)


@pytest.mark.parametrize("value", ["red", "0x12345", "0xGGGGGG", ""])
def test_bad_colours_are_request_errors(value: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_color(value)
    assert info.value.param == "bgcolor"


def test_extent_is_the_cache_grid_or_the_source_coverage_or_the_world() -> None:
    cached = extent((CachedSource((tileset(CountingSource()),)),))
    box = extent_bbox(cached, GEODETIC)
    assert box is not None
    assert box.maxy == pytest.approx(85.0511, abs=1e-3)
    covered = LimitedSource(
        CountingSource(), coverage=bbox_coverage(Bbox(5, 45, 15, 55), GEODETIC)
    )
    assert extent((DirectSource(covered),)).bbox == Bbox(5, 45, 15, 55)
    world = extent((DirectSource(CountingSource()),))
    assert world.bbox == Bbox(-180, -90, 180, 90)
    # The world in web mercator: cut at its latitude limit, not infinite.
    merc = extent_bbox(world, MERCATOR)
    assert merc is not None
    assert merc.maxy == pytest.approx(20037508.34, rel=1e-3)
