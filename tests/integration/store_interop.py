"""Tiles compared with MapProxy 7 for the remote store caches' interoperability tests
(object stores, CouchDB): those Tilegate gets from a cache and those MapProxy loads from it."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from domain.grid import TileCoord
from domain.tiles import TileSet, get_tile
from tests.integration.test_sqlite_caches import MAPPROXY_DUMP
from tests.mapproxy7 import MAPPROXY_PYTHON


def tilegate_md5s(tiles: TileSet, cache: str) -> dict[str, str]:
    """The md5 of each tile of levels 0 and 1 that Tilegate gets from `tiles` of `cache` (made
    where it is missing), keyed `<cache>/<grid>/<z>/<x>/<y>` as `mapproxy_md5s` keys them."""
    made = {}
    for z in range(2):
        for x in range(2**z):
            for y in range(2**z):
                data = get_tile(TileCoord(x, y, z), tiles).data
                assert data is not None
                key = f"{cache}/{tiles.grid.name}/{z}/{x}/{y}"
                made[key] = hashlib.md5(data, usedforsecurity=False).hexdigest()
    return made


def mapproxy_md5s(config: Path, cache: str) -> dict[str, str]:
    """The md5 of each tile of levels 0 and 1 that MapProxy 7 loads from `cache`."""
    dump = subprocess.run(
        [MAPPROXY_PYTHON, "-c", MAPPROXY_DUMP, config, "1", cache],
        cwd=config.parent,
        check=True,
        capture_output=True,
        timeout=60,
    )
    found: dict[str, str] = json.loads(dump.stdout)
    return found
