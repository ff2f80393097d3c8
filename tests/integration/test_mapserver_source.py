"""`type: mapserver` sources: Debian's MapServer CGI binary run on a mapfile the test writes."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from adapters.config import parse_config
from domain.errors import ConfigError
from entrypoints.app import TilegateApp
from entrypoints.bootstrap import bootstrap
from tests.integration.test_wms_service import getmap

MAPSERV = Path("/usr/lib/cgi-bin/mapserv")
needs_mapserv = pytest.mark.skipif(
    not os.access(MAPSERV, os.X_OK), reason="Debian's cgi-mapserver is not installed"
)
RED = (255, 0, 0)
# A red square from 0,0 to 10,10 degrees on white.
MAPFILE = """MAP
  NAME "test"
  EXTENT -180 -90 180 90
  PROJECTION "init=epsg:4326" END
  IMAGECOLOR 255 255 255
  WEB METADATA "wms_enable_request" "*" "wms_srs" "EPSG:4326 EPSG:3857" "wms_title" "t" END END
  LAYER
    NAME "square"
    TYPE POLYGON
    STATUS ON
    PROJECTION "init=epsg:4326" END
    FEATURE POINTS 0 0 10 0 10 10 0 10 0 0 END END
    CLASS STYLE COLOR 255 0 0 END END
  END
END
"""


# MapServer 8 will not run without its own config file (tests/integration/conftest.py).
pytestmark = pytest.mark.usefixtures("mapserver_config")


def conf(tmp_path: Path, **source: Any) -> dict[str, Any]:
    (tmp_path / "test.map").write_text(MAPFILE)
    return {
        "services": {"wms": {}},
        "globals": {"image": {"paletted": False}},
        "layers": [{"name": "ms", "title": "MapServer", "sources": ["ms"]}],
        "sources": {
            "ms": {
                "type": "mapserver",
                "req": {"map": "test.map", "layers": "square"},
                "mapserver": {"binary": str(MAPSERV), "working_dir": "."},
            }
            | source
        },
    }


def make_app(tmp_path: Path, config: dict[str, Any]) -> TilegateApp:
    path = tmp_path / "mapproxy.yaml"
    return TilegateApp.from_state(
        bootstrap(parse_config(config, str(path), tmp_path), path)
    )


def fake_binary(tmp_path: Path, script: str) -> str:
    path = tmp_path / "fake-mapserv"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return str(path)


@needs_mapserv
def test_mapserver_draws_the_polygon_where_it_is(tmp_path: Path) -> None:
    app = make_app(tmp_path, conf(tmp_path))
    status, _, body = getmap(
        app, layers="ms", srs="EPSG:4326", bbox="-20,-20,20,20", width=40, height=40
    )
    assert status == 200, body
    img = Image.open(io.BytesIO(body)).convert("RGB")
    # 1 degree per pixel, the top row at 20 degrees north.
    assert img.getpixel((25, 15)) == RED  # 5E 5N: inside the square
    assert img.getpixel((15, 15)) == (255, 255, 255)  # 5W 5N: outside
    assert img.getpixel((25, 25)) == (255, 255, 255)  # 5E 5S: outside


@needs_mapserv
def test_mapserver_renders_in_web_mercator_too(tmp_path: Path) -> None:
    app = make_app(tmp_path, conf(tmp_path))
    # 0..2,226,389 m is 0..20 degrees east; 10 degrees north is 1,118,890 m.
    status, _, body = getmap(
        app,
        layers="ms",
        srs="EPSG:3857",
        bbox="0,0,2226389,2226389",
        width=20,
        height=20,
    )
    assert status == 200, body
    img = Image.open(io.BytesIO(body)).convert("RGB")
    assert img.getpixel((5, 17)) == RED
    assert img.getpixel((15, 17)) == (255, 255, 255)


@needs_mapserv
def test_globals_mapserver_binary_is_used_when_the_source_names_none(
    tmp_path: Path,
) -> None:
    config = conf(tmp_path, mapserver={})
    config["globals"]["mapserver"] = {"binary": str(MAPSERV)}
    app = make_app(tmp_path, config)
    status, _, body = getmap(
        app, layers="ms", srs="EPSG:4326", bbox="0,0,10,10", width=10, height=10
    )
    assert status == 200, body


def test_a_missing_binary_is_a_config_error_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            conf(tmp_path, mapserver={"binary": "no/such/mapserv"}),
            str(tmp_path / "mapproxy.yaml"),
            tmp_path,
        )
    assert info.value.problems == [
        f"mapserver binary '{tmp_path}/no/such/mapserv' is not an executable file"
        " @ $.sources['ms'].mapserver.binary"
    ]


def test_a_missing_global_binary_names_the_globals_key(tmp_path: Path) -> None:
    config = conf(tmp_path, mapserver={})
    config["globals"]["mapserver"] = {"binary": "not-a-mapserv-anywhere"}
    with pytest.raises(ConfigError) as info:
        parse_config(config, "t.yaml", tmp_path)
    assert info.value.problems == [
        "mapserver binary 'not-a-mapserv-anywhere' is not in PATH: set mapserver.binary"
        " @ $.globals.mapserver.binary"
    ]


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ({"req": {"map": "nothing.map", "layers": "x"}}, "@ $.sources['ms'].req.map"),
        (
            {"req": {"map": "test.map", "layers": ""}},
            "req.layers must be layer names @ $.sources['ms']",
        ),
        (  # as MapProxy, a warning: such a source is used tagged (`ms:square`)
            {"req": {"map": "test.map"}},
            "unless it is used as ms:layer1,layer2 @ $.sources['ms'].req",
        ),
        (
            {"mapserver": {"binary": str(MAPSERV), "working_dir": "nowhere"}},
            "@ $.sources['ms'].mapserver.working_dir",
        ),
        (
            {"mapserver": {"binary": str(MAPSERV), "timeout": 0}},
            "timeout must be positive, got 0.0 @ $.sources['ms'].mapserver",
        ),
        (
            {"mapserver": {"binray": "x"}},
            "extra fields found (binray) @ $.sources['ms'].mapserver",
        ),
    ],
)
def test_bad_mapserver_options_name_their_key(
    tmp_path: Path, source: dict[str, Any], problem: str
) -> None:
    try:
        loaded = parse_config(conf(tmp_path, **source), "t.yaml", tmp_path)
    except ConfigError as exc:
        problems = exc.problems
    else:
        problems = list(loaded.warnings)
    assert any(p.endswith(problem) for p in problems), problems


def test_a_failing_binary_is_a_502_ogc_exception(tmp_path: Path) -> None:
    binary = fake_binary(tmp_path, "echo 'mapfile broken' >&2; exit 3")
    app = make_app(tmp_path, conf(tmp_path, mapserver={"binary": binary}))
    status, _, body = getmap(app, layers="ms", srs="EPSG:4326", bbox="0,0,10,10")
    assert status == 502
    assert b"(exit status 3): mapfile broken" in body


def test_a_binary_answering_an_exception_is_a_502(tmp_path: Path) -> None:
    binary = fake_binary(
        tmp_path,
        "printf 'Content-Type: application/vnd.ogc.se_xml\\r\\n\\r\\n"
        "<ServiceExceptionReport><ServiceException>msWMSLoadGetMapParams(): bad layer"
        "</ServiceException></ServiceExceptionReport>'",
    )
    app = make_app(tmp_path, conf(tmp_path, mapserver={"binary": binary}))
    status, _, body = getmap(app, layers="ms", srs="EPSG:4326", bbox="0,0,10,10")
    assert status == 502
    assert b"bad layer" in body


def test_a_hanging_binary_is_killed_after_the_timeout(tmp_path: Path) -> None:
    binary = fake_binary(tmp_path, f"echo $$ > {tmp_path}/pid; exec sleep 30")
    app = make_app(
        tmp_path, conf(tmp_path, mapserver={"binary": binary, "timeout": 0.5})
    )
    started = time.monotonic()
    status, _, body = getmap(app, layers="ms", srs="EPSG:4326", bbox="0,0,10,10")
    assert time.monotonic() - started < 5
    assert status == 504, body
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
