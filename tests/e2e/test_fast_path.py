"""The fast path: nginx sends cached tiles from their files, Tilegate makes the misses."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from domain.grid import TileCoord
from tests.e2e.conftest import (
    Server,
    fetch,
    run_command,
    start_gunicorn,
    stop,
)
from tests.e2e.nginx import Nginx, needs_nginx
from tests.e2e.test_tile_services import (
    assert_same_pixels,
    direct_render,
    upstream_getmaps,
)
from tests.mapserver import MapServer

pytestmark = needs_nginx

_SERVER = """\
        location /maps/ {{
            proxy_pass {upstream}/;
            proxy_set_header X-Script-Name /maps;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
        include {fast};
"""
_SAME = (
    "Content-Type",
    "Content-Length",
    "ETag",
    "Last-Modified",
    "Cache-Control",
    "Access-Control-Allow-Origin",
    "X-Content-Type-Options",
)


def write_config(directory: Path, upstream: MapServer) -> Path:
    conf = {
        "services": {"wmts": None, "tms": None},
        "globals": {
            "http": {"access_control_allow_origin": "https://maps.example"},
            "tiles": {"expires_hours": 2},
        },
        "layers": [
            {"name": "osm", "title": "OSM", "sources": ["osm_cache"]},
            {"name": "tc", "title": "tc layout", "sources": ["tc_cache"]},
        ],
        "caches": {
            "osm_cache": {
                "grids": ["GLOBAL_WEBMERCATOR", "GLOBAL_MERCATOR"],
                "sources": ["osm_wms"],
                "cache": {"directory_layout": "tms"},
            },
            "tc_cache": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["osm_wms"]},
        },
        "sources": {
            "osm_wms": {
                "type": "wms",
                "req": {"url": f"{upstream.url}/service", "layers": "base"},
            }
        },
    }
    path = directory / "mapproxy.yaml"
    path.write_text(yaml.safe_dump(conf))
    return path


def generate(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_command(
        config.parent, "tilegate", "nginx-fast-path", "-f", str(config), *args
    )


def start_stack(directory: Path, upstream: MapServer) -> tuple[Server, Nginx]:
    """Tilegate under gunicorn and nginx in front with the generated fast path, as documented."""
    server = start_gunicorn(write_config(directory, upstream))
    fast = directory / "fast-path.conf"
    made = generate(
        server.config, "--upstream", server.url, "--prefix", "/maps", "-o", str(fast)
    )
    assert made.returncode == 0, made.stderr
    nginx = Nginx(directory, _SERVER.format(upstream=server.url, fast=fast))
    try:
        nginx.start()
    except BaseException:
        stop(server.proc)
        raise
    return server, nginx


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, upstream: MapServer
) -> Iterator[tuple[Server, Nginx]]:
    server, nginx = start_stack(tmp_path_factory.mktemp("fast"), upstream)
    yield server, nginx
    nginx.close()
    stop(server.proc)


def test_misses_are_made_by_tilegate_once_per_meta_tile(
    stack: tuple[Server, Nginx], upstream: MapServer
) -> None:
    _, nginx = stack
    upstream.reset()
    urls = [
        f"{nginx.url}/maps/wmts/osm/GLOBAL_WEBMERCATOR/05/{8 + i % 4}/{12 + i // 4 % 4}.png"
        for i in range(24)
    ]
    barrier = threading.Barrier(len(urls))
    answers: list[tuple[int, bytes]] = []

    def client(url: str) -> None:
        barrier.wait()
        status, _, body = fetch(url)
        answers.append((status, body))

    threads = [threading.Thread(target=client, args=(u,)) for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [status for status, _ in answers] == [200] * len(urls)
    _, _, body = fetch(urls[0])  # now a hit
    assert len(upstream_getmaps(upstream)) == 1
    assert_same_pixels(body, direct_render(upstream, TileCoord(8, 12, 5)))


def test_a_hit_from_nginx_has_tilegates_headers_and_bytes(
    stack: tuple[Server, Nginx],
) -> None:
    server, nginx = stack
    path = "/wmts/osm/GLOBAL_WEBMERCATOR/03/2/5.png"
    assert fetch(f"{nginx.url}/maps{path}")[0] == 200  # a miss: now the file exists
    _, tilegate, tilegate_body = fetch(server.url + path)
    status, fast, fast_body = fetch(f"{nginx.url}/maps{path}")
    assert status == 200
    assert fast_body == tilegate_body
    assert {h: fast.get(h) for h in _SAME} == {h: tilegate.get(h) for h in _SAME}
    assert fast["Content-Type"] == "image/png"
    assert fast["Cache-Control"] == "public, max-age=7200, s-maxage=7200"
    assert fast["Access-Control-Allow-Origin"] == "https://maps.example"
    for validator in (
        {"If-None-Match": fast["ETag"]},
        {"If-Modified-Since": fast["Last-Modified"]},
    ):
        status, headers, body = fetch(f"{nginx.url}/maps{path}", validator)
        assert (status, body) == (304, b"")
        assert headers["ETag"] == fast["ETag"]
        assert headers["Cache-Control"] == fast["Cache-Control"]


def test_the_fast_path_serves_nothing_tilegate_would_refuse(
    stack: tuple[Server, Nginx],
) -> None:
    server, nginx = stack
    tiles = Path(server.config).parent / "cache_data" / "osm_cache_EPSG3857"
    # A stray file at a level the grid does not have, and one under a non-numeric name.
    for stray in ("25/0/0.png", "3/a/0.png"):
        (tiles / stray).parent.mkdir(parents=True, exist_ok=True)
        (tiles / stray).write_bytes(b"not a tile")
    status, _, body = fetch(f"{nginx.url}/maps/wmts/osm/GLOBAL_WEBMERCATOR/25/0/0.png")
    assert (status, b"TILEMATRIX 25 does not exist" in body) == (400, True)
    status, _, body = fetch(f"{nginx.url}/maps/wmts/osm/GLOBAL_WEBMERCATOR/03/a/0.png")
    assert (status, b'locator="tilecol"' in body) == (400, True)
    # Tile sets whose stored rows or paths differ from the URL's are left to Tilegate.
    made = generate(server.config, "--upstream", server.url)
    assert made.stdout.count("location ~") == 1
    assert "layer 'tc' in grid 'GLOBAL_WEBMERCATOR': directory_layout tc" in made.stderr
    assert "layer 'osm' in grid 'GLOBAL_MERCATOR': rows are counted" in made.stderr


def test_hits_need_no_tilegate_and_misses_do(
    tmp_path: Path, upstream: MapServer
) -> None:
    server, nginx = start_stack(tmp_path, upstream)
    try:
        url = f"{nginx.url}/maps/wmts/osm/GLOBAL_WEBMERCATOR/02/1/1.png"
        status, _, made = fetch(url)
        assert status == 200
        stop(server.proc)
        assert fetch(url)[:3:2] == (200, made)
        # Level 6 is not made yet (level 2 fits one meta-tile): only Tilegate could.
        miss = f"{nginx.url}/maps/wmts/osm/GLOBAL_WEBMERCATOR/06/1/1.png"
        assert fetch(miss)[0] == 502
    finally:
        nginx.close()
        stop(server.proc)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--prefix", "/a b"), "--prefix must be a plain URL path"),
        (("--upstream", "http://x;evil"), "--upstream must be http://host:port"),
    ],
)
def test_bad_options_are_one_line_errors(
    tmp_path: Path, upstream: MapServer, args: tuple[str, ...], message: str
) -> None:
    made = generate(write_config(tmp_path, upstream), *args)
    assert made.returncode == 1
    assert message in made.stderr
    assert made.stdout == ""


def test_a_missing_config_is_a_one_line_error(tmp_path: Path) -> None:
    made = generate(tmp_path / "nope.yaml")
    assert made.returncode == 1
    assert made.stderr.startswith("tilegate nginx-fast-path: ")
    assert "nope.yaml" in made.stderr
    assert made.stderr.count("\n") == 1
