"""GetFeatureInfo answered by `type: mapserver` sources: Debian's MapServer CGI binary queried
on a mapfile with a queryable layer, directly and through a cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.config import parse_config
from domain.errors import ConfigError
from entrypoints.app import TilegateApp
from tests.integration.test_mapserver_source import MAPSERV, make_app, needs_mapserv
from tests.integration.test_wms_featureinfo import info
from tests.integration.test_wms_service import exception_code, parse_xml

# A queryable red square (0,0 to 10,10 degrees, item `label`) and a blue one that is not.
MAPFILE = """MAP
  NAME "test"
  EXTENT -180 -90 180 90
  PROJECTION "init=epsg:4326" END
  IMAGECOLOR 255 255 255
  WEB METADATA "wms_enable_request" "*" "wms_srs" "EPSG:4326 EPSG:3857" "wms_title" "t" END END
  LAYER
    NAME "red"
    TYPE POLYGON
    STATUS ON
    TEMPLATE "query"
    METADATA "wms_include_items" "all" "gml_include_items" "all" END
    PROJECTION "init=epsg:4326" END
    PROCESSING "ITEMS=label"
    FEATURE POINTS 0 0 10 0 10 10 0 10 0 0 END ITEMS "red square" END
    CLASS STYLE COLOR 255 0 0 END END
  END
  LAYER
    NAME "blue"
    TYPE POLYGON
    STATUS ON
    PROJECTION "init=epsg:4326" END
    FEATURE POINTS -10 -10 0 -10 0 0 -10 0 -10 -10 END END
    CLASS STYLE COLOR 0 0 255 END END
  END
END
"""
# 1 degree per pixel, the top row at 20 degrees north: (25, 15) is 5E 5N, in the red square.
AT_RED = {"srs": "EPSG:4326", "bbox": "-20,-20,20,20", "width": 40, "height": 40}


# MapServer 8 will not run without its own config file (tests/integration/conftest.py).
pytestmark = pytest.mark.usefixtures("mapserver_config")


def conf(tmp_path: Path, **wms_opts: Any) -> dict[str, Any]:
    (tmp_path / "test.map").write_text(MAPFILE)
    return {
        "services": {"wms": {"featureinfo_types": ["text", "xml"]}},
        "layers": [
            {"name": "direct", "title": "Direct", "sources": ["ms"]},
            {"name": "cached", "title": "Cached", "sources": ["c"]},
        ],
        "caches": {"c": {"sources": ["ms"], "grids": ["GLOBAL_WEBMERCATOR"]}},
        "sources": {
            "ms": {
                "type": "mapserver",
                "req": {"map": "test.map", "layers": "red"},
                "mapserver": {"binary": str(MAPSERV)},
                "wms_opts": {"featureinfo": True} | wms_opts,
            }
        },
    }


def app_for(tmp_path: Path, **wms_opts: Any) -> TilegateApp:
    return make_app(tmp_path, conf(tmp_path, **wms_opts))


@needs_mapserv
@pytest.mark.parametrize("layer", ["direct", "cached"])
def test_featureinfo_asks_mapserver_at_the_pixel(tmp_path: Path, layer: str) -> None:
    app = app_for(tmp_path)
    status, headers, body = info(
        app,
        layers=layer,
        query_layers=layer,
        info_format="text/plain",
        x=25,
        y=15,
        **AT_RED,
    )
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/plain")
    assert b"Layer 'red'" in body
    assert b"label = 'red square'" in body


@needs_mapserv
def test_a_pixel_outside_the_features_finds_nothing(tmp_path: Path) -> None:
    status, _, body = info(
        app_for(tmp_path),
        layers="direct",
        query_layers="direct",
        info_format="text/plain",
        x=5,
        y=5,
        **AT_RED,
    )
    assert status == 200, body
    assert b"red square" not in body


@needs_mapserv
def test_featureinfo_format_is_what_mapserver_is_asked_for(tmp_path: Path) -> None:
    app = app_for(tmp_path, featureinfo_format="application/vnd.ogc.gml")
    status, headers, body = info(
        app,
        layers="direct",
        query_layers="direct",
        info_format="text/xml",
        x=25,
        y=15,
        **AT_RED,
    )
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/xml")  # as the client asked
    doc = parse_xml(body)
    assert doc.tag == "msGMLOutput"
    assert doc.findtext("red_layer/red_feature/label") == "red square"


@needs_mapserv
def test_without_featureinfo_the_layer_is_not_queryable(tmp_path: Path) -> None:
    config = conf(tmp_path)
    del config["sources"]["ms"]["wms_opts"]
    app = make_app(tmp_path, config)
    status, _, body = info(
        app,
        layers="direct",
        query_layers="direct",
        info_format="text/plain",
        x=25,
        y=15,
        **AT_RED,
    )
    assert status == 400
    assert exception_code(body) == "LayerNotQueryable"


@needs_mapserv
def test_a_failing_binary_is_a_502_for_featureinfo(tmp_path: Path) -> None:
    config = conf(tmp_path)
    fake = tmp_path / "fake-mapserv"
    fake.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    fake.chmod(0o755)
    config["sources"]["ms"]["mapserver"]["binary"] = str(fake)
    status, _, body = info(
        make_app(tmp_path, config),
        layers="direct",
        query_layers="direct",
        info_format="text/plain",
        x=25,
        y=15,
        **AT_RED,
    )
    assert status == 502
    assert b"ServiceException" in body


def test_a_missing_featureinfo_xslt_names_its_key(tmp_path: Path) -> None:
    config = conf(tmp_path, featureinfo_xslt="nowhere.xsl")
    with pytest.raises(ConfigError) as exc:
        parse_config(config, "t.yaml", tmp_path)
    assert any(
        p.endswith("@ $.sources['ms'].wms_opts.featureinfo_xslt")
        for p in exc.value.problems
    ), exc.value.problems
