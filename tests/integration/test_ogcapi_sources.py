"""`type: ogcapitiles` and `type: ogcapimaps` sources against the test map server's OGC API
(tests/ogcapi_upstream.py): what is asked upstream, the pixels served, limits, failures."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageChops

from adapters.config import parse_config
from adapters.ogcapi_tiles_source import parse_tile_matrix_set
from domain.bbox import Bbox
from domain.errors import ConfigError
from domain.grid import TileCoord
from entrypoints.app import TilegateApp
from tests.integration.test_app import get, make_app, same_pixels
from tests.integration.test_wms_service import getmap
from tests.mapproxy7 import MAPPROXY_PYTHON
from tests.mapserver import MapServer, render
from tests.ogcapi_upstream import CRS84, EPSG

WEB_MERCATOR_QUAD = [
    "/ogcapi/collections/base",
    "/ogcapi/collections/base/tiles",
    "/ogcapi/collections/base/tiles/WebMercatorQuad",
    "/ogcapi/tileMatrixSets/WebMercatorQuad",
]


def conf(landing: str, **sources: dict[str, Any]) -> dict[str, Any]:
    """Layer `t` (cache `tc` of source `ot`, tiles of collection base), layer `m` (source
    `om` directly, maps of collection base) and layer `mc` (cache `mc` of `om`)."""
    own = {
        "ot": {
            "type": "ogcapitiles",
            "landingpage_url": landing,
            "collection": "base",
            "tile_matrix_set_id": "WebMercatorQuad",
        },
        "om": {"type": "ogcapimaps", "landingpage_url": landing, "collection": "base"},
    }
    return {
        "services": {
            "tms": None,
            "wms": {"srs": ["EPSG:3857", "EPSG:4326", "EPSG:25832"]},
        },
        "globals": {
            "image": {"paletted": False},
            "http": {"client_timeout": 0.5},
        },
        "layers": [
            {"name": "t", "title": "Tiles", "sources": ["tc"]},
            {"name": "m", "title": "Maps", "sources": ["om"]},
            {"name": "mc", "title": "Cached maps", "sources": ["mc"]},
        ],
        "caches": {
            "tc": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["ot"]},
            "mc": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["om"]},
        },
        "sources": {
            name: own.get(name, {}) | sources.get(name, {})
            for name in own.keys() | sources.keys()
        },
    }


def app_for(
    tmp_path: Path, server: MapServer, **sources: dict[str, Any]
) -> TilegateApp:
    return make_app(tmp_path, conf(f"{server.url}/ogcapi", **sources))


def asked(server: MapServer) -> list[str]:
    return [r.path for r in server.requests]


def pixels(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGBA")


def largest_difference(data: bytes, expected: Image.Image) -> int:
    """The largest difference of a colour channel between data's pixels and expected's."""
    got = np.asarray(pixels(data).convert("RGB"), dtype=np.int16)
    return int(np.abs(got - np.asarray(expected.convert("RGB"), dtype=np.int16)).max())


def same_image(data: bytes, expected: Image.Image) -> bool:
    return (
        ImageChops.difference(pixels(data), expected.convert("RGBA")).getbbox() is None
    )


# OGC API - Tiles


def test_tiles_are_found_from_the_collection_and_fetched_once(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(tmp_path, map_server)
    assert map_server.requests == []  # nothing is asked before a tile is
    status, _, data = get(app, "/tms/1.0.0/t/EPSG3857/2/1/1.png")
    assert status == 200
    # TMS level 2 row 1 (from the south) is the grid's level 3 row 6 (from the north).
    assert same_pixels(data, TileCoord(1, 6, 3))
    tile = "/ogcapi/collections/base/tiles/WebMercatorQuad/3/6/1"
    assert asked(map_server) == [*WEB_MERCATOR_QUAD, tile]
    assert map_server.requests[-1].params == {"F": "png"}
    assert all(
        r.headers["accept"] == "application/json" for r in map_server.requests[:4]
    )
    # Discovery is kept, the tile is cached: one more request for one more tile.
    assert get(app, "/tms/1.0.0/t/EPSG3857/2/1/1.png")[2] == data
    status, _, other = get(app, "/tiles/t/EPSG3857/4/8/5.png", "origin=nw")
    assert status == 200
    assert same_pixels(other, TileCoord(8, 5, 4))
    assert asked(map_server)[5:] == [
        "/ogcapi/collections/base/tiles/WebMercatorQuad/4/5/8"
    ]


def test_wms_maps_from_an_ogcapi_tiles_cache(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(tmp_path, map_server)
    world = 20037508.342789244
    status, _, data = getmap(
        app, layers="t", bbox=f"0,0,{world},{world}", width=256, height=256
    )
    assert status == 200, data
    # The north-east quarter of the world is tile (1, 0) of level 1.
    assert same_pixels(data, TileCoord(1, 0, 1))
    assert (
        asked(map_server)[-1] == "/ogcapi/collections/base/tiles/WebMercatorQuad/1/0/1"
    )


def test_a_tile_matrix_set_of_the_1_0_encoding_is_read_in_its_axis_order() -> None:
    # WMTS-style: no cellSize, the scale of 0.28 mm pixels, topLeftCorner lat/lon for EPSG:4326.
    tms = parse_tile_matrix_set(
        {
            "identifier": "geo",
            "crs": "urn:ogc:def:crs:EPSG::4326",
            "tileMatrices": [
                {
                    "id": "0",
                    "scaleDenominator": 279541132.0143589,
                    "topLeftCorner": [90, -180],
                    "tileWidth": 256,
                    "tileHeight": 256,
                    "matrixWidth": 2,
                    "matrixHeight": 1,
                }
            ],
        },
        "http://example.org/tms",
    )
    matrix = tms.matrices[0]
    assert matrix.origin == (-180, 90)
    assert matrix.cell_size == pytest.approx(180 / 256)
    assert tms.tile_for(Bbox(0, -90, 180, 90), (256, 256)) == (matrix, 1, 0)


def test_geodetic_cache_from_worldcrs84quad_of_the_landing_page(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = conf(
        f"{map_server.url}/ogcapi/",
        ot={"collection": None, "tile_matrix_set_id": "WorldCRS84Quad"},
    )
    del config["sources"]["ot"]["collection"]
    config["caches"]["tc"]["grids"] = ["GLOBAL_GEODETIC"]
    app = make_app(tmp_path, config)
    status, _, data = get(app, "/tiles/t/EPSG4326/1/1/0.png")
    assert status == 200
    assert same_image(data, render((0, -90, 180, 90), (256, 256), "EPSG:4326"))
    assert asked(map_server) == [
        "/ogcapi",
        "/ogcapi/tiles",
        "/ogcapi/tiles/WorldCRS84Quad",
        "/ogcapi/tileMatrixSets/WorldCRS84Quad",
        "/ogcapi/tiles/WorldCRS84Quad/0/0/1",
    ]
    # Level 0 of GLOBAL_GEODETIC (one tile reaching past 90°) is no tile of WorldCRS84Quad.
    status, _, body = get(app, "/tiles/t/EPSG4326/0/0/0.png")
    assert status == 502
    assert b"no tile of tile matrix set WorldCRS84Quad" in body


def test_a_grid_in_an_srs_without_tileset_is_a_502_naming_what_is_offered(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = conf(f"{map_server.url}/ogcapi")
    config["grids"] = {
        "utm": {"srs": "EPSG:25832", "bbox": [0, 5000000, 1000000, 6000000]}
    }
    config["caches"]["tc"]["grids"] = ["utm"]
    config["services"] = {"tms": None}
    config["layers"] = config["layers"][:1]
    app = make_app(tmp_path, config)
    status, _, body = get(app, "/tiles/t/EPSG25832/0/0/0.png")
    assert status == 502
    assert b"no map tileset in EPSG:25832 (in: EPSG:3857)" in body


def test_tiles_outside_the_coverage_and_of_seed_only_sources_are_blank_without_requests(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(
        tmp_path,
        map_server,
        ot={"coverage": {"bbox": [5, 45, 15, 55], "srs": "EPSG:4326"}},
    )
    status, _, data = get(app, "/tiles/t/EPSG3857/4/1/1.png", "origin=nw")  # Pacific
    assert status == 200
    assert pixels(data).getchannel("A").getextrema() == (0, 0)
    assert map_server.requests == []
    assert get(app, "/tiles/t/EPSG3857/4/8/5.png", "origin=nw")[0] == 200  # Europe
    assert (
        asked(map_server)[-1] == "/ogcapi/collections/base/tiles/WebMercatorQuad/4/5/8"
    )

    seed_only = app_for(tmp_path / "seed", map_server, ot={"seed_only": True})
    map_server.reset()
    status, _, data = get(seed_only, "/tiles/t/EPSG3857/4/8/5.png", "origin=nw")
    assert status == 200
    assert pixels(data).getchannel("A").getextrema() == (0, 0)
    assert map_server.requests == []


# OGC API - Maps


def test_maps_send_bbox_crs_size_as_mapproxy_and_return_the_servers_pixels(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(tmp_path, map_server, om={"transparent": True, "bgcolor": "#ff0000"})
    bbox = (-1000000.0, -500000.0, 1000000.0, 500000.0)
    status, _, data = getmap(
        app, layers="m", bbox=",".join(map(str, bbox)), width=200, height=100
    )
    assert status == 200, data
    assert asked(map_server) == [
        "/ogcapi/collections/base",
        "/ogcapi/collections/base/map",
    ]
    assert map_server.requests[-1].params == {
        "F": "png",
        "BBOX": "-1000000.0,-500000.0,1000000.0,500000.0",
        "BBOX-CRS": EPSG + "3857",
        "CRS": EPSG + "3857",
        "WIDTH": "200",
        "HEIGHT": "100",
        "TRANSPARENT": "true",
        "BGCOLOR": "0xFF0000",
    }
    assert same_image(data, render(bbox, (200, 100), "EPSG:3857"))


def test_maps_in_epsg4326_send_a_crs84_bbox(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(tmp_path, map_server)
    status, _, data = getmap(
        app,
        version="1.3.0",
        layers="m",
        crs="EPSG:4326",
        bbox="-20,-10,20,10",
        width=100,
        height=50,
        srs=None,
    )
    assert status == 200, data
    # WMS 1.3.0 gave lat/lon; the map server gets lon/lat and no bbox-crs (CRS84 is the default).
    assert map_server.requests[-1].params == {
        "F": "png",
        "BBOX": "-10.0,-20.0,10.0,20.0",
        "CRS": CRS84,
        "WIDTH": "100",
        "HEIGHT": "50",
    }
    assert same_image(data, render((-10, -20, 10, 20), (100, 50), "EPSG:4326"))


def test_maps_in_an_srs_the_server_does_not_list_are_warped_from_one_it_does(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(tmp_path, map_server)
    status, _, data = getmap(
        app,
        layers="m",
        srs="EPSG:25832",
        bbox="400000,5000000,600000,6000000",
        width=100,
        height=100,
    )
    assert status == 200, data
    assert pixels(data).size == (100, 100)
    assert map_server.requests[-1].params["CRS"] == EPSG + "3857"


def test_supported_srs_replaces_what_the_server_lists(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(tmp_path, map_server, om={"supported_srs": ["EPSG:4326"]})
    status, _, data = getmap(
        app, layers="m", bbox="-1000000,-1000000,1000000,1000000", width=100, height=100
    )
    assert status == 200, data
    sent = map_server.requests[-1].params
    # Only CRS84: neither bbox-crs nor crs is sent, as by MapProxy.
    assert "CRS" not in sent
    assert "BBOX-CRS" not in sent
    assert [float(v) for v in sent["BBOX"].split(",")] == pytest.approx(
        [-8.983152841195214, -8.946573850543412, 8.983152841195214, 8.946573850543412]
    )


def test_transparent_color_turns_the_colour_transparent(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(
        tmp_path,
        map_server,
        om={
            "image": {"transparent_color": "#ffffff", "transparent_color_tolerance": 0}
        },
    )
    # Half the map is east of 180°, where the map server draws white.
    status, _, data = getmap(
        app,
        layers="m",
        srs="EPSG:4326",
        bbox="170,-10,190,10",
        width=100,
        height=100,
        transparent="true",
    )
    assert status == 200, data
    alpha = pixels(data).getchannel("A")
    assert alpha.getpixel((25, 50)) == 255
    assert alpha.getpixel((75, 50)) == 0


def test_cached_maps_come_as_meta_tiles(tmp_path: Path, map_server: MapServer) -> None:
    app = app_for(tmp_path, map_server)
    status, _, data = get(app, "/tiles/mc/EPSG3857/4/5/6.png", "origin=nw")
    assert status == 200
    assert same_pixels(data, TileCoord(5, 6, 4))
    maps = [r for r in map_server.requests if r.path.endswith("/map")]
    assert len(maps) == 1
    assert maps[0].params["WIDTH"] == str(4 * 256 + 2 * 80)


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
