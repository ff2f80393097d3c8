"""Failing sources are never cached and never relayed: each fault of the map server, asked through
each service, is an OGC exception of that service with 502 (bad answer) or 504 (timeout), within
the source timeout + 0.5 s; nothing is stored; the first request after the source recovers gets
the real tile or map.
"""

from __future__ import annotations

import io
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import attrs
import numpy as np
import pytest
import yaml
from PIL import Image, ImageChops

from domain.grid import TileCoord
from tests.e2e.conftest import fetch, free_port, start_gunicorn, stop
from tests.integration.test_app import get, make_app, same_pixels
from tests.mapserver import MapServer, render

# The source timeout (globals.http.client_timeout) and how much later the answer may come.
TIMEOUT = 1.0
SLACK = 0.5
# A slow source answers this much later than the timeout allows.
SLOW = TIMEOUT + 2.0
# One grid tile (rows from the top); every tile service asks for it in its own URL scheme.
COORD = TileCoord(5, 2, 3)
WMS_BBOX = (-10_000_000.0, -5_000_000.0, 10_000_000.0, 5_000_000.0)
WMS_SIZE = (400, 200)
OWS = "{http://www.opengis.net/ows/1.1}"


@attrs.frozen
class Fault:
    """A map server fault (or none but a dead port), and the status the client must get."""

    name: str
    status: int
    fault: str | None = None
    http_status: int | None = None
    delay: float = 0.0


FAULTS = [
    Fault("http-500", 502, fault="error"),
    Fault("http-404", 502, http_status=404),
    Fault("service-exception", 502, fault="exception"),
    Fault("html", 502, fault="html"),
    Fault("garbage", 502, fault="garbage"),
    Fault("empty", 502, fault="empty"),
    Fault("truncated", 502, fault="truncated"),
    Fault("wrong-size", 502, fault="wrongsize"),
    Fault("dropped", 502, fault="drop"),
    Fault("refused", 502),
    Fault("timeout", 504, delay=SLOW),
    # every read gets data in time, the whole answer does not come in time
    Fault("trickle", 504, fault="trickle", delay=SLOW),
]


@attrs.frozen
class Service:
    """How one service asks for COORD (or a map), and how its exceptions look."""

    name: str
    path: str
    query: str
    exception_root: str
    tile: bool = True


def _wmts_kvp() -> str:
    return urlencode(
        {
            "SERVICE": "WMTS",
            "REQUEST": "GetTile",
            "VERSION": "1.0.0",
            "LAYER": "cached",
            "STYLE": "default",
            "FORMAT": "image/png",
            "TILEMATRIXSET": "GLOBAL_WEBMERCATOR",
            "TILEMATRIX": f"{COORD.z:02d}",
            "TILEROW": str(COORD.y),
            "TILECOL": str(COORD.x),
        }
    )


def _getmap(layer: str) -> str:
    return urlencode(
        {
            "SERVICE": "WMS",
            "REQUEST": "GetMap",
            "VERSION": "1.1.1",
            "LAYERS": layer,
            "STYLES": "",
            "SRS": "EPSG:3857",
            "BBOX": ",".join(map(repr, WMS_BBOX)),
            "WIDTH": str(WMS_SIZE[0]),
            "HEIGHT": str(WMS_SIZE[1]),
            "FORMAT": "image/png",
        }
    )


_ROW_FROM_SOUTH = 2**COORD.z - 1 - COORD.y
SERVICES = [
    # the web mercator TMS profile starts one level below the grid
    Service(
        "tms",
        f"/tms/1.0.0/cached/EPSG3857/{COORD.z - 1}/{COORD.x}/{_ROW_FROM_SOUTH}.png",
        "",
        "TileMapServerError",
    ),
    Service(
        "tms-tile-source",
        f"/tms/1.0.0/xyz/EPSG3857/{COORD.z - 1}/{COORD.x}/{_ROW_FROM_SOUTH}.png",
        "",
        "TileMapServerError",
    ),
    Service(
        "kml",
        f"/kml/cached/EPSG3857/{COORD.z}/{COORD.x}/{_ROW_FROM_SOUTH}.png",
        "",
        "TileMapServerError",
    ),
    Service(
        "wmts-rest",
        f"/wmts/cached/GLOBAL_WEBMERCATOR/{COORD.z:02d}/{COORD.x}/{COORD.y}.png",
        "",
        f"{OWS}ExceptionReport",
    ),
    Service(
        "wmts-kvp",
        "/service",
        _wmts_kvp(),
        f"{OWS}ExceptionReport",
    ),
    Service(
        "wms-cached",
        "/service",
        _getmap("cached"),
        "ServiceExceptionReport",
        tile=False,
    ),
    Service(
        "wms-direct",
        "/service",
        _getmap("direct"),
        "ServiceExceptionReport",
        tile=False,
    ),
]


def config(
    base_url: str,
    client_timeout: float = TIMEOUT,
    lock_timeout: float = 60.0,
    meta_size: tuple[int, int] = (2, 2),
) -> dict[str, Any]:
    """Layers `cached` (a WMS source behind a cache), `direct` (the WMS source) and `xyz` (a tile
    source behind a cache), served by TMS, KML, WMTS and WMS."""
    return {
        "services": {
            "tms": None,
            "kml": None,
            "wmts": None,
            "wms": {"md": {"title": "T"}},
        },
        "globals": {
            "image": {"paletted": False},
            "http": {"client_timeout": client_timeout},
            "cache": {"lock_timeout": lock_timeout},
        },
        "layers": [
            {"name": "cached", "title": "Cached", "sources": ["c"]},
            {"name": "direct", "title": "Direct", "sources": ["w"]},
            {"name": "xyz", "title": "XYZ", "sources": ["xyz_cache"]},
        ],
        "caches": {
            "c": {
                "grids": ["GLOBAL_WEBMERCATOR"],
                "sources": ["w"],
                "meta_size": list(meta_size),
                "meta_buffer": 0,
            },
            "xyz_cache": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["xyz"]},
        },
        "sources": {
            "w": {
                "type": "wms",
                "req": {"url": f"{base_url}/service", "layers": "x"},
                "supported_srs": ["EPSG:3857"],
            },
            "xyz": {
                "type": "tile",
                "url": f"{base_url}/tiles/%(z)s/%(x)s/%(y)s.png",
                "grid": "GLOBAL_WEBMERCATOR",
            },
        },
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[MapServer]:
    with MapServer() as server:
        yield server


def stored_files(cache_dir: Path) -> list[Path]:
    """Every file under the cache directory but lock files."""
    return [p for p in cache_dir.rglob("*") if p.is_file() and p.suffix != ".lck"]


def assert_ogc_exception(
    body: bytes, headers: dict[str, str], service: Service
) -> None:
    """body is the service's exception document with an upstream failure's code and message."""
    assert "image" not in headers["Content-Type"]
    root = ET.fromstring(body)  # noqa: S314 - our own answer, in a test
    assert root.tag == service.exception_root
    if root.tag == f"{OWS}ExceptionReport":
        exc = root.find(f"{OWS}Exception")
        assert exc is not None
        assert exc.get("exceptionCode") == "NoApplicableCode"
        text = exc.findtext(f"{OWS}ExceptionText")
    elif root.tag == "ServiceExceptionReport":
        text = root.findtext("ServiceException")
    else:
        text = root.findtext("Message")
    assert text  # says what went wrong


def assert_real_answer(
    status: int, headers: dict[str, str], body: bytes, service: Service
) -> None:
    assert status == 200, body[:300]
    assert headers["Content-Type"] == "image/png"
    if service.tile:
        assert same_pixels(body, COORD)
        return
    got = Image.open(io.BytesIO(body)).convert("RGB")
    expected = render(WMS_BBOX, WMS_SIZE, "EPSG:3857")
    assert got.size == WMS_SIZE
    if service.name == "wms-direct":
        assert ImageChops.difference(got, expected).getbbox() is None
    else:
        # drawn from cached tiles, resampled: close to the source's map, not equal
        assert np.asarray(ImageChops.difference(got, expected)).max() <= 8


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_failing_source_is_an_ogc_error_never_stored_then_recovers(
    tmp_path: Path, upstream: MapServer, fault: Fault, service: Service
) -> None:
    upstream.reset()
    if fault.name == "refused":
        # nothing listens there yet; the source "recovers" when a server starts on that port
        port = free_port()
        app = make_app(tmp_path, config(f"http://127.0.0.1:{port}"))
    else:
        app = make_app(tmp_path, config(upstream.url))
        upstream.add_fault(fault.fault, delay=fault.delay, status=fault.http_status)
    cache_dir = tmp_path / "cache_data"

    started = time.monotonic()
    status, headers, body = get(app, service.path, service.query)
    elapsed = time.monotonic() - started

    assert status == fault.status, body[:300]
    assert elapsed < TIMEOUT + SLACK
    assert_ogc_exception(body, headers, service)
    if fault.name != "refused":
        assert upstream.stats()["total"] >= 1  # the fault was really met
    assert stored_files(cache_dir) == []

    upstream.reset()
    if fault.name == "refused":
        with MapServer(port=port) as recovered:
            answer = get(app, service.path, service.query)
            assert recovered.stats()["total"] >= 1
    else:
        answer = get(app, service.path, service.query)
    assert_real_answer(*answer, service=service)
    if service.name != "wms-direct":
        assert stored_files(cache_dir) != []


def test_wms_image_exceptions_keep_the_upstream_status(
    tmp_path: Path, upstream: MapServer
) -> None:
    """A client that asks for exceptions as images still learns from the status that it failed."""
    upstream.reset()
    app = make_app(tmp_path, config(upstream.url))
    upstream.add_fault("garbage")
    for layer in ("direct", "cached"):
        query = _getmap(layer) + "&EXCEPTIONS=application/vnd.ogc.se_inimage"
        status, headers, body = get(app, "/service", query)
        assert (status, headers["Content-Type"]) == (502, "image/png")
        assert Image.open(io.BytesIO(body)).size == WMS_SIZE
    upstream.reset()
    upstream.add_fault(delay=SLOW)
    status, _, _ = get(app, "/service", _getmap("direct") + "&EXCEPTIONS=blank")
    assert status == 504
    assert stored_files(tmp_path / "cache_data") == []


def test_under_gunicorn_a_timeout_is_a_504_in_time_and_garbage_is_never_relayed(
    tmp_path: Path, upstream: MapServer
) -> None:
    upstream.reset()
    conf = tmp_path / "mapproxy.yaml"
    conf.write_text(yaml.safe_dump(config(upstream.url)))
    server = start_gunicorn(conf, workers=2, extra=("--threads", "4"))
    try:
        by_service = {s.name: s for s in SERVICES}
        for fault in (f for f in FAULTS if f.name in ("timeout", "garbage")):
            upstream.reset()
            upstream.add_fault(fault.fault, delay=fault.delay)
            for name in ("tms", "wmts-rest", "wms-direct", "wms-cached"):
                service = by_service[name]
                url = f"{server.url}{service.path}" + (
                    f"?{service.query}" if service.query else ""
                )
                started = time.monotonic()
                status, headers, body = fetch(url)
                elapsed = time.monotonic() - started
                assert status == fault.status, (name, body[:300])
                assert elapsed < TIMEOUT + SLACK, (name, elapsed)
                assert_ogc_exception(body, headers, service)
        assert stored_files(tmp_path / "cache_data") == []
        upstream.reset()
        status, headers, body = fetch(f"{server.url}{by_service['tms'].path}")
        assert_real_answer(status, headers, body, by_service["tms"])
    finally:
        stop(server.proc)
