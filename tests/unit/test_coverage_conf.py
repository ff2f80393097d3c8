"""The coverage a `coverage:` entry describes, read through an in-memory CoverageFiles."""

from __future__ import annotations

import json

import attrs
import pytest
import shapely

from domain.bbox import Bbox
from domain.config import CoverageConf
from domain.coverage_conf import coverage_from_conf
from domain.errors import ConfigValueError
from domain.grid import TileCoord
from domain.grids import resolve_grids
from domain.srs import srs
from tests.unit.test_coverage import TWO_SQUARES_WKT

WGS84, WEB = srs("EPSG:4326"), srs("EPSG:3857")
WEB_GRID = resolve_grids({})["GLOBAL_WEBMERCATOR"]


@attrs.define
class Files:
    """Text files by path, and OGR datasources by name as their WKB geometries; `asked` holds
    each datasource read through OGR with its filter."""

    texts: dict[str, str] = attrs.Factory(dict)
    features: dict[str, list[bytes]] = attrs.Factory(dict)
    asked: list[tuple[str, str | None]] = attrs.Factory(list)

    def read_text(self, path: str) -> str:
        if path not in self.texts:
            raise AssertionError(f"unexpected read of {path}")
        return self.texts[path]

    def head(self, path: str) -> bytes | None:
        text = self.texts.get(path)
        return None if text is None else text.encode()[:50]

    def read_features(self, datasource: str, where: str | None) -> list[bytes]:
        self.asked.append((datasource, where))
        if datasource not in self.features:
            raise ConfigValueError("OGR cannot open it")
        return self.features[datasource]


def files(**texts: str) -> Files:
    return Files(texts)


def test_coverage_from_conf_kinds() -> None:
    read = files(
        **{
            "de.wkt": TWO_SQUARES_WKT,
            "de.geojson": json.dumps(
                {
                    "type": "Polygon",
                    "coordinates": [[[5, 50], [10, 50], [10, 55], [5, 55], [5, 50]]],
                }
            ),
            "expire.txt": "1/0/0\n\n1/1/1\n",
        }
    )
    assert coverage_from_conf(
        CoverageConf(bbox=(5, 50, 10, 55), srs="EPSG:4326"), read
    ).bbox == Bbox(5, 50, 10, 55)
    bbox_text = coverage_from_conf(
        CoverageConf(datasource="5,50,10,55", srs="EPSG:4326"), read
    )
    assert bbox_text.bbox == Bbox(5, 50, 10, 55)
    wkt = coverage_from_conf(
        CoverageConf(polygons="de.wkt", polygons_srs="EPSG:4326"), read
    )
    assert wkt.bbox == Bbox(5, 50, 25, 55)
    assert wkt.srs == WGS84
    geojson = coverage_from_conf(
        CoverageConf(datasource="de.geojson", srs="EPSG:4326", clip=True), read
    )
    assert geojson.clip
    assert geojson.bbox == Bbox(5, 50, 10, 55)
    expire = coverage_from_conf(CoverageConf(expire_tiles="expire.txt"), read)
    assert expire.srs == WEB
    assert expire.contains(WEB_GRID.tile_bbox(TileCoord(0, 0, 1)), WEB)
    assert expire.contains(WEB_GRID.tile_bbox(TileCoord(1, 1, 1)), WEB)
    assert not expire.intersects(WEB_GRID.tile_bbox(TileCoord(1, 0, 1)), WEB)


def test_coverage_from_conf_combinations_are_nested() -> None:
    conf = CoverageConf(
        difference=(
            CoverageConf(
                union=(
                    CoverageConf(bbox=(0, 40, 10, 60), srs="EPSG:4326"),
                    CoverageConf(bbox=(10, 40, 20, 60), srs="EPSG:4326"),
                )
            ),
            CoverageConf(datasource="hole.wkt", srs="EPSG:4326"),
        ),
        clip=True,
    )
    cov = coverage_from_conf(
        conf, files(**{"hole.wkt": "POLYGON((5 50, 15 50, 15 55, 5 55, 5 50))"})
    )
    assert cov.clip
    assert cov.bbox == Bbox(0, 40, 20, 60)
    assert not cov.intersects(Bbox(6, 51, 14, 54), WGS84)
    assert cov.contains(Bbox(1, 41, 19, 49), WGS84)


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        (CoverageConf(bbox=(5, 50, 10, 55)), "needs an srs"),
        (CoverageConf(srs="EPSG:4326"), "exactly one of"),
        (
            CoverageConf(bbox=(5, 50, 10, 55), datasource="x.wkt", srs="EPSG:4326"),
            "found bbox, datasource",
        ),
        (CoverageConf(bbox=(10, 50, 5, 55), srs="EPSG:4326"), "invalid coverage bbox"),
        (CoverageConf(bbox=(5, 50, 10, 55), srs="EPSG:0"), "unknown SRS"),
        (
            CoverageConf(datasource="world.shp", srs="EPSG:4326"),
            "'world.shp': OGR cannot open it",
        ),
        (
            CoverageConf(polygons="x.wkt", where="a = 1", srs="EPSG:4326"),
            "where goes with a datasource",
        ),
        (CoverageConf(datasource="bad.wkt", srs="EPSG:4326"), "'bad.wkt': invalid WKT"),
        (CoverageConf(union=()), "at least one"),
        (CoverageConf(expire_tiles="bad.txt"), "line 2: expected z/x/y"),
        (CoverageConf(expire_tiles="out.txt"), "outside"),
    ],
)
def test_bad_coverage_confs(conf: CoverageConf, message: str) -> None:
    read = files(
        **{"bad.wkt": "POLYGON((", "bad.txt": "1/0/0\nx\n", "out.txt": "1/2/0\n"}
    )
    with pytest.raises(ConfigValueError, match=message):
        coverage_from_conf(conf, read)


SQUARE = shapely.to_wkb(shapely.box(5, 50, 10, 55))
FAR_SQUARE = shapely.to_wkb(shapely.box(20, 50, 25, 55))
POINT = shapely.to_wkb(shapely.Point(0, 0))


def test_datasources_that_are_no_wkt_or_geojson_text_are_read_through_ogr() -> None:
    read = Files(
        texts={"de.geojson": '{"type": "Polygon", "coordinates": []}'},
        features={"de.shp": [SQUARE, POINT, FAR_SQUARE], "de.geojson": [SQUARE]},
    )
    shp = coverage_from_conf(CoverageConf(datasource="de.shp", srs="EPSG:4326"), read)
    # The point has no area and is left out, as MapProxy leaves it out.
    assert shp.bbox == Bbox(5, 50, 25, 55)
    assert shp.geom.area == 50
    # GeoJSON with a filter goes through OGR too, which is where `where` means something.
    filtered = CoverageConf(
        datasource="de.geojson", where="name = 'x'", srs="EPSG:4326"
    )
    assert coverage_from_conf(filtered, read).bbox == Bbox(5, 50, 10, 55)
    assert read.asked == [("de.shp", None), ("de.geojson", "name = 'x'")]


def test_ogr_datasource_is_the_older_spelling_with_its_own_where_and_srs() -> None:
    read = Files(features={"PG: dbname=gis": [SQUARE]})
    conf = CoverageConf(
        ogr_datasource="PG: dbname=gis", ogr_where="id = 1", ogr_srs="EPSG:4326"
    )
    cov = coverage_from_conf(conf, read)
    assert (cov.bbox, cov.srs) == (Bbox(5, 50, 10, 55), WGS84)
    assert read.asked == [("PG: dbname=gis", "id = 1")]


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([POINT], "'d.shp': has no polygons"),
        ([], "'d.shp': has no polygons"),
        ([b"not wkb"], "'d.shp': unreadable geometry"),
    ],
)
def test_ogr_datasources_without_polygons_are_errors(
    features: list[bytes], message: str
) -> None:
    read = Files(features={"d.shp": features})
    with pytest.raises(ConfigValueError, match=message):
        coverage_from_conf(CoverageConf(datasource="d.shp", srs="EPSG:4326"), read)
