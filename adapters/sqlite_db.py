"""One SQLite file shared by the threads and processes (gunicorn workers, seeders) that use it.

Each process opens its own two connections lazily, on first use: SQLite connections must not
cross a fork. One connection reads and one writes, each behind a lock, so that threads share
them safely and a writer waiting for another process's transaction (up to the busy timeout)
never holds up the readers of its own process. In WAL mode readers do not wait for writers at
all; every write is one short transaction.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import attrs

from adapters import logs
from adapters.permissions import Permissions
from domain.grid import TileCoord
from domain.ports import EncodedTile, StoredTile

# Connections a forked child found open in its parent. Closing (or garbage-collecting) them
# would make SQLite release locks and checkpoint or delete the WAL file the parent still
# uses, so the child keeps them, unused, for as long as it lives.
_INHERITED: list[sqlite3.Connection] = []
F = TypeVar("F", bound="TileFile")
_WALK_BATCH = 1000


@attrs.define
class SqliteFile:
    """A database file; `setup` makes its schema on the first write connection of a process.

    `setup` runs inside the write transaction that `BEGIN IMMEDIATE` opens, so processes that
    start together create the schema once, one after the other.
    """

    path: Path = attrs.field(converter=Path)
    setup: Callable[[sqlite3.Connection], None]
    timeout: float = 30.0
    wal: bool = True
    permissions: Permissions = attrs.field(factory=Permissions)
    _pid: int = attrs.field(init=False, default=0)
    _reader: sqlite3.Connection | None = attrs.field(init=False, default=None)
    _writer: sqlite3.Connection | None = attrs.field(init=False, default=None)
    _read_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    _write_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    _open_lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection | None]:
        """The read connection, or None while the file does not exist (nothing stored yet)."""
        self._check_process()
        with self._read_lock:
            if self._reader is None:
                if not self.path.exists():
                    yield None
                    return
                # A file another process is still setting up may lack its tables for a
                # moment: callers treat that error as a miss.
                self._reader = self._connect()
            yield self._reader

    @contextlib.contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """The write connection inside one immediate transaction, committed at the end."""
        self._check_process()
        with self._write_lock:
            db = self._ensure_writer()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.commit()
            except BaseException:
                self._roll_back(db)
                raise

    def _roll_back(self, db: sqlite3.Connection) -> None:
        """Undo the open transaction; a connection that cannot (its disk full, say) is
        dropped, so that the next write starts afresh rather than inside a dead transaction."""
        try:
            if db.in_transaction:
                db.rollback()
        except sqlite3.Error:
            # Closing releases the file's write lock, which other processes wait for.
            with contextlib.suppress(sqlite3.Error):
                db.close()
            self._writer = None

    def delete_tile(self, table: str, coord: TileCoord) -> bool:
        """Remove one tile row of `table` (a name the caller has checked); False if none was there."""
        if not self.path.exists():
            return False
        with self.writing() as db:
            cursor = db.execute(
                f'DELETE FROM "{table}"'  # noqa: S608 - the caller's checked table name
                " WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (coord.z, coord.x, coord.y),
            )
            return cursor.rowcount > 0

    def close(self) -> None:
        """Close this process's connections (they reopen on next use)."""
        with self._read_lock, self._write_lock:
            for db in (self._reader, self._writer):
                if db is not None:
                    db.close()
            self._reader = self._writer = None

    def _check_process(self) -> None:
        pid = os.getpid()
        if self._pid != pid:
            with self._open_lock:
                if self._pid != pid:
                    _INHERITED.extend(
                        db for db in (self._reader, self._writer) if db is not None
                    )
                    self._reader = self._writer = None
                    self._read_lock = threading.Lock()
                    self._write_lock = threading.Lock()
                    self._pid = pid

    def _ensure_writer(self) -> sqlite3.Connection:
        with self._open_lock:
            if self._writer is None:
                self.permissions.makedirs(self.path.parent)
                new = not self.path.exists()
                db = self._connect()
                if new:
                    self.permissions.set_path_mode(self.path)
                try:
                    self._prepare(db)
                except BaseException:
                    db.close()
                    raise
                self._writer = db
            return self._writer

    def _prepare(self, db: sqlite3.Connection) -> None:
        """WAL mode and the tables, retried while another connection briefly holds the file:
        SQLite answers a journal-mode switch that meets a reader with "database is locked"
        at once, without waiting for its busy timeout."""
        deadline = time.monotonic() + self.timeout
        pause = 0.005
        while True:
            try:
                if self.wal:
                    # Persistent in the file; needs no other connection in a transaction.
                    db.execute("PRAGMA journal_mode=WAL")
                db.execute("BEGIN IMMEDIATE")
                self.setup(db)
                db.commit()
                return
            except sqlite3.OperationalError as exc:
                if db.in_transaction:
                    db.rollback()
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.1)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE), not the module's guess.
        db = sqlite3.connect(
            self.path,
            timeout=self.timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        db.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        return db


def walk_tiles(
    file: SqliteFile, table: str, levels: Collection[int], extra: str = "NULL"
) -> Iterator[tuple[TileCoord, int, object]]:
    """(coord, size, the `extra` column) of every tile in `levels` of `table`, by level.

    Read in batches, each finished before its rows are handed out: the caller may remove
    tiles meanwhile, which a read left open would block without WAL.
    """
    for z in sorted(set(levels)):
        after = (-1, -1)
        while True:
            with file.reading() as db:
                if db is None:
                    return
                rows = db.execute(
                    f"SELECT tile_column, tile_row, length(tile_data), {extra}"  # noqa: S608 - names are ours
                    f' FROM "{table}" WHERE zoom_level = ? AND (tile_column, tile_row) > (?, ?)'
                    " ORDER BY tile_column, tile_row LIMIT ?",
                    (z, *after, _WALK_BATCH),
                ).fetchall()
            for x, y, size, value in rows:
                yield TileCoord(x, y, z), size, value
            if len(rows) < _WALK_BATCH:
                break
            after = (rows[-1][0], rows[-1][1])


def file_mtime(path: Path) -> float:
    """When the database last changed: its file or, in WAL mode, its `-wal` file, or 0."""
    mtime = 0.0
    for name in (str(path), f"{path}-wal"):
        with contextlib.suppress(OSError):
            mtime = max(mtime, os.stat(name).st_mtime)
    return mtime


class TileFile(Protocol):
    """A cache in one SQLite file, as a level of `LevelFiles` holds it."""

    def load(self, coord: TileCoord) -> StoredTile | None: ...

    def store(self, tile: EncodedTile) -> None: ...

    def remove(self, coord: TileCoord) -> bool: ...

    @property
    def keeps_timestamps(self) -> bool: ...

    def stored_tiles(self, levels: Collection[int]) -> Iterator[StoredTile]: ...

    def close(self) -> None: ...


@attrs.define
class LevelFiles(Generic[F]):
    """A cache with one file per level; `make(z)` builds level z's, on first use."""

    make: Callable[[int], F]
    _levels: dict[int, F] = attrs.field(init=False, factory=dict)
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)

    def level(self, z: int) -> F:
        if (cache := self._levels.get(z)) is None:
            if z < 0:
                raise ValueError(f"tile levels are never negative, got {z}")
            with self._lock:
                if (cache := self._levels.get(z)) is None:
                    cache = self._levels[z] = self.make(z)
        return cache

    def load(self, coord: TileCoord) -> StoredTile | None:
        return self.level(coord.z).load(coord)

    def store(self, tile: EncodedTile) -> None:
        self.level(tile.coord.z).store(tile)

    def remove(self, coord: TileCoord) -> bool:
        """Remove the tile at `coord`; False if there was none."""
        return self.level(coord.z).remove(coord)

    @property
    def keeps_timestamps(self) -> bool:
        return self.level(0).keeps_timestamps

    def stored_tiles(self, levels: Collection[int]) -> Iterator[StoredTile]:
        """Every tile stored in `levels`, level by level (a level without a file has none)."""
        for z in sorted(set(levels)):
            yield from self.level(z).stored_tiles([z])

    def close(self) -> None:
        with self._lock:
            for cache in self._levels.values():
                cache.close()


def warn_failure(
    logger: str, event: str, path: Path, coord: TileCoord, exc: Exception
) -> None:
    """Log a load that SQLite refused; as MapProxy, the request goes on with a miss."""
    if "no such table" in str(exc):
        # A file another connection has just created and not yet set up: simply a miss.
        return
    logs.get_logger(logger).warning(
        event, file=str(path), tile=f"{coord.z}/{coord.x}/{coord.y}", error=str(exc)
    )
