"""`type: ogcapitiles` and `type: ogcapimaps` sources when things go wrong (an upstream that is
down, slow or answers nonsense, bad options), and against MapProxy 7's OGC API as upstream."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from adapters.config import parse_config
from domain.errors import ConfigError
from domain.grid import TileCoord
from tests.integration.ogcapi_source_support import app_for, conf, largest_difference
from tests.integration.test_app import get, make_app, same_pixels
from tests.integration.test_wms_service import getmap
from tests.mapproxy7 import MAPPROXY_PYTHON
from tests.mapserver import MapServer, render

# Failures


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_server_whose_upstream_is_down_starts_and_answers_502_quickly(
    tmp_path: Path,
) -> None:
    start = time.monotonic()
    app = make_app(tmp_path, conf(f"http://127.0.0.1:{closed_port()}/ogcapi"))
    status, _, body = get(app, "/tms/1.0.0/t/EPSG3857/2/1/1.png")
    assert status == 502
    assert b"cannot connect to" in body
    status, _, body = getmap(app, layers="m")
    assert status == 502
    assert b"<ServiceException>cannot connect to" in body
    assert time.monotonic() - start < 3


def test_a_slow_upstream_is_a_504_and_discovery_is_tried_again_once_it_is_back(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(tmp_path, map_server)
    map_server.add_fault(delay=2, path="/ogcapi/collections/base")
    start = time.monotonic()
    assert get(app, "/tms/1.0.0/t/EPSG3857/2/1/1.png")[0] == 504
    assert getmap(app, layers="m")[0] == 504
    assert time.monotonic() - start < 2.5
    map_server.reset()
    status, _, data = get(app, "/tms/1.0.0/t/EPSG3857/2/1/1.png")
    assert status == 200
    assert same_pixels(data, TileCoord(1, 6, 3))
    assert getmap(app, layers="m")[0] == 200


def test_requests_waiting_for_a_failing_discovery_share_its_answer(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(tmp_path, map_server)
    map_server.add_fault(delay=1, path="/ogcapi/collections/base")
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: getmap(app, layers="m")[0], range(4)))
    assert statuses == [504] * 4
    # One attempt timed out; the three requests queued behind it did not try again.
    assert map_server.counts["/ogcapi/collections/base"] == 1


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"status": 404}, b"answered HTTP 404"),
        ({"fault": "html"}, b"returned no JSON document"),
    ],
)
def test_a_bad_discovery_answer_is_a_502_naming_it(
    tmp_path: Path, map_server: MapServer, fault: dict[str, Any], message: bytes
) -> None:
    app = app_for(tmp_path, map_server)
    map_server.add_fault(path="/ogcapi/collections/base", **fault)
    for status, _, body in (
        get(app, "/tms/1.0.0/t/EPSG3857/2/1/1.png"),
        getmap(app, layers="m"),
    ):
        assert status == 502
        assert message in body


def test_an_unknown_collection_is_a_502(tmp_path: Path, map_server: MapServer) -> None:
    app = app_for(
        tmp_path, map_server, ot={"collection": "nope"}, om={"collection": "nope"}
    )
    status, _, body = get(app, "/tms/1.0.0/t/EPSG3857/2/1/1.png")
    assert status == 502
    # The URL (…/ogcapi/collections/nope) is in the log only: hide_error_details.
    assert b"[source] answered HTTP 404" in body
    assert getmap(app, layers="m")[0] == 502


# Configuration


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            {"type": "ogcapitiles"},
            "required field missing @ $.sources['o']",
        ),
        (
            {"type": "ogcapimaps"},
            "required field missing @ $.sources['o']",
        ),
        (
            {"type": "ogcapitiles", "landingpage_url": "ftp://example.org/"},
            "landingpage_url must be an http(s) URL, got 'ftp://example.org/' @ $.sources['o']",
        ),
        (
            {
                "type": "ogcapimaps",
                "landingpage_url": "http://h/",
                "collection": "a/../b",
            },
            "collection must be one id (no '/', '?' or '#'), got 'a/../b' @ $.sources['o']",
        ),
        (
            {
                "type": "ogcapitiles",
                "landingpage_url": "http://h/",
                "tile_matrix_set_id": "",
            },
            "tile_matrix_set_id must be one id (no '/', '?' or '#'), got '' @ $.sources['o']",
        ),
        (
            {"type": "ogcapimaps", "landingpage_url": "http://h/", "bgcolor": "red"},
            "bgcolor: expected a colour #rrggbb, got 'red' @ $.sources['o']",
        ),
        (
            {
                "type": "ogcapimaps",
                "landingpage_url": "http://h/",
                "min_res": 10,
                "max_res": 100,
            },
            "@ $.sources['o']",
        ),
    ],
)
def test_bad_source_options_name_their_key(
    tmp_path: Path, source: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"sources": {"o": source}}, str(tmp_path / "mapproxy.yaml"))
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_an_unknown_supported_srs_is_a_config_error_at_start(tmp_path: Path) -> None:
    config = conf("http://127.0.0.1:1/ogcapi", om={"supported_srs": ["EPSG:99999"]})
    with pytest.raises(ConfigError) as caught:
        make_app(tmp_path, config)
    assert any(
        "EPSG:99999" in p and "$.sources['om']" in p for p in caught.value.problems
    )


# MapProxy 7's OGC API as the upstream

# MapProxy's WSGI app behind a threading wsgiref server on a free port, which it prints.
SERVE_MAPPROXY = """
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from mapproxy.wsgiapp import make_wsgi_app

class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

httpd = make_server("127.0.0.1", 0, make_wsgi_app(sys.argv[1]), Server, Quiet)
print(httpd.server_address[1], flush=True)
httpd.serve_forever()
"""


@pytest.fixture
def mapproxy_ogcapi(tmp_path: Path, map_server: MapServer) -> Iterator[str]:
    """The landing page of MapProxy 7 serving layer `base` (the map server's WMS, cached in
    GLOBAL_WEBMERCATOR) as OGC API - Tiles and Maps."""
    if not MAPPROXY_PYTHON.exists():
        pytest.skip("MapProxy 7 is not installed here")
    config = tmp_path / "mapproxy.yaml"
    config.write_text(
        json.dumps(
            {
                "services": {"ogcapi": {"map_srs": ["EPSG:3857", "EPSG:4326"]}},
                "globals": {"image": {"paletted": False}},
                "layers": [{"name": "base", "title": "Base", "sources": ["c"]}],
                "caches": {
                    "c": {
                        "grids": ["GLOBAL_WEBMERCATOR"],
                        "sources": ["wms"],
                        "disable_storage": True,
                    }
                },
                "sources": {
                    "wms": {
                        "type": "wms",
                        "req": {"url": f"{map_server.url}/service", "layers": "base"},
                    }
                },
            }
        )
    )
    proc = subprocess.Popen(
        [str(MAPPROXY_PYTHON), "-c", SERVE_MAPPROXY, str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert port.isdigit(), "MapProxy did not start"
        yield f"http://127.0.0.1:{port}/ogcapi"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_tiles_and_maps_from_mapproxy_7s_ogc_api(
    tmp_path: Path, mapproxy_ogcapi: str, map_server: MapServer
) -> None:
    config = conf(mapproxy_ogcapi)
    config["globals"]["http"]["client_timeout"] = 10
    app = make_app(tmp_path / "tilegate", config)
    status, _, data = get(app, "/tiles/t/EPSG3857/3/1/6.png", "origin=nw")
    assert status == 200, data
    assert same_pixels(data, TileCoord(1, 6, 3))
    for srs, bbox in (
        ("EPSG:3857", (-1000000.0, -500000.0, 1000000.0, 500000.0)),
        ("EPSG:4326", (-10.0, -5.0, 10.0, 5.0)),
    ):
        status, _, data = getmap(
            app,
            layers="m",
            srs=srs,
            bbox=",".join(map(str, bbox)),
            width=200,
            height=100,
        )
        assert status == 200, data
        # MapProxy draws the map from its tiles (resampled): within a few levels of the truth.
        assert largest_difference(data, render(bbox, (200, 100), srs)) <= 6
    # MapProxy asked the map server's WMS for what it served us.
    assert any(r.params.get("REQUEST") == "GetMap" for r in map_server.requests)
