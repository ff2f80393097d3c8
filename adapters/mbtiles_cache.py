"""Tiles in an MBTiles file, in the tables MapProxy makes (`type: mbtiles`, and each level
file of `type: sqlite`).

Rows are stored as the grid counts them, as MapProxy stores them: an MBTiles reader sees the
standard TMS rows (from the south) only for grids with origin `sw`, such as GLOBAL_MERCATOR.
MBTiles keeps no timestamps: a tile's mtime is when the file last changed. The level files
of the sqlite cache add MapProxy's `last_modified` column (local time, whole seconds).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

import attrs

from adapters.permissions import Permissions
from adapters.sqlite_db import SqliteFile, file_mtime, walk_tiles, warn_failure
from adapters.store_failures import StoreFailures
from domain.grid import TileCoord
from domain.ports import EncodedTile, StoredTile

LOGGER = "mapproxy.cache.mbtiles"
_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


def _schema(with_timestamps: bool) -> Callable[[sqlite3.Connection], None]:
    stamp = (
        ", last_modified datetime DEFAULT (datetime('now','localtime'))"
        if with_timestamps
        else ""
    )

    def setup(db: sqlite3.Connection) -> None:
        db.execute(
            "CREATE TABLE IF NOT EXISTS tiles (zoom_level integer, tile_column integer,"
            f" tile_row integer, tile_data blob{stamp})"
        )
        db.execute("CREATE TABLE IF NOT EXISTS metadata (name text, value text)")
        db.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS idx_tile"
            " ON tiles (zoom_level, tile_column, tile_row)"
        )

    return setup


@attrs.define
class MBTilesCache:
    """The tiles of one cache in one grid, in one MBTiles file."""

    path: Path = attrs.field(converter=Path)
    timeout: float = 30.0
    wal: bool = True
    with_timestamps: bool = False
    # Seconds a tile stays valid (only with timestamps); 0 keeps tiles forever.
    ttl: int = 0
    clock: Callable[[], float] = time.time
    permissions: Permissions = attrs.field(factory=Permissions)
    db: SqliteFile = attrs.field(init=False)
    _failures: StoreFailures = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._failures = StoreFailures(LOGGER, str(self.path))
        self.db = SqliteFile(
            self.path,
            _schema(self.with_timestamps),
            self.timeout,
            self.wal,
            self.permissions,
        )

    def load(self, coord: TileCoord) -> StoredTile | None:
        columns = "tile_data, last_modified" if self.with_timestamps else "tile_data"
        try:
            with self.db.reading() as db:
                if db is None:
                    return None
                row = db.execute(
                    f"SELECT {columns} FROM tiles"  # noqa: S608 - fixed column names
                    " WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                    (coord.z, coord.x, coord.y),
                ).fetchone()
        except sqlite3.Error as exc:
            # As MapProxy: an unreadable cache is a miss (the tile is made again), logged.
            warn_failure(LOGGER, "unable to load tile", self.path, coord, exc)
            return None
        if row is None or row[0] is None:
            return None
        data = bytes(row[0])
        if self.with_timestamps:
            mtime = _parse_local(row[1])
            if self.ttl and self.clock() - mtime >= self.ttl:
                return None
        else:
            mtime = file_mtime(self.path)
        return StoredTile(coord, mtime, len(data), data=data)

    def store(self, tile: EncodedTile) -> None:
        c = tile.coord
        try:
            with self.db.writing() as db:
                if self.with_timestamps:
                    db.execute(
                        "INSERT OR REPLACE INTO tiles (zoom_level, tile_column, tile_row,"
                        " tile_data, last_modified)"
                        " VALUES (?, ?, ?, ?, datetime(?, 'unixepoch', 'localtime'))",
                        (c.z, c.x, c.y, tile.data, int(self.clock())),
                    )
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO tiles"
                        " (zoom_level, tile_column, tile_row, tile_data) VALUES (?, ?, ?, ?)",
                        (c.z, c.x, c.y, tile.data),
                    )
        except (sqlite3.Error, OSError) as exc:
            # The tile is still served, only not kept (a full disk, a locked database): the
            # transaction rolled back, the file holds what it held before.
            raise self._failures.failed(f"{c.z}/{c.x}/{c.y}", exc) from exc
        self._failures.stored()

    def remove(self, coord: TileCoord) -> bool:
        """Remove the tile at `coord`; False if there was none."""
        return self.db.delete_tile("tiles", coord)

    @property
    def keeps_timestamps(self) -> bool:
        return self.with_timestamps

    def stored_tiles(self, levels: Collection[int]) -> Iterator[StoredTile]:
        """Every tile stored in `levels`, with its `last_modified` or else the file's mtime."""
        extra = "last_modified" if self.with_timestamps else "NULL"
        for coord, size, stamp in walk_tiles(self.db, "tiles", levels, extra):
            mtime = (
                _parse_local(stamp) if self.with_timestamps else file_mtime(self.path)
            )
            yield StoredTile(coord, mtime, size)

    def close(self) -> None:
        self.db.close()


def _parse_local(value: object) -> float:
    """Seconds since the epoch of a `last_modified` value (local time, as SQLite wrote it)."""
    if not isinstance(value, str):
        return 0.0
    try:
        return time.mktime(time.strptime(value[:19], _TIMESTAMP_FORMAT))
    except ValueError:
        return 0.0
