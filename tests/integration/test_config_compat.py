"""Spellings found in real mapproxy.yaml files that MapProxy 7 accepts, each in a minimal
config of our own: they load unchanged and mean what they mean to MapProxy."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters import logs
from adapters.config import load_config, parse_config
from adapters.logs import CONFIG
from domain.errors import ConfigError
from domain.grid import TileCoord
from domain.tiles import TileSet, get_tile
from entrypoints.bootstrap import bootstrap
from entrypoints.wsgiapp import make_wsgi_app
from tests.mapserver import MapServer


def config(source: dict[str, Any]) -> dict[str, Any]:
    return {
        "services": {"wms": {}},
        "layers": [{"name": "l", "title": "L", "sources": ["c"]}],
        "caches": {
            "c": {
                "grids": ["GLOBAL_WEBMERCATOR"],
                "sources": ["w"],
                "meta_size": [1, 1],
                "meta_buffer": 0,
            }
        },
        "sources": {"w": source},
    }


def wms(server: MapServer, layers: object = "a", **more: Any) -> dict[str, Any]:
    return {
        "type": "wms",
        "req": {"url": f"{server.url}/service", "layers": layers},
        **more,
    }


def tileset(tmp_path: Path, conf: dict[str, Any]) -> TileSet:
    path = tmp_path / "mapproxy.yaml"
    loaded = parse_config(conf, str(path))
    assert loaded.warnings == ()
    return bootstrap(loaded, path).caches["c"][0]


def getmaps(server: MapServer) -> list[dict[str, str]]:
    return [r.params for r in server.requests if r.params.get("REQUEST") == "GetMap"]


def test_a_coverage_bbox_srs_is_the_srs_of_its_bbox(
    tmp_path: Path, map_server: MapServer
) -> None:
    # Degrees over south-east Asia; read as EPSG:3857 (the `srs` beside it, which MapProxy
    # ignores when `bbox_srs` is given) they would be a few metres next to 0,0.
    coverage = {"bbox": [100, 10, 110, 20], "bbox_srs": "EPSG:4326", "srs": "EPSG:3857"}
    tiles = tileset(tmp_path, config(wms(map_server, coverage=coverage)))
    # Level 3, rows from the top: column 6 spans 90-135 E, column 4 spans 0-45 E,
    # row 3 spans 0-41 N.
    get_tile(TileCoord(4, 3, 3), tiles)
    assert getmaps(map_server) == []
    get_tile(TileCoord(6, 3, 3), tiles)
    (asked,) = getmaps(map_server)
    minx, miny, maxx, maxy = (float(v) for v in asked["BBOX"].split(","))
    assert (round(minx), round(maxx)) == (10018754, 15028131)
    assert (round(miny), round(maxy)) == (0, 5009377)


def test_a_wms_layer_named_by_a_number(tmp_path: Path, map_server: MapServer) -> None:
    # ArcGIS servers number their WMS layers; YAML reads `layers: 4` as a number.
    tiles = tileset(tmp_path, config(wms(map_server, layers=4)))
    get_tile(TileCoord(0, 0, 1), tiles)
    (asked,) = getmaps(map_server)
    assert asked["LAYERS"] == "4"


@pytest.mark.parametrize("layers", [True, ""])
def test_layers_that_are_no_names_are_still_errors(
    tmp_path: Path, map_server: MapServer, layers: object
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(config(wms(map_server, layers=layers)), "mapproxy.yaml")
    (problem,) = info.value.problems
    assert problem.startswith("req.layers ")
    assert problem.endswith(" @ $.sources['w']")


@pytest.mark.parametrize(
    ("coverage", "problem"),
    [
        ({"bbox": [0, 0, 1, 1]}, "a bbox coverage needs an srs"),
        (
            {"polygons": "nowhere.wkt", "srs": "EPSG:4326"},
            "No such file or directory",
        ),
    ],
)
def test_a_coverage_that_cannot_be_read_is_a_config_error_naming_its_source(
    tmp_path: Path, coverage: dict[str, Any], problem: str
) -> None:
    source = {"type": "wms", "req": {"url": "http://127.0.0.1:9/", "layers": "a"}}
    path = tmp_path / "mapproxy.yaml"
    path.write_text(yaml.safe_dump(config({**source, "coverage": coverage})))
    with pytest.raises(ConfigError) as info:
        make_wsgi_app(path)
    (found,) = info.value.problems
    assert problem in found
    assert found.endswith("@ $.sources['w']")


def test_environment_variables_fill_string_values(
    tmp_path: Path,
    map_server: MapServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # MapProxy 7 reads `$NAME` and `${NAME}` in values (keys stay as written); one that is
    # not set is kept as written, with a warning.
    host, port = map_server.url.removeprefix("http://").split(":")
    monkeypatch.setenv("TG_COMPAT_HOST", host)
    monkeypatch.setenv("TG_COMPAT_PORT", port)
    monkeypatch.setenv("TG_COMPAT_TITLE", "Roads")
    monkeypatch.delenv("TG_COMPAT_UNSET", raising=False)
    url = "http://$TG_COMPAT_HOST:${TG_COMPAT_PORT}/service"
    conf = config({"type": "wms", "req": {"url": url, "layers": "a,$TG_COMPAT_UNSET"}})
    conf["layers"][0]["title"] = "${TG_COMPAT_TITLE} and $TG_COMPAT_TITLE"
    conf["layers"][0]["md"] = {"$TG_COMPAT_TITLE": "x"}  # a key: not read
    path = tmp_path / "mapproxy.yaml"
    path.write_text(yaml.safe_dump(conf))
    logs.configure()
    caplog.set_level(logging.WARNING, logger=CONFIG)
    loaded = load_config(path)
    assert loaded.conf.layers[0].title == "Roads and Roads"
    unset = [
        r.getMessage() for r in caplog.records if "TG_COMPAT_UNSET" in r.getMessage()
    ]
    assert len(unset) == 1
    assert "environment variable not set" in unset[0]
    assert loaded.conf.layers[0].md == {"$TG_COMPAT_TITLE": "x"}
    get_tile(TileCoord(0, 0, 1), bootstrap(loaded, path).caches["c"][0])
    (asked,) = getmaps(map_server)
    assert asked["LAYERS"] == "a,$TG_COMPAT_UNSET"
