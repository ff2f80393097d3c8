"""`type: sqlite`: one MBTiles file per level (`<directory>/<z>.mbtiles`), with timestamps."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from adapters.mbtiles_cache import MBTilesCache
from adapters.permissions import Permissions
from adapters.sqlite_db import LevelFiles


def sqlite_levels(
    directory: Path,
    timeout: float = 30.0,
    wal: bool = True,
    ttl: int = 0,
    clock: Callable[[], float] = time.time,
    permissions: Permissions | None = None,
) -> LevelFiles[MBTilesCache]:
    """The tiles of one cache in one grid, a file per level, each opened on first use."""
    return LevelFiles(
        lambda z: MBTilesCache(
            directory / f"{z}.mbtiles",
            timeout,
            wal,
            with_timestamps=True,
            ttl=ttl,
            clock=clock,
            permissions=permissions or Permissions(),
        )
    )
