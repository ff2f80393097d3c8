"""`type: compact` through the configuration: key-path errors, Tilegate's app serving
MapProxy 7's bundles and MapProxy serving Tilegate's, seeding, export and cleanups."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from adapters.compact_cache import CompactCache
from adapters.config import load_config, parse_config
from domain.errors import ConfigError
from domain.grid import TileCoord
from domain.tiles import get_tile
from entrypoints.app import TilegateApp
from entrypoints.bootstrap import bootstrap
from tests.e2e.conftest import run_command
from tests.integration.test_app import get
from tests.integration.test_compact_cache import (
    DEAD,
    LEVELS,
    interop_config,
    mapproxy_serves,
    seed_with_mapproxy,
    wmts_paths,
)
from tests.mapproxy7 import needs_mapproxy
from tests.mapserver import MapServer


def test_compact_options_are_checked_with_their_key_path(tmp_path: Path) -> None:
    def load(cache: str) -> None:
        parse_config(
            {
                "sources": {"s": {"type": "debug"}},
                "caches": {
                    "c": {
                        "grids": ["GLOBAL_WEBMERCATOR", "GLOBAL_GEODETIC"],
                        "sources": ["s"],
                        "cache": json.loads(cache),
                    }
                },
            },
            str(tmp_path / "mapproxy.yaml"),
        )

    with pytest.raises(ConfigError) as missing:
        load('{"type": "compact"}')
    assert "required field missing @ $.caches['c'].cache.version" in str(missing.value)
    with pytest.raises(ConfigError) as three:
        load('{"type": "compact", "version": 3}')
    assert "expected one of 1, 2 @ $.caches['c'].cache.version" in str(three.value)
    with pytest.raises(ConfigError) as shared:
        load('{"type": "compact", "version": 2, "directory": "d"}')
    assert (
        "one directory cannot hold several grids @ $.caches['c'].cache.directory"
        in (str(shared.value))
    )


def _tilegate_serves(config: Path) -> dict[str, bytes]:
    app = TilegateApp.from_state(bootstrap(load_config(config), config))
    served = {}
    for path in wmts_paths():
        status, _, body = get(app, path)
        assert status == 200, path
        served[path] = body
    return served


@needs_mapproxy
def test_tilegate_serves_the_tiles_mapproxy_seeds(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = interop_config(tmp_path, map_server.url)
    seed_with_mapproxy(config)
    # The default directory of a cache without one: <base_dir>/<cache>/<grid name>.
    (c1,) = bootstrap(load_config(config), config).caches["c1"]
    assert isinstance(c1.cache, CompactCache)
    assert c1.cache.directory == tmp_path / "cache_data/c1/GLOBAL_WEBMERCATOR"
    interop_config(tmp_path, DEAD)
    seeded = mapproxy_serves(config)
    assert _tilegate_serves(config) == seeded
    assert len(set(seeded.values())) > 2  # real, different tiles


@needs_mapproxy
def test_mapproxy_serves_the_tiles_tilegate_stores(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = interop_config(tmp_path, map_server.url)
    state = bootstrap(load_config(config), config)
    for name in ("c1", "c2"):
        (tiles,) = state.caches[name]
        for z in range(LEVELS + 1):
            for x in range(2**z):
                for y in range(2**z):
                    get_tile(TileCoord(x, y, z), tiles)
    assert map_server.requests
    interop_config(tmp_path, DEAD)
    stored = _tilegate_serves(config)
    assert mapproxy_serves(config) == stored
    assert len(set(stored.values())) > 2


def test_tilegate_seeds_and_cleans_up_a_compact_cache(tmp_path: Path) -> None:
    (tmp_path / "mapproxy.yaml").write_text(
        "sources: {debug: {type: debug}}\n"
        "caches:\n  c: {sources: [debug], grids: [GLOBAL_WEBMERCATOR], meta_size: [1, 1],"
        " cache: {type: compact, version: 2, directory: ./c}}\n"
    )

    def seed(seed_yaml: str) -> subprocess.CompletedProcess[str]:
        (tmp_path / "seed.yaml").write_text(seed_yaml)
        return run_command(
            tmp_path, "mapproxy-seed", "-f", "mapproxy.yaml", "-s", "seed.yaml"
        )

    def stored() -> set[tuple[int, int, int]]:
        tiles = CompactCache(tmp_path / "c", 2).stored_tiles(range(4))
        return {(t.coord.z, t.coord.x, t.coord.y) for t in tiles}

    assert seed("seeds: {s: {caches: [c], levels: [1, 2]}}\n").returncode == 0
    assert stored() == {
        (z, x, y) for z in (1, 2) for x in range(2**z) for y in range(2**z)
    }
    # `export --type compact-v1` copies them into version 1 bundles, byte for byte.
    exported = run_command(
        tmp_path, "tilegate", "export", "-f", "mapproxy.yaml", "--source", "c",
        "--dest", "v1", "--type", "compact-v1", "--levels", "1..2",
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert "exported 20 tiles" in exported.stdout
    assert (tmp_path / "v1/L02/R0000C0000.bundlx").is_file()
    v1, v2 = CompactCache(tmp_path / "v1", 1), CompactCache(tmp_path / "c", 2)
    for z, x, y in stored():
        copy, tile = v1.load(TileCoord(x, y, z)), v2.load(TileCoord(x, y, z))
        assert copy is not None
        assert tile is not None
        assert copy.data == tile.data
    # As MapProxy: a bundle keeps no time per tile, so no `remove_before` ...
    refused = seed(
        "cleanups: {old: {caches: [c], levels: [2], remove_before: {days: 1}}}\n"
    )
    assert refused.returncode != 0
    assert (
        "does not keep timestamps @ $.cleanups['old'].remove_before" in refused.stderr
    )
    # ... and a cleanup without one removes every tile of its levels.
    cleaned = seed("cleanups: {all: {caches: [c], levels: [2]}}\n")
    assert cleaned.returncode == 0, cleaned.stderr
    assert stored() == {(1, x, y) for x in range(2) for y in range(2)}
