"""The geojson source renders the shipped Natural Earth countries for real, in several SRS."""

from __future__ import annotations

import io
import json
from importlib import resources

import pytest
from PIL import Image

from adapters.geojson_source import GeoJSONSource
from domain.bbox import Bbox
from domain.config import GeoJSONSourceConf
from domain.errors import ConfigValueError
from domain.ports import MapQuery
from domain.srs import SRS, srs, transform_points

FILL = (216, 208, 184)  # GeoJSONSourceConf's default fill, #d8d0b8
SEA = (166, 200, 224)  # its default background, #a6c8e0
WEB_MERCATOR_MAX = 20037508.342789244
CENTRAL_AFRICA = (22.0, -2.0)  # the middle of the Congo basin
MID_PACIFIC = (-150.0, 0.0)
LESOTHO = (28.25, -29.6)  # a country in a hole of South Africa


def demo_text() -> str:
    return (
        resources.files("entrypoints") / "demo_data" / "countries.geojson"
    ).read_text("utf-8")


@pytest.fixture(scope="module")
def countries() -> GeoJSONSource:
    return GeoJSONSource(GeoJSONSourceConf(file="countries.geojson"), demo_text())


@pytest.fixture(scope="module")
def transparent_countries() -> GeoJSONSource:
    return GeoJSONSource(
        GeoJSONSourceConf(file="countries.geojson", transparent=True), demo_text()
    )


def render(source: GeoJSONSource, query: MapQuery) -> Image.Image:
    result = source.get_map(query)
    assert result.format == query.format
    return Image.open(io.BytesIO(result.data))


def pixel_of(lonlat: tuple[float, float], query: MapQuery) -> tuple[int, int]:
    ((x, y),) = transform_points([lonlat], srs("EPSG:4326"), query.srs)
    bbox, (width, height) = query.bbox, query.size
    return int((x - bbox.minx) / bbox.width * width), int(
        (bbox.maxy - y) / bbox.height * height
    )


def rgb_at(
    img: Image.Image, lonlat: tuple[float, float], query: MapQuery
) -> tuple[int, ...]:
    return tuple(img.convert("RGB").getpixel(pixel_of(lonlat, query)))  # type: ignore[arg-type]


def world_3857(size: int = 512, fmt: str = "image/png") -> MapQuery:
    m = WEB_MERCATOR_MAX
    return MapQuery(Bbox(-m, -m, m, m), (size, size), srs("EPSG:3857"), fmt)


def test_shipped_file_has_the_named_countries_of_the_world() -> None:
    doc = json.loads(demo_text())
    names = [f["properties"]["name"] for f in doc["features"]]
    assert doc["type"] == "FeatureCollection"
    assert len(names) > 150
    assert len(set(names)) == len(names)
    assert {"Germany", "Brazil", "Australia", "Lesotho", "Antarctica"} <= set(names)
    assert all(f["properties"].keys() == {"name"} for f in doc["features"])
    assert all(
        f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in doc["features"]
    )


def test_world_in_web_mercator_has_land_and_sea(countries: GeoJSONSource) -> None:
    query = world_3857()
    img = render(countries, query)
    assert rgb_at(img, CENTRAL_AFRICA, query) == FILL
    assert rgb_at(img, MID_PACIFIC, query) == SEA


def test_epsg_900913_renders_like_3857(countries: GeoJSONSource) -> None:
    query = world_3857()
    old = MapQuery(query.bbox, query.size, SRS("EPSG:900913"))
    assert countries.get_map(old).data == countries.get_map(query).data


def test_world_in_geographic_coordinates_has_land_and_sea(
    countries: GeoJSONSource,
) -> None:
    query = MapQuery(Bbox(-180, -90, 180, 90), (720, 360), srs("EPSG:4326"))
    img = render(countries, query)
    assert img.size == (720, 360)
    assert rgb_at(img, CENTRAL_AFRICA, query) == FILL
    assert rgb_at(img, MID_PACIFIC, query) == SEA


def test_projected_srs_outside_web_mercator_renders(countries: GeoJSONSource) -> None:
    query = MapQuery(
        Bbox(0, 5_000_000, 1_000_000, 6_200_000), (500, 600), srs("EPSG:25832")
    )
    img = render(countries, query)
    assert rgb_at(img, (10.0, 51.0), query) == FILL  # Germany
    assert rgb_at(img, (4.0, 55.0), query) == SEA  # North Sea


def test_transverse_mercator_does_not_fold_the_far_side_of_the_globe_over_the_map(
    countries: GeoJSONSource,
) -> None:
    query = MapQuery(
        Bbox(-10_000_000, -10_000_000, 10_000_000, 10_000_000),
        (400, 400),
        srs("EPSG:25832"),
    )
    img = render(countries, query)
    assert rgb_at(img, (-30.0, 45.0), query) == SEA  # mid Atlantic


def test_country_inside_a_hole_of_another_is_filled(countries: GeoJSONSource) -> None:
    query = MapQuery(Bbox(26, -31, 30, -28), (400, 300), srs("EPSG:4326"))
    img = render(countries, query)
    assert rgb_at(img, LESOTHO, query) == FILL
    assert rgb_at(img, (26.5, -30.5), query) == FILL  # South Africa around it


def test_tiny_bbox_over_the_ocean_draws_nothing(countries: GeoJSONSource) -> None:
    ((x, y),) = transform_points([MID_PACIFIC], srs("EPSG:4326"), srs("EPSG:3857"))
    query = MapQuery(Bbox(x, y, x + 1000, y + 1000), (256, 256), srs("EPSG:3857"))
    img = render(countries, query).convert("RGB")
    assert img.getcolors(1) == [(256 * 256, SEA)]


def test_tiny_bbox_inside_a_country_is_all_land(countries: GeoJSONSource) -> None:
    ((x, y),) = transform_points([CENTRAL_AFRICA], srs("EPSG:4326"), srs("EPSG:3857"))
    query = MapQuery(Bbox(x, y, x + 150, y + 150), (256, 256), srs("EPSG:3857"))
    img = render(countries, query).convert("RGB")
    assert img.getcolors(1) == [(256 * 256, FILL)]


@pytest.mark.parametrize(
    ("fmt", "pil_format"),
    [("image/png", "PNG"), ("image/jpeg", "JPEG"), ("png", "PNG")],
)
def test_output_has_the_size_and_format_of_the_query(
    countries: GeoJSONSource, fmt: str, pil_format: str
) -> None:
    query = MapQuery(Bbox(-20, 30, 40, 60), (300, 200), srs("EPSG:4326"), fmt)
    img = render(countries, query)
    assert img.size == (300, 200)
    assert img.format == pil_format


def test_transparent_source_leaves_the_sea_clear(
    transparent_countries: GeoJSONSource,
) -> None:
    query = world_3857()
    img = render(transparent_countries, query).convert("RGBA")
    assert transparent_countries.transparent
    assert img.getpixel(pixel_of(MID_PACIFIC, query))[3] == 0  # type: ignore[index]
    assert img.getpixel(pixel_of(CENTRAL_AFRICA, query)) == (*FILL, 255)


def test_source_supports_meta_tiles(countries: GeoJSONSource) -> None:
    assert countries.supports_meta_tiles
    assert not countries.transparent


def test_colours_come_from_the_configuration() -> None:
    conf = GeoJSONSourceConf(file="x.geojson", fill="#ff0000", background="white")
    source = GeoJSONSource(conf, demo_text())
    query = world_3857(256)
    img = render(source, query)
    assert rgb_at(img, CENTRAL_AFRICA, query) == (255, 0, 0)
    assert rgb_at(img, MID_PACIFIC, query) == (255, 255, 255)


def test_data_in_another_srs_is_reprojected() -> None:
    m = 1_000_000.0
    square = {
        "type": "Polygon",
        "coordinates": [[[-m, -m], [m, -m], [m, m], [-m, m], [-m, -m]]],
    }
    source = GeoJSONSource(
        GeoJSONSourceConf(file="sq.geojson", srs="EPSG:3857"), json.dumps(square)
    )
    query = MapQuery(Bbox(-20, -20, 20, 20), (400, 400), srs("EPSG:4326"))
    img = render(source, query)
    assert rgb_at(img, (0.0, 0.0), query) == FILL
    assert rgb_at(img, (8.0, 8.0), query) == FILL  # 1000 km is about 9 degrees
    assert rgb_at(img, (10.0, 10.0), query) == SEA


def test_points_and_lines_are_ignored() -> None:
    doc = {
        "type": "GeometryCollection",
        "geometries": [
            {"type": "Point", "coordinates": [0, 0]},
            {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
        ],
    }
    source = GeoJSONSource(GeoJSONSourceConf(file="p.geojson"), json.dumps(doc))
    img = render(
        source, MapQuery(Bbox(-5, -5, 5, 5), (64, 64), srs("EPSG:4326"))
    ).convert("RGB")
    assert img.getcolors(1) == [(64 * 64, SEA)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "bad.geojson: not JSON"),
        ("[1, 2]", "bad.geojson: invalid GeoJSON: expected a GeoJSON object"),
        ('{"type": "Blob"}', "unknown GeoJSON type 'Blob'"),
        ('{"type": "Feature", "geometry": {"type": "Polygon"}}', "invalid GeoJSON"),
        ('{"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}', "invalid GeoJSON"),
        (
            '{"type": "Polygon", "coordinates": [[[0, 0], [1, "a"], [1, 1], [0, 0]]]}',
            "invalid GeoJSON",
        ),
        (
            '{"type": "Polygon", "coordinates": [[[0, 0], [1, NaN], [1, 1], [0, 0]]]}',
            "finite",
        ),
    ],
)
def test_bad_geojson_is_a_config_error(text: str, message: str) -> None:
    with pytest.raises(ConfigValueError, match=message):
        GeoJSONSource(GeoJSONSourceConf(file="bad.geojson"), text)


def test_bad_colour_or_srs_is_a_config_error() -> None:
    with pytest.raises(ConfigValueError, match="fill: not a colour"):
        GeoJSONSource(GeoJSONSourceConf(file="x", fill="#zzz"), "{}")
    with pytest.raises(ConfigValueError, match="unknown SRS"):
        GeoJSONSource(GeoJSONSourceConf(file="x", srs="EPSG:999999"), "{}")


def test_large_image_is_drawn_without_supersampling(countries: GeoJSONSource) -> None:
    query = world_3857(2100)
    img = render(countries, query)
    assert img.size == (2100, 2100)
    assert rgb_at(img, CENTRAL_AFRICA, query) == FILL
    assert rgb_at(img, MID_PACIFIC, query) == SEA
