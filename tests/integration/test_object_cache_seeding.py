"""Seeding and cleanups of the object store caches through the installed `mapproxy-seed`, and
both ways with MapProxy 7: its objects served by Tilegate, Tilegate's read by MapProxy."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.blob_cache import BlobCache
from adapters.config import load_config
from adapters.file_cache import LAYOUTS
from domain.grid import TileCoord
from entrypoints.bootstrap import bootstrap
from tests import object_servers
from tests.e2e.conftest import run_command
from tests.integration.store_interop import mapproxy_md5s, tilegate_md5s
from tests.integration.test_app import get, make_app
from tests.mapproxy7 import mapproxy_seed, needs_mapproxy
from tests.mapserver import MapServer
from tests.object_servers import Backend

moto = pytest.fixture(scope="module")(object_servers.moto)
azurite = pytest.fixture(scope="module")(object_servers.azurite)
backend = pytest.fixture(params=["s3", "azureblob"])(object_servers.backend)

LEVELS_0_1 = [
    "0/0/0.png",
    "1/0/0.png",
    "1/0/1.png",
    "1/1/0.png",
    "1/1/1.png",
]


def write_config(root: Path, caches: dict[str, Any], source: dict[str, Any]) -> Path:
    """A mapproxy.yaml of `caches` (GLOBAL_WEBMERCATOR, one tile per request) on `source`."""
    conf = {
        "services": {"tms": None},
        "globals": {"image": {"paletted": False}},
        "layers": [{"name": name, "title": name, "sources": [name]} for name in caches],
        "sources": {"src": source},
        "caches": {
            name: {
                "sources": ["src"],
                "grids": ["GLOBAL_WEBMERCATOR"],
                "meta_size": [1, 1],
                "meta_buffer": 0,
                "cache": cache,
            }
            for name, cache in caches.items()
        },
    }
    path = root / "mapproxy.yaml"
    path.write_text(yaml.safe_dump(conf))
    return path


def seed(root: Path, seed_yaml: str, *names: str) -> subprocess.CompletedProcess[str]:
    (root / "seed.yaml").write_text(seed_yaml)
    result = run_command(
        root, "mapproxy-seed", "-f", "mapproxy.yaml", "-s", "seed.yaml", *names
    )
    assert result.returncode == 0, result.stderr
    return result


def test_seeding_and_cleanups(tmp_path: Path, backend: Backend) -> None:
    write_config(tmp_path, {"osm": backend.cache}, {"type": "debug"})
    tasks = """
seeds:
  all: {caches: [osm], levels: {to: 1}}
cleanups:
  old: {caches: [osm], levels: {from: 1}, remove_before: {time: '2000-01-01T00:00:00'}}
  level1: {caches: [osm], levels: {from: 1}, remove_before: {time: '2100-01-01T00:00:00'}}
"""
    seed(tmp_path, tasks, "--seed", "all")
    assert backend.object_keys() == [f"osm/GLOBAL_WEBMERCATOR/{k}" for k in LEVELS_0_1]
    # Every tile is newer than 2000: nothing removed; all of level 1 is older than 2100.
    seed(tmp_path, tasks, "--cleanup", "old")
    assert len(backend.object_keys()) == 5
    result = seed(tmp_path, tasks, "--cleanup", "level1")
    assert "removed 4 tiles" in result.stdout
    assert backend.object_keys() == ["osm/GLOBAL_WEBMERCATOR/0/0/0.png"]


def test_cleanup_of_a_store_that_is_down_is_an_error_line(
    tmp_path: Path, backend: Backend
) -> None:
    cache = dict(backend.cache)
    if backend.kind == "s3":
        cache["endpoint_url"] = "http://127.0.0.1:9"
    else:
        endpoint = cache["connection_string"].split("BlobEndpoint=")[1]
        cache["connection_string"] = cache["connection_string"].replace(
            endpoint, "http://127.0.0.1:9/devstoreaccount1"
        )
    write_config(tmp_path, {"osm": cache}, {"type": "debug"})
    (tmp_path / "seed.yaml").write_text(
        "cleanups: {c: {caches: [osm], levels: {to: 1}, remove_all: true}}\n"
    )
    result = run_command(
        tmp_path, "mapproxy-seed", "-f", "mapproxy.yaml", "-s", "seed.yaml"
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "not listed" in result.stderr


def mapproxy_env_config(root: Path, backend: Backend, server: MapServer) -> Path:
    # MapProxy keeps whole `cache:` sections, so Tilegate and MapProxy read one file.
    wms = {"type": "wms", "req": {"url": f"{server.url}/service", "layers": "x"}}
    return write_config(
        root,
        {
            "by_mapproxy": {**backend.cache, "directory": "mp"},
            "by_tilegate": {**backend.cache, "directory": "tg"},
        },
        wms,
    )


@needs_mapproxy
def test_mapproxy_and_tilegate_read_each_others_objects(
    tmp_path: Path, map_server: MapServer, backend: Backend
) -> None:
    config = mapproxy_env_config(tmp_path, backend, map_server)
    mapproxy_seed(config, "seeds: {s: {caches: [by_mapproxy], levels: {to: 1}}}\n")
    assert backend.object_keys() == [f"mp/{k}" for k in LEVELS_0_1]
    seeded = len(map_server.requests)
    # Tilegate serves MapProxy's objects as they are, without asking the source (TMS level
    # 0 is grid level 1 here too; its row 1, counted from the south, is row 0).
    app = make_app(tmp_path, yaml.safe_load(config.read_text()))
    stored = backend.objects.get("mp/1/1/0.png")
    assert stored is not None
    status, _, body = get(app, "/tms/1.0.0/by_mapproxy/EPSG3857/0/1/1.png")
    assert (status, body) == (200, stored.data)
    assert len(map_server.requests) == seeded
    # Tilegate fills its cache under the same keys; MapProxy loads the same bytes from them.
    state = bootstrap(load_config(config), config)
    (tiles,) = state.caches["by_tilegate"]
    made = tilegate_md5s(tiles, "by_tilegate")
    assert [k for k in backend.object_keys() if k.startswith("tg/")] == [
        f"tg/{k}" for k in LEVELS_0_1
    ]
    assert mapproxy_md5s(config, "by_tilegate") == made


LAYOUT_CACHES: dict[str, dict[str, Any]] = {
    **{f"l_{layout}": {"directory_layout": layout} for layout in LAYOUTS},
    "named": {"directory": "/named/", "include_grid_name": True},
}


@needs_mapproxy
def test_every_layout_keys_tiles_as_mapproxy_does(
    tmp_path: Path, map_server: MapServer, backend: Backend
) -> None:
    caches = {
        name: {**backend.cache, **options}
        for name, options in LAYOUT_CACHES.items()
        if backend.kind == "s3" or "include_grid_name" not in options
    }
    config = write_config(tmp_path, caches, {"type": "debug"})
    mapproxy_seed(
        config, f"seeds: {{s: {{caches: [{', '.join(caches)}], levels: {{to: 1}}}}}}\n"
    )
    state = bootstrap(load_config(config), config)
    keys: list[str] = []
    for name in caches:
        (tiles,) = state.caches[name]
        cache = tiles.cache
        assert isinstance(cache, BlobCache)
        # Tilegate finds each of MapProxy's objects as the tile it is, and names it alike.
        found = sorted(
            (t.coord.z, t.coord.x, t.coord.y) for t in cache.stored_tiles([0, 1])
        )
        assert found == [(0, 0, 0), (1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1)], name
        keys += [cache.key(TileCoord(x, y, z)) for z, x, y in found]
    assert sorted(keys) == backend.object_keys()
    assert "l_quadkey/GLOBAL_WEBMERCATOR/.png" in keys  # level 0 has the empty quadkey
    if backend.kind == "s3":
        assert "named/GLOBAL_WEBMERCATOR/1/1/0.png" in keys
