"""The ports: what the domain needs from the outside world, as protocols adapters implement."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Protocol, TypeVar, runtime_checkable

import attrs

from domain.bbox import Bbox
from domain.errors import SourceError
from domain.grid import TileCoord
from domain.srs import SRS

T = TypeVar("T")


@attrs.frozen
class StoredTile:
    """A tile as a cache holds it: its bytes, or the file that has them, and when it was stored."""

    coord: TileCoord
    mtime: float
    size: int
    data: bytes | None = None
    path: str | None = None


@attrs.frozen
class EncodedTile:
    """A newly made tile ready to store; `color` is set when every pixel has that one colour."""

    coord: TileCoord
    data: bytes
    color: tuple[int, ...] | None = None
    # Made from a source's `on_error` answer: stored only if `cacheable`; with
    # `authorize_stale` a tile already stored is kept instead.
    cacheable: bool = True
    authorize_stale: bool = False


@attrs.frozen
class MapQuery:
    """A request for an image of `bbox` in `srs` with `size` pixels (width, height)."""

    bbox: Bbox
    size: tuple[int, int]
    srs: SRS
    format: str = "image/png"
    # The client's request parameters (WMS GetMap of uncached layers), for sources that
    # forward some of them (`forward_req_params`).
    params: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class SourceImage:
    """An encoded image a source returned; an `on_error` stand-in says whether it may be
    cached and whether a stored tile may be kept instead (`authorize_stale`)."""

    data: bytes
    format: str
    cacheable: bool = True
    authorize_stale: bool = False


class TileCache(Protocol):
    """Stored tiles of one cache in one grid."""

    def load(self, coord: TileCoord) -> StoredTile | None: ...

    def store(self, tile: EncodedTile) -> None:
        """Keep `tile` whole or not at all; StoreError (reported already) if not kept."""
        ...


@runtime_checkable
class PrunableCache(Protocol):
    """A cache that cleanups can walk and prune."""

    @property
    def keeps_timestamps(self) -> bool:
        """False if a tile's mtime is only when its file last changed (MBTiles, GeoPackage)."""
        ...

    def load(self, coord: TileCoord) -> StoredTile | None: ...

    def stored_tiles(self, levels: Collection[int]) -> Iterator[StoredTile]:
        """Every tile stored in `levels` (without its bytes where that saves reading them)."""
        ...

    def remove(self, coord: TileCoord) -> bool: ...


class MapSource(Protocol):
    """Something that renders map images: a WMS, a tile server, a renderer."""

    @property
    def supports_meta_tiles(self) -> bool: ...

    @property
    def transparent(self) -> bool: ...

    def get_map(self, query: MapQuery) -> SourceImage: ...


class Clock(Protocol):
    """The current time in seconds since the epoch."""

    def __call__(self) -> float: ...


class Locker(Protocol):
    """Named exclusive locks shared by every worker that serves the same cache."""

    def lock(self, name: str, timeout: float) -> AbstractContextManager[bool]:
        """Hold the lock named `name` for the with-block; yields False if `timeout` ran out."""
        ...

    def note_failure(self, name: str, error: SourceError, at: float) -> None:
        """Remember that the work under lock `name` (which the caller holds) failed at `at`."""
        ...

    def failure_since(self, name: str, moment: float) -> SourceError | None:
        """The failure last noted under lock `name` (which the caller holds), if after `moment`."""
        ...


class TaskRunner(Protocol):
    """Runs independent pieces of work, maybe several at a time (`concurrent_tile_creators`)."""

    def map(self, tasks: Sequence[Callable[[], T]]) -> list[T]:
        """Each task's result, in the order of tasks; the first task's error is raised."""
        ...


@attrs.frozen
class SerialRunner:
    """A TaskRunner that runs one task after the other."""

    def map(self, tasks: Sequence[Callable[[], T]]) -> list[T]:
        return [task() for task in tasks]
