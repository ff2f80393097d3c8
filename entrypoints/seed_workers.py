"""The workers of a seeding run: each makes meta-tiles two at a time, with one request upstream.

A meta-tile spends about as long waiting for its source as on our own work (decode the meta
image, split, encode and store its tiles). So a worker runs two meta-tiles at once in threads
and lets only one of them ask the sources at a time: while one is being split and stored, the
next is fetched, and `-c N` workers still have at most N requests in flight. Pillow and zlib let
go of the GIL while they decode and encode, so the threads really overlap.

`-c 1` works in the main process; more workers are processes (entrypoints/seed_pool.py).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

import attrs

from domain.errors import LockTimeoutError, SourceError, StoreError
from domain.grid import TileRange
from domain.ports import MapQuery, MapSource, SourceImage
from domain.seeding import SeedTask, seed_meta_tile
from domain.tiles import TileSet

if TYPE_CHECKING:
    from entrypoints.seeder import SeedOptions

# Meta-tiles a worker has under way: one being fetched, one being split and stored.
OVERLAP = 2


@attrs.frozen
class Job:
    task: int
    ordinal: int
    tiles: TileRange


@attrs.frozen
class Result:
    task: int
    ordinal: int
    z: int
    tiles: int
    outcome: str  # "seeded", "fresh", "failed" or "aborted"
    error: str | None = None


def aborted(job: Job) -> Result:
    return Result(job.task, job.ordinal, job.tiles.z, job.tiles.count, "aborted")


class Gate:
    """A worker's turn to ask upstream, taken by one of its threads at a time.

    A thread whose request failed keeps the turn through its backoff until it is done with the
    meta-tile: backing off means the worker asks upstream nothing meanwhile, as a worker making
    one meta-tile at a time would.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder: int | None = None  # written only by the thread holding the lock

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        if self._holder != threading.get_ident():
            self._lock.acquire()
            self._holder = threading.get_ident()
        try:
            yield
        except SourceError:
            raise  # keep the turn for the backoff
        except BaseException:
            self.release()
            raise
        self.release()

    def release(self) -> None:
        """Give up the turn if this thread holds it."""
        if self._holder == threading.get_ident():
            self._holder = None
            self._lock.release()


@attrs.define
class GatedSource:
    """A source one worker asks one request at a time, at most once per `interval` seconds.

    The gate is shared by every source of the worker (the rate limit is Tilegate's: each of the
    N workers keeps 1/N of it); a meta-tile of several sources passes it once per source.
    """

    source: MapSource
    gate: Gate
    interval: float = 0.0
    _next: float = 0.0

    @property
    def supports_meta_tiles(self) -> bool:
        return self.source.supports_meta_tiles

    @property
    def transparent(self) -> bool:
        return self.source.transparent

    def get_map(self, query: MapQuery) -> SourceImage:
        with self.gate.turn():
            if self.interval:
                now = time.monotonic()
                if (wait_for := self._next - now) > 0:
                    time.sleep(wait_for)
                self._next = max(now, self._next) + self.interval
            return self.source.get_map(query)


def work(
    tiles: TileSet,
    task: SeedTask,
    job: Job,
    options: SeedOptions,
    stop: Callable[[], bool],
) -> Result:
    """Make one meta-tile, retrying upstream failures and refused stores (a full disk may
    have room again) with exponential backoff; a meta-tile that still fails is reported."""
    rng = job.tiles
    for attempt in range(options.retries + 1):
        try:
            made = seed_meta_tile(
                rng,
                tiles,
                task.refresh_before,
                options.skip_uncached,
                options.use_cache_lock,
            )
        except (SourceError, LockTimeoutError, StoreError) as exc:
            if attempt == options.retries:
                error = f"{rng.z}/{rng.x0}/{rng.y0}-{rng.x1}/{rng.y1}: {exc}"
                return Result(job.task, job.ordinal, rng.z, rng.count, "failed", error)
            delay = options.retry_delay * 2**attempt
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline:
                if stop():
                    return aborted(job)
                time.sleep(min(0.1, delay))
        else:
            outcome = "seeded" if made else "fresh"
            return Result(job.task, job.ordinal, rng.z, rng.count, outcome)
    raise AssertionError("unreachable")  # pragma: no cover


class Worker:
    """One worker's meta-tiles, up to OVERLAP at once in threads, one request upstream at a time."""

    def __init__(
        self,
        sets: list[TileSet],
        tasks: tuple[SeedTask, ...],
        options: SeedOptions,
        stop: Callable[[], bool],
    ) -> None:
        # Made in the process that uses it: a lock forked while held would never be let go.
        self.gate = gate = Gate()
        interval = (
            max(1, options.concurrency) / options.rate_limit
            if options.rate_limit
            else 0.0
        )
        self.sets = [
            attrs.evolve(
                s, sources=tuple(GatedSource(src, gate, interval) for src in s.sources)
            )
            for s in sets
        ]
        self.tasks = tasks
        self.options = options
        self.stop = stop
        self.executor = ThreadPoolExecutor(OVERLAP, thread_name_prefix="seed")
        self.pending: set[Future[Result]] = set()

    @property
    def full(self) -> bool:
        return len(self.pending) >= OVERLAP

    def submit(self, job: Job) -> Iterator[Result]:
        """Start `job` once a slot is free; yields the meta-tiles finished meanwhile."""
        yield from self.finished(block=self.full)
        self.pending.add(self.executor.submit(self._work, job))

    def finished(self, block: bool) -> Iterator[Result]:
        """The meta-tiles done by now; with `block`, waits for at least one."""
        if not self.pending:
            return
        done, self.pending = wait(
            self.pending, timeout=None if block else 0, return_when=FIRST_COMPLETED
        )
        for future in done:
            yield future.result()  # a bug in making a meta-tile is raised here

    def drain(self) -> Iterator[Result]:
        while self.pending:
            yield from self.finished(block=True)

    def close(self) -> None:
        self.executor.shutdown(wait=True)

    def _work(self, job: Job) -> Result:
        if self.stop():
            return aborted(job)
        try:
            return work(
                self.sets[job.task], self.tasks[job.task], job, self.options, self.stop
            )
        finally:
            self.gate.release()
