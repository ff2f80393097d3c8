"""Coverages: bbox and polygons in any SRS, combined, tested against tiles."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.bbox import Bbox
from domain.coverage import (
    Coverage,
    bbox_coverage,
    difference,
    intersection,
    polygon_coverage,
    union,
)
from domain.errors import ConfigValueError
from domain.grid import TileCoord
from domain.grids import resolve_grids
from domain.srs import srs, transform_bbox

WGS84, WEB, UTM = srs("EPSG:4326"), srs("EPSG:3857"), srs("EPSG:25832")
WEB_GRID = resolve_grids({})["GLOBAL_WEBMERCATOR"]
# A triangle over Germany, in lon/lat; its hypotenuse runs from (6, 47) to (15, 55).
TRIANGLE_WKT = "POLYGON((6 47, 15 47, 15 55, 6 47))"
TWO_SQUARES_WKT = "POLYGON((5 50, 10 50, 10 55, 5 55, 5 50))\nPOLYGON((20 50, 25 50, 25 55, 20 55, 20 50))\n"


def test_bbox_coverage_like_mapproxy() -> None:
    cov = bbox_coverage(Bbox(5, 50, 10, 55), WGS84)
    assert cov.bbox == Bbox(5, 50, 10, 55)
    assert cov.contains(Bbox(5, 50, 10, 55), WGS84)
    assert not cov.contains(Bbox(5, 50, 10.0001, 55), WGS84)
    assert cov.intersects(Bbox(9, 54, 11, 56), WGS84)
    # touching edges share no area
    assert not cov.intersects(Bbox(10, 50, 11, 51), WGS84)
    assert not cov.intersects(Bbox(20, 50, 21, 51), WGS84)


def test_wkt_lines_make_one_coverage() -> None:
    cov = polygon_coverage(TWO_SQUARES_WKT, WGS84)
    assert cov.bbox == Bbox(5, 50, 25, 55)
    assert cov.intersects(Bbox(6, 51, 7, 52), WGS84)
    assert not cov.intersects(Bbox(12, 51, 13, 52), WGS84)
    assert not cov.contains(Bbox(6, 51, 21, 52), WGS84)


def test_multiline_wkt_and_multipolygon() -> None:
    text = "MULTIPOLYGON(\n((5 50, 10 50, 10 55, 5 55, 5 50)),\n((20 50, 25 50, 25 55, 20 55, 20 50)))"
    assert polygon_coverage(text, WGS84).bbox == Bbox(5, 50, 25, 55)


@pytest.mark.parametrize(
    "doc",
    [
        {
            "type": "Polygon",
            "coordinates": [[[5, 50], [10, 50], [10, 55], [5, 55], [5, 50]]],
        },
        {
            "type": "Feature",
            "properties": {},
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [[[[5, 50], [10, 50], [10, 55], [5, 55], [5, 50]]]],
            },
        },
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[5, 50], [7, 50], [7, 55], [5, 55], [5, 50]]],
                    },
                },
                {"type": "Feature", "geometry": None},
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [[7, 50], [10, 50], [10, 55], [7, 55], [7, 50]]
                        ],
                    },
                },
            ],
        },
    ],
    ids=["polygon", "feature-multipolygon", "feature-collection"],
)
def test_geojson(doc: dict[str, object]) -> None:
    cov = polygon_coverage(json.dumps(doc), WGS84)
    assert cov.bbox == Bbox(5, 50, 10, 55)
    assert cov.contains(Bbox(6, 51, 9, 54), WGS84)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("POLYGON((5 50, 10 50", "invalid WKT"),
        ("POINT(5 50)", "not Point"),
        ('{"type": "LineString", "coordinates": [[0, 0], [1, 1]]}', "not LineString"),
        ('{"type": "Polygon", ', "invalid GeoJSON"),
        ('{"type": "Polygon", "coordinates": "x"}', "invalid GeoJSON"),
        ('{"type": "FeatureCollection", "features": []}', "empty"),
        ("POLYGON((5 50, 10 50, 5 50))", "invalid WKT|empty"),
    ],
)
def test_bad_polygons_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigValueError, match=message):
        polygon_coverage(text, WGS84)


def test_self_intersecting_polygon_is_made_valid() -> None:
    bowtie = polygon_coverage("POLYGON((0 0, 10 10, 10 0, 0 10, 0 0))", WGS84)
    assert bowtie.geom.is_valid
    assert bowtie.intersects(Bbox(1, 4, 2, 6), WGS84)
    assert not bowtie.intersects(Bbox(4, 8, 6, 9), WGS84)


def test_polygon_in_4326_against_tiles_in_3857() -> None:
    cov = polygon_coverage(TRIANGLE_WKT, WGS84)
    z = 8
    inside = outside = 0
    for x in range(130, 142):
        for y in range(80, 92):
            coord = TileCoord(x, y, z)
            tile = WEB_GRID.tile_bbox(coord)
            corners = transform_bbox(tile, WEB, WGS84)
            # the tile in lon/lat (mercator tiles are lon/lat rectangles) against the triangle
            above_hypotenuse = (corners.miny - 47) > (corners.maxx - 6) * 8 / 9
            below_hypotenuse = (corners.maxy - 47) < (corners.minx - 6) * 8 / 9
            in_box = (
                corners.minx >= 6
                and corners.maxx <= 15
                and corners.miny >= 47
                and corners.maxy <= 55
            )
            apart = (
                corners.maxx <= 6
                or corners.minx >= 15
                or corners.maxy <= 47
                or corners.miny >= 55
            )
            if apart or above_hypotenuse:
                assert not cov.intersects(tile, WEB), coord
                outside += 1
            elif in_box and below_hypotenuse:
                assert cov.contains(tile, WEB), coord
                assert cov.intersects(tile, WEB), coord
                inside += 1
    assert inside > 10
    assert outside > 10


def test_reprojected_edges_are_densified() -> None:
    # A long east-west edge at latitude 60 stays on latitude 60: in mercator it is a straight
    # line, but in UTM it bows; a point just inside the middle of the edge must stay inside.
    cov = bbox_coverage(Bbox(0, 50, 24, 60), WGS84)
    moved = cov.transformed(UTM)
    assert len(moved.geom.exterior.coords) > 20  # type: ignore[attr-defined]
    mid = transform_bbox(Bbox(11.9, 59.9, 12.1, 59.95), WGS84, UTM)
    assert cov.contains(mid, UTM)
    assert cov.transformed(UTM) is moved


def test_world_coverage_in_4326_reaches_the_mercator_corners() -> None:
    cov = bbox_coverage(Bbox(-180, -90, 180, 90), WGS84)
    web = cov.transformed(WEB)
    assert web.bbox.minx == pytest.approx(-20037508.342789244)
    assert web.bbox.maxy == pytest.approx(20037508.342789244, rel=1e-3)
    assert cov.intersects(WEB_GRID.tile_bbox(TileCoord(0, 0, 1)), WEB)
    assert cov.contains(WEB_GRID.tile_bbox(TileCoord(3, 3, 3)), WEB)


def test_union_intersection_difference_like_mapproxy() -> None:
    a = bbox_coverage(Bbox(0, 6000000, 1000000, 7000000), WEB)
    b = bbox_coverage(Bbox(5, 50, 10, 55), WGS84)
    both = union([a, b])
    assert both.srs == WEB
    assert both.bbox.as_tuple() == pytest.approx(
        (0.0, 6000000.0, 1113194.9079327357, 7361866.113051188)
    )
    common = intersection([a, b])
    assert common.bbox.as_tuple() == pytest.approx(
        (556597.4539663679, 6446275.841017161, 1000000.0, 7000000.0)
    )
    holed = difference([bbox_coverage(Bbox(0, 40, 20, 60), WGS84), b])
    assert holed.bbox == Bbox(0, 40, 20, 60)
    assert holed.contains(Bbox(1, 41, 2, 42), WGS84)
    assert not holed.contains(Bbox(6, 51, 7, 52), WGS84)
    assert not holed.intersects(Bbox(6, 51, 7, 52), WGS84)
    assert holed.intersects(Bbox(4, 51, 7, 52), WGS84)
    with pytest.raises(ConfigValueError, match="empty"):
        intersection([b, bbox_coverage(Bbox(20, 50, 21, 51), WGS84)])
    with pytest.raises(ConfigValueError, match="empty"):
        difference([b, bbox_coverage(Bbox(0, 0, 30, 60), WGS84)])


def test_coverages_are_values() -> None:
    a = polygon_coverage(TRIANGLE_WKT, WGS84)
    b = polygon_coverage(TRIANGLE_WKT, WGS84)
    assert a == b
    assert hash(a) == hash(b)
    assert a != polygon_coverage(TRIANGLE_WKT, WGS84, clip=True)
    assert isinstance(a.transformed(WEB), Coverage)


@given(
    st.floats(-170, 160), st.floats(-80, 70), st.floats(0.01, 10), st.floats(0.01, 10)
)
@settings(max_examples=40, deadline=None)
def test_a_bbox_coverage_contains_and_intersects_its_own_tiles(
    x: float, y: float, w: float, h: float
) -> None:
    area = Bbox(x, y, x + w, y + h)
    cov = bbox_coverage(area, WGS84)
    assert cov.contains(area, WGS84)
    assert cov.intersects(area, WGS84)
    inner = Bbox(x + w / 4, y + h / 4, x + w / 2, y + h / 2)
    web_inner = transform_bbox(inner, WGS84, WEB)
    assert cov.contains(web_inner, WEB)
    assert cov.intersects(web_inner, WEB)
