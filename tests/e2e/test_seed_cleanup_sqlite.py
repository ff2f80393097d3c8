"""Cleanups of the SQLite-based caches through `mapproxy-seed`, against real files."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from adapters.geopackage_cache import GeoPackageCache
from adapters.mbtiles_cache import MBTilesCache
from adapters.sqlite_cache import sqlite_levels
from domain.grid import TileCoord
from domain.grids import resolve_grids
from tests.e2e.conftest import run_command

WEB = resolve_grids({})["GLOBAL_WEBMERCATOR"]
CONFIG = """
sources:
  debug: {type: debug}
caches:
  sq:
    sources: [debug]
    grids: [GLOBAL_WEBMERCATOR]
    meta_size: [1, 1]
    cache: {type: sqlite, directory: sq}
  mb:
    sources: [debug]
    grids: [GLOBAL_WEBMERCATOR]
    meta_size: [1, 1]
    cache: {type: mbtiles, filename: ./mb.mbtiles}
  gp:
    sources: [debug]
    grids: [GLOBAL_WEBMERCATOR]
    meta_size: [1, 1]
    cache: {type: geopackage, filename: ./gp.gpkg}
"""


def seed(root: Path, seed_yaml: str) -> subprocess.CompletedProcess[str]:
    (root / "mapproxy.yaml").write_text(CONFIG)
    (root / "seed.yaml").write_text(seed_yaml)
    return run_command(
        root, "mapproxy-seed", "-f", "mapproxy.yaml", "-s", "seed.yaml", timeout=120
    )


def store(root: Path, cache: str) -> Any:
    return {
        "sq": lambda: sqlite_levels(root / "sq" / "GLOBAL_WEBMERCATOR"),
        "mb": lambda: MBTilesCache(root / "mb.mbtiles"),
        "gp": lambda: GeoPackageCache(root / "gp.gpkg", WEB, "gp_GLOBAL_WEBMERCATOR"),
    }[cache]()


def stored(root: Path, cache: str) -> set[tuple[int, int, int]]:
    tiles = store(root, cache)
    found = {(t.coord.z, t.coord.x, t.coord.y) for t in tiles.stored_tiles(range(5))}
    tiles.close()
    return found


def all_tiles(*levels: int) -> set[tuple[int, int, int]]:
    return {(z, x, y) for z in levels for x in range(2**z) for y in range(2**z)}


def test_sqlite_cleanup_without_coverage_removes_by_last_modified(
    tmp_path: Path,
) -> None:
    seeded = seed(tmp_path, "seeds:\n  s: {caches: [sq], levels: [1, 2]}\n")
    assert seeded.returncode == 0, seeded.stderr
    assert stored(tmp_path, "sq") == all_tiles(1, 2)
    # four tiles of level 2 and one of level 1 were stored ten days ago
    for z, columns in ((2, 4), (1, 1)):
        with sqlite3.connect(
            tmp_path / "sq" / "GLOBAL_WEBMERCATOR" / f"{z}.mbtiles"
        ) as db:
            db.execute(
                "UPDATE tiles SET last_modified = datetime('now', '-10 days', 'localtime')"
                " WHERE tile_row = 0 AND tile_column < ?",
                (columns,),
            )
        db.close()
    result = seed(
        tmp_path,
        "cleanups:\n  old: {caches: [sq], levels: [2], remove_before: {days: 7}}\n",
    )
    assert result.returncode == 0, result.stderr
    assert "4 removed" in result.stdout
    assert stored(tmp_path, "sq") == all_tiles(1, 2) - {(2, x, 0) for x in range(4)}
    tiles = store(tmp_path, "sq")
    assert tiles.load(TileCoord(0, 0, 1)) is not None  # old, but not a level cleaned
    tiles.close()


@pytest.mark.parametrize("cache", ["mb", "gp"])
def test_remove_before_on_a_cache_without_timestamps_is_refused_before_any_work(
    tmp_path: Path, cache: str
) -> None:
    assert (
        seed(
            tmp_path, f"seeds:\n  s: {{caches: [{cache}], levels: [1, 2]}}\n"
        ).returncode
        == 0
    )
    result = seed(
        tmp_path,
        f"seeds:\n  more: {{caches: [{cache}], levels: [3]}}\n"
        f"cleanups:\n  old: {{caches: [{cache}], levels: [2], remove_before: {{days: 7}}}}\n",
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "mapproxy-seed: error: seed.yaml: cleanup does not support remove_before for 'old'"
        f" because cache '{cache}' does not keep timestamps @ $.cleanups['old'].remove_before"
    ]
    assert stored(tmp_path, cache) == all_tiles(1, 2)  # not even the seed ran


@pytest.mark.parametrize("cache", ["mb", "gp"])
def test_cleanup_without_remove_before_empties_the_levels_of_a_cache_without_timestamps(
    tmp_path: Path, cache: str
) -> None:
    assert (
        seed(
            tmp_path, f"seeds:\n  s: {{caches: [{cache}], levels: [1, 2]}}\n"
        ).returncode
        == 0
    )
    result = seed(tmp_path, f"cleanups:\n  all: {{caches: [{cache}], levels: [2]}}\n")
    assert result.returncode == 0, result.stderr
    assert "16 removed" in result.stdout
    assert stored(tmp_path, cache) == all_tiles(1)
