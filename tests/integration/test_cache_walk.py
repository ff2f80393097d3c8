"""The SQLite-based caches list and remove what they hold, as cleanups need (real files)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters import sqlite_db
from adapters.geopackage_cache import GeoPackageCache
from adapters.mbtiles_cache import MBTilesCache
from adapters.sqlite_cache import sqlite_levels
from adapters.sqlite_db import LevelFiles
from domain.grid import TileCoord
from domain.grids import resolve_grids
from domain.ports import EncodedTile, PrunableCache

WEB = resolve_grids({})["GLOBAL_WEBMERCATOR"]
Walkable = MBTilesCache | LevelFiles[MBTilesCache] | GeoPackageCache


def fill(cache: Any, levels: range) -> set[TileCoord]:
    coords = {
        TileCoord(x, y, z) for z in levels for x in range(2**z) for y in range(2**z)
    }
    for c in coords:
        cache.store(EncodedTile(c, f"{c.z}/{c.x}/{c.y}".encode()))
    return coords


@pytest.mark.parametrize("wal", [True, False])
@pytest.mark.parametrize("kind", ["mbtiles", "sqlite", "geopackage"])
def test_stored_tiles_lists_the_levels_asked_and_survives_removal_while_walking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, wal: bool
) -> None:
    # small batches, so that the walk reads several while tiles are removed between them
    monkeypatch.setattr(sqlite_db, "_WALK_BATCH", 3)
    makers: dict[str, Callable[[], Walkable]] = {
        "mbtiles": lambda: MBTilesCache(tmp_path / "c.mbtiles", wal=wal),
        "sqlite": lambda: sqlite_levels(tmp_path / "levels", wal=wal),
        "geopackage": lambda: GeoPackageCache(
            tmp_path / "c.gpkg", WEB, "t", wal=wal, timeout=2
        ),
    }
    cache = makers[kind]()
    # what the seeder asks of a cache, checked by mypy here and at run time
    prunable: PrunableCache = cache
    assert isinstance(prunable, PrunableCache)
    assert list(cache.stored_tiles([0, 1])) == []  # no file yet
    coords = fill(cache, range(4))
    listed = [t.coord for t in cache.stored_tiles([3, 1])]
    assert set(listed) == {c for c in coords if c.z in (1, 3)}
    assert len(listed) == 4 + 64  # each once
    assert [c.z for c in listed] == [1] * 4 + [3] * 64  # level by level
    removed = [t.coord for t in cache.stored_tiles([2]) if cache.remove(t.coord)]
    assert len(removed) == 16
    assert list(cache.stored_tiles([2])) == []
    assert not cache.remove(TileCoord(0, 0, 2))
    assert cache.load(TileCoord(0, 0, 3)) is not None
    cache.close()


def test_timestamps_sqlite_keeps_its_own_the_others_the_files(tmp_path: Path) -> None:
    now = [1_700_000_000.0]
    levels = sqlite_levels(tmp_path / "levels", clock=lambda: now[0])
    levels.store(EncodedTile(TileCoord(0, 0, 1), b"old"))
    now[0] += 3600
    levels.store(EncodedTile(TileCoord(1, 0, 1), b"new"))
    assert levels.keeps_timestamps
    assert {t.coord.x: t.mtime for t in levels.stored_tiles([1])} == {
        0: 1_700_000_000.0,
        1: 1_700_003_600.0,
    }
    levels.close()
    for cache in (
        MBTilesCache(tmp_path / "c.mbtiles", wal=False),
        GeoPackageCache(tmp_path / "c.gpkg", WEB, "t", wal=False),
    ):
        cache.store(EncodedTile(TileCoord(0, 0, 0), b"x"))
        os.utime(cache.path, (1_600_000_000, 1_600_000_000))
        assert not cache.keeps_timestamps
        assert [(t.mtime, t.size) for t in cache.stored_tiles([0])] == [
            (1_600_000_000, 1)
        ]
        cache.close()
