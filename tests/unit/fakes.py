"""In-memory fakes of the domain's ports, for unit tests without I/O."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import attrs
from PIL import Image

from domain.errors import SourceError
from domain.grid import TileCoord
from domain.ports import EncodedTile, MapQuery, SourceImage, StoredTile


@attrs.define
class InMemoryTileCache:
    """A TileCache in a dict; `stored` keeps every tile given to store, in order."""

    clock: FixedClock = attrs.Factory(lambda: FixedClock())
    tiles: dict[TileCoord, StoredTile] = attrs.Factory(dict)
    stored: list[EncodedTile] = attrs.Factory(list)
    _lock: threading.Lock = attrs.Factory(threading.Lock)

    def load(self, coord: TileCoord) -> StoredTile | None:
        with self._lock:
            return self.tiles.get(coord)

    @property
    def stores(self) -> int:
        return len(self.stored)

    def store(self, tile: EncodedTile) -> None:
        with self._lock:
            self.stored.append(tile)
            self.tiles[tile.coord] = StoredTile(
                tile.coord, self.clock(), len(tile.data), data=tile.data
            )


def png(
    size: tuple[int, int],
    color: tuple[int, ...] = (200, 100, 50, 255),
    mode: str = "RGBA",
) -> bytes:
    """An encoded PNG of one colour."""
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, "PNG")
    return out.getvalue()


@attrs.define
class CountingSource:
    """A MapSource returning a one-colour PNG of the query's size; records queries, can be
    told to fail (`fail`), to answer given bytes (`answer`) or to be slow (`delay`)."""

    color: tuple[int, ...] = (200, 100, 50, 255)
    fail: bool = False
    answer: bytes | None = None
    delay: float = 0.0
    supports_meta_tiles: bool = True
    transparent: bool = False
    format: str = "image/png"
    queries: list[MapQuery] = attrs.Factory(list)
    _lock: threading.Lock = attrs.Factory(threading.Lock)

    def get_map(self, query: MapQuery) -> SourceImage:
        with self._lock:
            self.queries.append(query)
        if self.delay:
            threading.Event().wait(self.delay)
        if self.fail:
            raise SourceError("upstream answered 500")
        if self.answer is not None:
            return SourceImage(self.answer, self.format)
        return SourceImage(png(query.size, self.color), self.format)


@attrs.define
class ThreadLocker:
    """A Locker over threading locks, one per name, with timeouts."""

    _locks: dict[str, threading.Lock] = attrs.Factory(dict)
    _guard: threading.Lock = attrs.Factory(threading.Lock)
    _failures: dict[str, tuple[float, SourceError]] = attrs.Factory(dict)

    @contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[bool]:
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        acquired = lock.acquire(timeout=timeout)
        try:
            yield acquired
        finally:
            if acquired:
                lock.release()

    def note_failure(self, name: str, error: SourceError, at: float) -> None:
        self._failures[name] = (at, error)

    def failure_since(self, name: str, moment: float) -> SourceError | None:
        at, error = self._failures.get(name, (float("-inf"), None))
        return error if at > moment else None


@attrs.define
class FixedClock:
    """A Clock that says `now` until told otherwise."""

    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now
