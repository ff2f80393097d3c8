"""Tilegate under gunicorn behind a real nginx at a sub-path: public URLs, Vary, hostile headers."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from owslib.wmts import WebMapTileService

from domain.grid import TileCoord
from entrypoints.http import PROXY_VARY, Request
from tests.e2e.conftest import Server, fetch, start_gunicorn, stop
from tests.e2e.nginx import Nginx, needs_nginx
from tests.e2e.test_tile_services import assert_same_pixels, direct_render, write_config
from tests.mapserver import MapServer

pytestmark = needs_nginx

# The deployment guide's location, verbatim but for the port; `/cached/` adds a front cache
# that honours Vary, `/ignores-vary/` one that does not (the control: poisoning is detectable).
_PROXY = """\
        location /{name}/ {{
            proxy_pass http://127.0.0.1:{port}/;
            proxy_set_header X-Script-Name /{name};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
{extra}
        }}
"""
_CACHE = """\
            proxy_cache {zone};
            proxy_cache_valid 200 10m;
            add_header X-Cache-Status $upstream_cache_status;"""
_NAMESPACES = (
    "http://www.opengis.net/",
    "http://www.w3.org/",
    "http://schemas.opengis",
)
_URL = re.compile(r"https?://[^\s\"'<>]+")


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, upstream: MapServer
) -> Iterator[tuple[Server, Nginx]]:
    server = start_gunicorn(write_config(tmp_path_factory.mktemp("app"), upstream))
    port = server.url.rsplit(":", 1)[1]
    locations = [
        _PROXY.format(name="maps", port=port, extra=""),
        _PROXY.format(name="cached", port=port, extra=_CACHE.format(zone="front")),
        _PROXY.format(
            name="ignores-vary",
            port=port,
            extra=_CACHE.format(zone="novary")
            + "\n            proxy_ignore_headers Vary;",
        ),
    ]
    directory = tmp_path_factory.mktemp("nginx")
    nginx = Nginx(
        directory,
        "".join(locations),
        http="\n".join(
            f"    proxy_cache_path {directory}/{zone} keys_zone={zone}:1m;"
            for zone in ("front", "novary")
        ),
    )
    try:
        with nginx:
            yield server, nginx
    finally:
        stop(server.proc)


def public_urls(body: bytes) -> list[str]:
    text = body.decode().replace("&amp;", "&")
    return [u for u in _URL.findall(text) if not u.startswith(_NAMESPACES)]


@pytest.mark.parametrize(
    "path",
    [
        "/tms/1.0.0/",
        "/tms/1.0.0/osm/EPSG3857",
        "/wmts/1.0.0/WMTSCapabilities.xml",
        "/service?REQUEST=GetCapabilities&SERVICE=WMTS",
        "/demo/",
        "/demo/?wmts_layer=osm&grid=GLOBAL_WEBMERCATOR",
        "/demo/?tms_layer=osm&grid=GLOBAL_MERCATOR",
        "/",
    ],
)
def test_every_url_carries_the_public_host_and_sub_path(
    stack: tuple[Server, Nginx], path: str
) -> None:
    _, nginx = stack
    status, headers, body = fetch(f"{nginx.url}/maps{path}")
    assert status == 200
    urls = public_urls(body)
    assert urls, body[:300]
    assert [u for u in urls if not u.startswith(f"{nginx.url}/maps/")] == []
    assert headers["Vary"] == PROXY_VARY


def test_owslib_fetches_a_tile_through_nginx(
    stack: tuple[Server, Nginx], upstream: MapServer
) -> None:
    _, nginx = stack
    wmts = WebMapTileService(f"{nginx.url}/maps/wmts/1.0.0/WMTSCapabilities.xml")
    template = wmts.contents["osm"].resourceURLs[0]["template"]
    assert template.startswith(f"{nginx.url}/maps/wmts/osm/")
    tile = wmts.gettile(
        layer="osm",
        tilematrixset="GLOBAL_WEBMERCATOR",
        tilematrix="04",
        row=7,
        column=9,
        format="image/png",
    )
    assert_same_pixels(tile.read(), direct_render(upstream, TileCoord(9, 7, 4)))


def poison(nginx: Nginx, location: str) -> tuple[bytes, bytes]:
    """What the attacker got, then what the next honest client gets, through a front cache."""
    url = f"{nginx.url}/{location}/wmts/1.0.0/WMTSCapabilities.xml"
    _, headers, forged = fetch(url, {"X-Forwarded-Host": "evil.example"})
    assert headers["X-Cache-Status"] == "MISS"
    _, _, honest = fetch(url)
    return forged, honest


def test_forged_forwarded_host_cannot_poison_a_front_cache(
    stack: tuple[Server, Nginx],
) -> None:
    _, nginx = stack
    forged, honest = poison(nginx, "cached")
    assert b"http://evil.example/cached/wmts" in forged  # honoured for its sender only
    assert b"evil.example" not in honest
    assert f"{nginx.url}/cached/wmts".encode() in honest
    # The same front cache told to ignore Vary serves the forged answer to everyone.
    _, poisoned = poison(nginx, "ignores-vary")
    assert b"http://evil.example/ignores-vary/wmts" in poisoned


@pytest.mark.parametrize(
    "hostile",
    [
        'evil.example"><script>alert(1)</script>',
        "evil.example\r\nSet-Cookie: a=b",
        "evil example",
        "evil.example/<img src=x>",
        "evil.example:80:80",
        "",
    ],
)
def test_hostile_forwarded_host_falls_back_to_host(hostile: str) -> None:
    request = Request.from_environ(
        {"HTTP_HOST": "maps.example:8080", "HTTP_X_FORWARDED_HOST": hostile}
    )
    assert request.base_url == "http://maps.example:8080"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"HTTP_HOST": "<b>", "SERVER_NAME": "srv", "SERVER_PORT": "81"},
            "http://srv:81",
        ),
        (
            {"HTTP_HOST": "a b", "SERVER_NAME": "<x>", "SERVER_PORT": "1"},
            "http://localhost",
        ),
        (
            {"HTTP_X_FORWARDED_HOST": "Tiles.example, proxy2", "HTTP_HOST": "x"},
            "http://Tiles.example",
        ),
        (
            {"HTTP_HOST": "[::1]:8080", "HTTP_X_FORWARDED_PROTO": "HTTPS"},
            "https://[::1]:8080",
        ),
        ({"HTTP_HOST": "h", "HTTP_X_FORWARDED_PROTO": "javascript"}, "http://h"),
        ({"HTTP_HOST": "h", "HTTP_X_SCRIPT_NAME": "/maps/"}, "http://h/maps"),
        ({"HTTP_HOST": "h", "HTTP_X_SCRIPT_NAME": "/a b"}, "http://h"),
        ({"HTTP_HOST": "h", "HTTP_X_SCRIPT_NAME": '/"><script>'}, "http://h"),
        ({"HTTP_HOST": "h", "HTTP_X_SCRIPT_NAME": "//evil.example"}, "http://h"),
        (
            {
                "HTTP_HOST": "h",
                "HTTP_X_SCRIPT_NAME": "/x\r\nA: b",
                "SCRIPT_NAME": "/app",
            },
            "http://h/app",
        ),
    ],
)
def test_base_url_takes_only_well_formed_header_values(
    environ: dict[str, str], expected: str
) -> None:
    assert Request.from_environ(environ).base_url == expected


def test_hostile_headers_do_not_reach_capabilities_through_gunicorn(
    stack: tuple[Server, Nginx],
) -> None:
    server, _ = stack
    status, _, body = fetch(
        f"{server.url}/wmts/1.0.0/WMTSCapabilities.xml",
        {"X-Forwarded-Host": "evil.example\"'<x>", "X-Script-Name": "/<script>"},
    )
    assert status == 200
    assert b"evil" not in body
    assert b"<script>" not in body
    assert f"{server.url}/wmts/osm/".encode() in body
