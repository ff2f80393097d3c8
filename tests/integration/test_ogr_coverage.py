"""Coverages from OGR datasources (`datasource: x.shp`, `where`, `ogr_datasource`) through
GDAL's real library, on a Shapefile and a GeoPackage that ogr2ogr makes from GeoJSON."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from adapters.coverage_files import CoverageFiles
from domain.bbox import Bbox
from domain.config import CoverageConf
from domain.coverage_conf import coverage_from_conf
from domain.errors import ConfigError, ConfigValueError
from tests.e2e.conftest import run_command
from tests.integration.test_app import get, make_app, tile_source_conf
from tests.mapserver import MapServer

pytestmark = pytest.mark.skipif(
    shutil.which("ogr2ogr") is None,
    reason="GDAL missing: install Debian's gdal-bin (.ci/install-system-packages)",
)
# Two named squares in lon/lat: central Europe and the Pacific, and a point.
FEATURES = [
    ("europe", [[5, 45], [15, 45], [15, 55], [5, 55], [5, 45]]),
    ("pacific", [[-170, -10], [-150, -10], [-150, 10], [-170, 10], [-170, -10]]),
]


@pytest.fixture
def datasources(tmp_path: Path) -> Path:
    """`areas.shp` and `areas.gpkg` (layer `areas`, attribute `name`) from `areas.geojson`."""
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": name},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
            for name, ring in FEATURES
        ]
        + [
            {
                "type": "Feature",
                "properties": {"name": "spot"},
                "geometry": {"type": "Point", "coordinates": [0, 0]},
            }
        ],
    }
    (tmp_path / "areas.geojson").write_text(json.dumps(doc))
    # A Shapefile holds one kind of geometry: the polygons only; the GeoPackage all three.
    for options in (
        ["-f", "ESRI Shapefile", "areas.shp", "-where", "name <> 'spot'"],
        ["-f", "GPKG", "areas.gpkg", "-nlt", "GEOMETRY"],
    ):
        subprocess.run(
            ["ogr2ogr", *options, "areas.geojson", "-nln", "areas"],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )
    return tmp_path


def read(here: Path, **conf: Any) -> Bbox:
    return coverage_from_conf(
        CoverageConf(srs="EPSG:4326", **conf), CoverageFiles(here)
    ).bbox


def test_shapefile_and_geopackage_polygons_with_and_without_a_filter(
    datasources: Path,
) -> None:
    both = Bbox(-170, -10, 15, 55)
    assert read(datasources, datasource="areas.shp") == both
    assert read(datasources, datasource="areas.gpkg") == both
    assert read(datasources, datasource="areas.shp", where="name = 'europe'") == Bbox(
        5, 45, 15, 55
    )
    # A whole SELECT runs on the datasource; GeoJSON with a filter goes through OGR too.
    select = "SELECT * FROM areas WHERE name = 'pacific'"
    assert read(datasources, datasource="areas.gpkg", where=select) == Bbox(
        -170, -10, -150, 10
    )
    assert read(
        datasources, datasource="areas.geojson", where="name = 'europe'"
    ) == Bbox(5, 45, 15, 55)
    assert read(
        datasources, ogr_datasource="areas.gpkg", ogr_where="name LIKE 'eu%'"
    ) == Bbox(5, 45, 15, 55)


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"datasource": "missing.shp"}, "'missing.shp': OGR cannot open it"),
        (
            {"datasource": "areas.shp", "where": "nonsense ="},
            "where 'nonsense =' failed",
        ),
        ({"datasource": "areas.gpkg", "where": "SELECT * FROM nowhere"}, "failed"),
        ({"datasource": "areas.gpkg", "where": "name = 'spot'"}, "has no polygons"),
    ],
)
def test_bad_datasources_say_what_is_wrong(
    datasources: Path, conf: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigValueError, match=message):
        read(datasources, **conf)


def transparent(data: bytes) -> bool:
    return Image.open(io.BytesIO(data)).convert("RGBA").getchannel(
        "A"
    ).getextrema() == (0, 0)


def test_a_source_limited_to_a_shapefile_feature_is_asked_only_inside_it(
    datasources: Path, map_server: MapServer
) -> None:
    coverage = {
        "datasource": "areas.shp",
        "where": "name = 'europe'",
        "srs": "EPSG:4326",
    }
    app = make_app(datasources, tile_source_conf(map_server, coverage=coverage))
    status, _, data = get(app, "/tiles/xyz/EPSG3857/4/1/7.png", "origin=nw")  # Pacific
    assert status == 200
    assert transparent(data)
    assert map_server.requests == []
    get(app, "/tiles/xyz/EPSG3857/4/8/5.png", "origin=nw")  # central Europe
    assert [r.path for r in map_server.requests] == ["/tiles/4/8/5.png"]


def test_a_datasource_that_cannot_be_read_stops_the_start_naming_the_source(
    datasources: Path, map_server: MapServer
) -> None:
    coverage = {
        "datasource": "areas.shp",
        "where": "nosuchfield = 1",
        "srs": "EPSG:4326",
    }
    with pytest.raises(ConfigError) as info:
        make_app(datasources, tile_source_conf(map_server, coverage=coverage))
    [problem] = info.value.problems
    assert problem.startswith(
        "coverage datasource 'areas.shp': where 'nosuchfield = 1' failed"
    )
    assert problem.endswith("@ $.sources['xyz']")


def test_export_takes_an_ogr_coverage_with_where(datasources: Path) -> None:
    (datasources / "mapproxy.yaml").write_text(
        "sources: {d: {type: debug}}\n"
        "caches: {c: {sources: [d], grids: [GLOBAL_WEBMERCATOR]}}\n"
    )

    def dry_run(*coverage: str) -> subprocess.CompletedProcess[str]:
        return run_command(
            datasources, "tilegate", "export", "-f", "mapproxy.yaml", "--source", "c",
            "--dest", "out", "--levels", "0..6", "--srs", "EPSG:4326", "-n", *coverage,
        )  # fmt: skip

    # Europe's square alone meets fewer tiles than both squares; none are copied (-n).
    assert dry_run("--coverage", "areas.shp").stdout == (
        "would export up to 57 tiles of levels 0..6\n"
    )
    europe = dry_run("--coverage", "areas.shp", "--where", "name = 'europe'")
    assert europe.stdout == "would export up to 21 tiles of levels 0..6\n"
    missing = dry_run("--coverage", "nowhere.shp")
    assert missing.returncode == 1
    assert "coverage datasource 'nowhere.shp': OGR cannot open it" in missing.stderr
    assert not (datasources / "out").exists()
