"""The Redis cache (`type: redis`) against a real redis-server, the local map server and MapProxy 7."""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from adapters.config import load_config
from domain.errors import ConfigError
from domain.grid import TileCoord
from domain.tiles import get_tile
from entrypoints.app import TilegateApp
from entrypoints.bootstrap import bootstrap
from tests.e2e.conftest import free_port, run_command
from tests.integration.one_cache import one_cache_conf
from tests.integration.redis_server import redis_server
from tests.integration.test_app import get, make_app
from tests.integration.test_sqlite_caches import (
    green_at_centre,
)
from tests.mapproxy7 import mapproxy_seed, needs_mapproxy
from tests.mapserver import MapServer

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server missing: install Debian's redis-server (.ci/install-system-packages)",
)
# TMS level 0 of GLOBAL_MERCATOR is grid level 1; row 1 counted from the south is the north.
TILE_URL = "/tms/1.0.0/osm/EPSG900913/0/0/1.png"
TILE_KEY = "1-0-1"


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    with redis_server(tmp_path) as port:
        yield port


def conf(server: MapServer, cache: dict[str, Any]) -> dict[str, Any]:
    return one_cache_conf(server, {"type": "redis", **cache})


def test_tile_is_stored_in_redis_with_the_default_ttl_and_served_from_it(
    tmp_path: Path, map_server: MapServer, redis_port: int
) -> None:
    app = make_app(tmp_path, conf(map_server, {"port": redis_port}))
    status, headers, body = get(app, TILE_URL)
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert green_at_centre(body) > 128
    assert len(map_server.requests) == 1
    with redis.Redis(port=redis_port) as client:
        # MapProxy's default prefix: the cache's name and the grid's name.
        assert client.keys() == [f"osm_cache_GLOBAL_MERCATOR-{TILE_KEY}".encode()]
        assert client.get(f"osm_cache_GLOBAL_MERCATOR-{TILE_KEY}") == body
        assert 3590 < client.ttl(f"osm_cache_GLOBAL_MERCATOR-{TILE_KEY}") <= 3600
    status, again_headers, again = get(app, TILE_URL)
    assert (status, again) == (200, body)
    assert len(map_server.requests) == 1
    # Its age comes from the expiry left: stored a moment ago, not now.
    stored_at = parsedate_to_datetime(headers["Last-Modified"]).timestamp()
    assert parsedate_to_datetime(again_headers["Last-Modified"]).timestamp() in {
        stored_at,
        stored_at + 1,
    }


def test_prefix_db_and_default_ttl_are_used(
    tmp_path: Path, map_server: MapServer, redis_port: int
) -> None:
    app = make_app(
        tmp_path,
        conf(
            map_server,
            {"port": redis_port, "db": 3, "prefix": "tiles:", "default_ttl": 100},
        ),
    )
    status, _, body = get(app, TILE_URL)
    assert status == 200
    with redis.Redis(port=redis_port, db=3) as client:
        assert client.keys() == [f"tiles:-{TILE_KEY}".encode()]
        assert client.get(f"tiles:-{TILE_KEY}") == body
        assert 90 < client.ttl(f"tiles:-{TILE_KEY}") <= 100
    with redis.Redis(port=redis_port, db=0) as client:
        assert client.keys() == []


def test_default_ttl_0_keeps_tiles_forever(
    tmp_path: Path, map_server: MapServer, redis_port: int
) -> None:
    app = make_app(tmp_path, conf(map_server, {"port": redis_port, "default_ttl": 0}))
    assert get(app, TILE_URL)[0] == 200
    with redis.Redis(port=redis_port) as client:
        assert client.ttl(f"osm_cache_GLOBAL_MERCATOR-{TILE_KEY}") == -1
    assert get(app, TILE_URL)[0] == 200
    assert len(map_server.requests) == 1


def test_username_and_password_log_in(
    tmp_path: Path, map_server: MapServer, redis_port: int
) -> None:
    secret = secrets.token_hex(8)
    with redis.Redis(port=redis_port) as admin:
        admin.acl_setuser(
            "tiles",
            enabled=True,
            passwords=[f"+{secret}"],
            keys=["*"],
            commands=["+@all"],
        )
        admin.acl_setuser("default", enabled=False)
    good = {"port": redis_port, "username": "tiles", "password": secret}
    app = make_app(tmp_path, conf(map_server, good))
    status, _, body = get(app, TILE_URL)
    assert status == 200
    with redis.Redis(port=redis_port, username="tiles", password=secret) as client:
        assert client.get(f"osm_cache_GLOBAL_MERCATOR-{TILE_KEY}") == body
    # A wrong password is a Redis that refuses: the tile still comes, from the source.
    bad = make_app(tmp_path, conf(map_server, {**good, "password": "wrong"}))
    status, _, again = get(bad, TILE_URL)
    assert (status, again) == (200, body)
    assert len(map_server.requests) == 2


def test_redis_down_serves_tiles_from_the_source_without_storing(
    tmp_path: Path, map_server: MapServer
) -> None:
    # Nothing listens on this port.
    app = make_app(tmp_path, conf(map_server, {"port": free_port()}))
    started = time.monotonic()
    status, headers, body = get(app, TILE_URL)
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert green_at_centre(body) > 128
    status, _, again = get(app, TILE_URL)
    assert (status, again) == (200, body)
    # Not stored: each request asks the source, quickly, not after the client's backoff.
    assert len(map_server.requests) == 2
    assert time.monotonic() - started < 5


def test_redis_stopped_while_serving(
    tmp_path: Path, map_server: MapServer, redis_port: int
) -> None:
    app = make_app(tmp_path, conf(map_server, {"port": redis_port}))
    assert get(app, TILE_URL)[0] == 200
    with redis.Redis(port=redis_port) as client:
        client.shutdown(nosave=True)
    status, _, body = get(app, TILE_URL)
    assert status == 200
    assert green_at_centre(body) > 128
    assert len(map_server.requests) == 2


@pytest.mark.parametrize(
    ("cache", "problem"),
    [
        (
            {"port": "x"},
            "invalid value for type, expected int @ $.caches['c'].cache.port",
        ),
        ({"port": 70000}, "port must be 1 to 65535, got 70000 @ $.caches['c'].cache"),
        (
            {"default_ttl": -1},
            "default_ttl must not be negative, got -1 @ $.caches['c'].cache",
        ),
    ],
)
def test_bad_redis_options_name_their_key(
    tmp_path: Path, cache: dict[str, Any], problem: str
) -> None:
    (tmp_path / "mapproxy.yaml").write_text(
        "sources: {s: {type: debug}}\n"
        f"caches: {{c: {{sources: [s], cache: {{type: redis, {_flow(cache)}}}}}}}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "mapproxy.yaml")
    assert info.value.problems == [problem]


def _flow(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in values.items())


def test_a_cleanup_of_a_redis_cache_is_an_error_line(tmp_path: Path) -> None:
    # As documented: Redis keys are not walked for cleanups, default_ttl expires them.
    (tmp_path / "mapproxy.yaml").write_text(
        "sources: {s: {type: debug}}\n"
        f"caches: {{c: {{sources: [s], cache: {{type: redis, port: {free_port()}}}}}}}\n"
    )
    (tmp_path / "seed.yaml").write_text(
        "cleanups: {old: {caches: [c], levels: {to: 1}, remove_all: true}}\n"
    )
    result = run_command(
        tmp_path, "mapproxy-seed", "-f", "mapproxy.yaml", "-s", "seed.yaml"
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "mapproxy-seed: error: seed.yaml: cache 'c' cannot be cleaned up (its tiles"
        " cannot be listed) @ $.cleanups['old']"
    ]


@needs_mapproxy
def test_tilegate_serves_tiles_mapproxy_stored_and_names_keys_as_it_does(
    tmp_path: Path, map_server: MapServer, redis_port: int
) -> None:
    config = tmp_path / "mapproxy.yaml"

    def write(db: int) -> None:
        config.write_text(
            "services: {tms: }\n"
            "globals: {image: {paletted: false}}\n"
            "layers: [{name: osm, title: OSM, sources: [osm_cache]}]\n"
            f"sources: {{wms: {{type: wms, req: {{url: '{map_server.url}/service',"
            " layers: x}}}\n"
            "caches: {osm_cache: {grids: [GLOBAL_MERCATOR, GLOBAL_WEBMERCATOR],"
            " sources: [wms], meta_size: [1, 1], meta_buffer: 0,"
            f" cache: {{type: redis, port: {redis_port}, db: {db}}}}}}}\n"
        )

    write(db=0)
    mapproxy_seed(
        config,
        "seeds: {s: {caches: [osm_cache], grids: [GLOBAL_MERCATOR], levels: {to: 1}},"
        " w: {caches: [osm_cache], grids: [GLOBAL_WEBMERCATOR], levels: {to: 1}}}\n",
    )
    seeded = len(map_server.requests)
    # Levels 0 and 1: 1 + 4 tiles in each grid.
    assert seeded == 10
    with redis.Redis(port=redis_port) as client:
        stored = client.get(f"osm_cache_GLOBAL_MERCATOR-{TILE_KEY}")
        mapproxy_keys = sorted(client.keys())
    app = TilegateApp.from_state(bootstrap(load_config(config), config))
    status, _, body = get(app, TILE_URL)
    assert (status, body) == (200, stored)
    assert green_at_centre(body) > 128
    assert len(map_server.requests) == seeded
    # Tilegate fills database 1 with the same tiles under the same keys.
    write(db=1)
    state = bootstrap(load_config(config), config)
    for tiles in state.caches["osm_cache"]:
        for z in range(2):
            nx, ny = tiles.grid.sizes[z]
            for x in range(nx):
                for y in range(ny):
                    get_tile(TileCoord(x, y, z), tiles)
    with redis.Redis(port=redis_port, db=1) as client:
        assert sorted(client.keys()) == mapproxy_keys
    assert len(mapproxy_keys) == 10
