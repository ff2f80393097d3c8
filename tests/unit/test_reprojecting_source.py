"""A source asked for an SRS outside its supported ones: asked in one of them, then warped."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from domain.bbox import Bbox
from domain.errors import SourceError
from domain.ports import MapQuery
from domain.reprojecting_source import ReprojectingSource, request_size
from domain.srs import srs, transform_bbox
from tests.unit.fakes import CountingSource

GEODETIC = srs("EPSG:4326")
MERCATOR = srs("EPSG:3857")
UTM32 = srs("EPSG:25832")


def pixels(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGBA")


def test_a_supported_srs_goes_through_unchanged() -> None:
    inner = CountingSource()
    query = MapQuery(Bbox(0, 0, 10, 10), (64, 32), GEODETIC, "image/jpeg")
    ReprojectingSource(inner, (MERCATOR, GEODETIC)).get_map(query)
    assert inner.queries == [query]


def test_another_srs_is_asked_in_a_supported_one_and_warped_to_the_query() -> None:
    inner = CountingSource(color=(10, 200, 30, 255))
    query = MapQuery(Bbox(0, 0, 2e6, 1e6), (200, 100), MERCATOR)

    result = ReprojectingSource(inner, (GEODETIC,)).get_map(query)

    (asked,) = inner.queries
    assert asked.srs.code == "EPSG:4326"
    expected = transform_bbox(query.bbox, MERCATOR, GEODETIC)
    assert asked.bbox == expected
    # About the query's pixels, both axes at the same resolution.
    width, height = asked.size
    assert abs(width * height - 200 * 100) < 300
    assert width / height == pytest.approx(expected.width / expected.height, rel=0.02)
    image = pixels(result.data)
    assert image.size == (200, 100)
    assert image.getpixel((100, 50)) == (10, 200, 30, 255)


def test_a_supported_srs_of_the_same_kind_is_preferred() -> None:
    inner = CountingSource()
    source = ReprojectingSource(inner, (GEODETIC, UTM32))
    source.get_map(MapQuery(Bbox(0, 5e6, 1e6, 6e6), (64, 64), MERCATOR))
    assert inner.queries[0].srs.code == "EPSG:25832"


def test_the_answer_keeps_the_query_format() -> None:
    inner = CountingSource()
    result = ReprojectingSource(inner, (GEODETIC,)).get_map(
        MapQuery(Bbox(0, 0, 1e6, 1e6), (64, 64), MERCATOR, "image/jpeg")
    )
    assert result.format == "image/jpeg"
    assert inner.queries[0].format == "image/jpeg"
    assert Image.open(io.BytesIO(result.data)).format == "JPEG"


def test_a_failing_source_fails_the_map() -> None:
    source = ReprojectingSource(CountingSource(fail=True), (GEODETIC,))
    with pytest.raises(SourceError, match="upstream answered 500"):
        source.get_map(MapQuery(Bbox(0, 0, 1e6, 1e6), (64, 64), MERCATOR))


@pytest.mark.parametrize(
    ("width", "height"), [(1.0, 1.0), (1.0, 1e9), (1e9, 1.0), (3.0, 2.0)]
)
def test_request_size_stays_about_the_query_pixel_count(
    width: float, height: float
) -> None:
    w, h = request_size(width, height, (256, 256))
    assert w >= 1
    assert h >= 1
    assert w * h <= 256 * 256 + 256 + 256 + 1
