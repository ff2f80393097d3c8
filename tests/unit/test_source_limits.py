"""A source's coverage and resolution range decide whether it is asked at all."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from domain.bbox import Bbox
from domain.coverage import bbox_coverage, polygon_coverage
from domain.ports import MapQuery
from domain.res_range import ResRange
from domain.source_limits import LimitedSource
from domain.srs import srs
from tests.unit.fakes import CountingSource

MERCATOR = srs("EPSG:3857")
GEODETIC = srs("EPSG:4326")


def query(
    bbox: Bbox,
    size: tuple[int, int] = (100, 100),
    fmt: str = "image/png",
    in_srs: str = "EPSG:3857",
) -> MapQuery:
    return MapQuery(bbox, size, srs(in_srs), fmt)


def pixels(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGBA")


def test_query_outside_the_coverage_is_blank_without_a_request() -> None:
    source = CountingSource()
    limited = LimitedSource(
        source, coverage=bbox_coverage(Bbox(0, 0, 10, 10), GEODETIC)
    )
    result = limited.get_map(query(Bbox(-2e6, -2e6, -1e6, -1e6)))
    assert source.queries == []
    assert pixels(result.data).getchannel("A").getextrema() == (0, 0)
    assert pixels(result.data).size == (100, 100)


def test_query_touching_the_coverage_asks_the_source() -> None:
    source = CountingSource()
    limited = LimitedSource(
        source, coverage=bbox_coverage(Bbox(0, 0, 10, 10), GEODETIC)
    )
    limited.get_map(query(Bbox(5e5, 5e5, 1.5e6, 1.5e6)))
    assert len(source.queries) == 1


@pytest.mark.parametrize(
    ("res", "asked"),
    [(200.0, False), (100.0, True), (50.0, True), (10.0, True), (5.0, False)],
)
def test_min_res_and_max_res_are_inclusive_limits_in_metres(
    res: float, asked: bool
) -> None:
    source = CountingSource()
    LimitedSource(source, res_range=ResRange(100, 10)).get_map(
        query(Bbox(0, 0, res * 100, res * 100))
    )
    assert bool(source.queries) is asked


def test_degrees_convert_to_metres_for_resolution_limits() -> None:
    source = CountingSource()
    limited = LimitedSource(source, res_range=ResRange(min_res=100))
    limited.get_map(
        query(Bbox(0, 0, 0.09, 0.09), in_srs="EPSG:4326")
    )  # ~100.2 m per pixel
    assert source.queries == []
    limited.get_map(
        query(Bbox(0, 0, 0.08, 0.08), in_srs="EPSG:4326")
    )  # ~89 m per pixel
    assert len(source.queries) == 1


def test_clip_cuts_the_image_to_the_coverage_shape() -> None:
    triangle = "POLYGON((0 0, 100 0, 0 100, 0 0))"
    limited = LimitedSource(
        CountingSource(color=(255, 0, 0, 255)),
        coverage=polygon_coverage(triangle, MERCATOR, clip=True),
    )
    image = pixels(limited.get_map(query(Bbox(0, 0, 100, 100))).data)
    assert image.getpixel((5, 94)) == (
        255,
        0,
        0,
        255,
    )  # near the lower left corner: inside
    assert (
        image.getchannel("A").getpixel((94, 5)) == 0
    )  # upper right: outside the triangle


def test_blank_jpeg_has_no_alpha() -> None:
    limited = LimitedSource(CountingSource(), res_range=ResRange(min_res=1))
    result = limited.get_map(query(Bbox(0, 0, 1000, 1000), fmt="image/jpeg"))
    assert result.format == "image/jpeg"
    assert Image.open(io.BytesIO(result.data)).mode == "RGB"


def test_seed_only_source_is_never_asked_while_serving() -> None:
    source = CountingSource()
    result = LimitedSource(source, seed_only=True).get_map(query(Bbox(0, 0, 100, 100)))
    assert source.queries == []
    assert pixels(result.data).getchannel("A").getextrema() == (0, 0)
