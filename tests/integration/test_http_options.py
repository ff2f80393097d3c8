"""`http.manage_cookies` against a real local server that hands out a session cookie, and
`http.hide_error_details` (globally and per source) in TMS and WMS error answers."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.conftest import free_port
from tests.integration.test_app import get, make_app

TILE = "/tiles/xyz/EPSG3857/1/0/0.png"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), (0, 128, 0)).save(out, "PNG")
    return out.getvalue()


class CookieServer(ThreadingHTTPServer):
    """Answers every path with a green tile; the first answer sets a session cookie, and
    `cookies` keeps the Cookie header of each request (None where there was none)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CookieHandler)
        self.cookies: list[str | None] = []
        self.tile = _png()


class _CookieHandler(BaseHTTPRequestHandler):
    server: CookieServer

    def do_GET(self) -> None:
        self.server.cookies.append(self.headers.get("Cookie"))
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.server.tile)))
        if len(self.server.cookies) == 1:
            self.send_header("Set-Cookie", "session=s3cr3t; Path=/")
        self.end_headers()
        self.wfile.write(self.server.tile)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def cookie_server() -> Iterator[CookieServer]:
    server = CookieServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def tile_conf(url: str, http: dict[str, Any]) -> dict[str, Any]:
    """TMS over a cache of the tile source at `url`; `http` may hold `globals` and `source`
    http options."""
    source = {"type": "tile", "url": f"{url}/t/%(z)s/%(x)s/%(y)s.png"}
    return {
        "services": {"tms": None},
        "globals": {"image": {"paletted": False}, "http": http.get("globals", {})},
        "layers": [{"name": "xyz", "title": "XYZ", "sources": ["xyz_cache"]}],
        "caches": {"xyz_cache": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["xyz"]}},
        "sources": {
            "xyz": source | ({"http": http["source"]} if "source" in http else {})
        },
    }


@pytest.mark.parametrize(
    ("http", "sent"),
    [
        ({}, None),
        ({"globals": {"manage_cookies": True}}, "session=s3cr3t"),
        ({"source": {"manage_cookies": True}}, "session=s3cr3t"),
        (
            {"globals": {"manage_cookies": True}, "source": {"manage_cookies": False}},
            None,
        ),
    ],
)
def test_manage_cookies_sends_back_what_the_source_set(
    tmp_path: Path, cookie_server: CookieServer, http: dict[str, Any], sent: str | None
) -> None:
    port = cookie_server.server_address[1]
    app = make_app(tmp_path, tile_conf(f"http://127.0.0.1:{port}", http))
    for tile in ("1/0/0", "1/1/0", "1/0/1"):
        assert get(app, f"/tiles/xyz/EPSG3857/{tile}.png")[0] == 200
    assert cookie_server.cookies == [None, sent, sent]


def closed_source_conf(port: int, http: dict[str, Any]) -> dict[str, Any]:
    """A tile source and an uncached WMS layer whose upstream port nobody listens on."""
    conf = tile_conf(f"http://127.0.0.1:{port}", http)
    conf["sources"]["direct"] = {
        "type": "wms",
        "req": {"url": f"http://127.0.0.1:{port}/wms", "layers": "a"},
        **({"http": http["source"]} if "source" in http else {}),
    }
    conf["services"]["wms"] = {"srs": ["EPSG:3857"]}
    conf["services"]["ogcapi"] = {}
    conf["layers"].append({"name": "direct", "title": "Direct", "sources": ["direct"]})
    return conf


WMS_MAP = (
    "SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&LAYERS=direct&STYLES=&SRS=EPSG:3857"
    "&BBOX=0,0,100000,100000&WIDTH=64&HEIGHT=64&FORMAT=image/png"
)


@pytest.mark.parametrize(
    ("http", "shown"),
    [
        ({}, False),
        ({"globals": {"hide_error_details": False}}, True),
        ({"source": {"hide_error_details": False}}, True),
        (
            {
                "globals": {"hide_error_details": False},
                "source": {"hide_error_details": True},
            },
            False,
        ),
    ],
)
def test_hide_error_details_keeps_upstream_urls_out_of_error_answers(
    tmp_path: Path, http: dict[str, Any], shown: bool
) -> None:
    port = free_port()
    app = make_app(tmp_path, closed_source_conf(port, http))
    where = f"127.0.0.1:{port}".encode()
    ogcapi_map = "/ogcapi/collections/direct/map"
    for path, query in ((TILE, ""), ("/service", WMS_MAP), (ogcapi_map, "f=png")):
        status, _, body = get(app, path, query)
        assert status == 502
        assert b"cannot connect to" in body
        assert (where in body) is shown
        assert (b"[source] (details in the server log)" in body) is not shown
