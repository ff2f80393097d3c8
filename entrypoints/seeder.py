"""Runs seeding and cleanup tasks: meta-tiles handed to worker processes, progress kept in a file.

The main process plans and hands out meta-tiles in plan order; `-c N` workers (forked after the
app's objects are built, N=1 works in-process) each make a meta-tile with one request per source
and store its tiles atomically. The progress file records per task how many meta-tiles from the
start of the plan are done, so `--continue` starts there. Upstream errors are retried with
backoff, then counted and listed; nothing broken is stored, and the run goes on.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import queue
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import attrs

from domain.errors import ConfigError, LockTimeoutError, SourceError
from domain.grid import TileRange
from domain.ports import MapQuery, MapSource, PrunableCache, SourceImage, StoredTile
from domain.seeding import (
    CleanupTask,
    Plan,
    SeedTask,
    plan,
    seed_meta_tile,
    should_remove,
)
from domain.tiles import TileSet
from entrypoints.bootstrap import AppState
from entrypoints.seed_progress import Progress

PROGRESS_FORMAT = "tilegate-seed-progress/1"
_CACHE_LOCK_WAIT = 7 * 24 * 3600.0


@attrs.frozen
class SeedOptions:
    """How to run: the command line's choices."""

    concurrency: int = 2
    dry_run: bool = False
    use_cache_lock: bool = False
    skip_uncached: bool = False
    skip_geoms_for_last_levels: int = 0
    retries: int = 3
    retry_delay: float = 1.0
    rate_limit: float | None = None
    duration: float | None = None
    progress_file: Path | None = None
    resume: bool = False
    failures_file: Path | None = None


@attrs.define
class Totals:
    """What a run did, in tiles."""

    seeded: int = 0
    fresh: int = 0
    failed: int = 0
    removed: int = 0
    failures: list[str] = attrs.Factory(list)
    interrupted: bool = False


@attrs.define
class PacedSource:
    """A source asked at most once per `interval` seconds (Tilegate's seeding rate limit)."""

    source: MapSource
    interval: float
    _next: float = 0.0

    @property
    def supports_meta_tiles(self) -> bool:
        return self.source.supports_meta_tiles

    @property
    def transparent(self) -> bool:
        return self.source.transparent

    def get_map(self, query: MapQuery) -> SourceImage:
        now = time.monotonic()
        if (wait := self._next - now) > 0:
            time.sleep(wait)
        self._next = max(now, self._next) + self.interval
        return self.source.get_map(query)


def tileset(state: AppState, cache: str, grid: str) -> TileSet:
    return next(t for t in state.caches[cache] if t.grid.name == grid)


class Stopper:
    """Turns SIGINT and SIGTERM into a request to stop after the meta-tiles under way."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.signalled = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.signalled = True

    @property
    def stop(self) -> bool:
        return self.signalled or (
            self.deadline is not None and time.monotonic() > self.deadline
        )


@attrs.frozen
class _Job:
    task: int
    ordinal: int
    tiles: TileRange


@attrs.frozen
class _Result:
    task: int
    ordinal: int
    z: int
    tiles: int
    outcome: str  # "seeded", "fresh", "failed" or "aborted"
    error: str | None = None


def run_seeds(
    state: AppState,
    tasks: tuple[SeedTask, ...],
    options: SeedOptions,
    progress: Progress,
    stopper: Stopper,
) -> Totals:
    totals = Totals()
    done = _read_progress(options) if options.resume else {}
    sets = [_paced(tileset(state, t.cache, t.grid), options) for t in tasks]
    plans = [
        plan(
            s.grid,
            s.meta_grid.meta_size,
            t.levels,
            t.coverage,
            _geometry_levels(t, options),
        )
        for s, t in zip(sets, tasks, strict=True)
    ]
    if options.dry_run:
        for task, p in zip(tasks, plans, strict=True):
            progress.task(describe(task), p.tiles, p.meta_tiles)
            progress.message(
                f"  dry run: would check {p.tiles} tiles in {p.meta_tiles} meta-tiles"
            )
        return totals
    pool = _Pool(sets, tasks, options) if options.concurrency > 1 else None
    try:
        for index, (task, p) in enumerate(zip(tasks, plans, strict=True)):
            if stopper.stop:
                break
            skip = min(done.get(task.id, 0), p.meta_tiles)
            progress.task(describe(task), p.tiles, p.meta_tiles, skipped=skip)
            with _cache_lock(sets[index], options, progress):
                done[task.id] = _seed_task(
                    index,
                    p,
                    skip,
                    sets[index],
                    task,
                    options,
                    pool,
                    progress,
                    totals,
                    stopper,
                    done,
                )
            progress.task_done()
    finally:
        if pool is not None:
            pool.close()
    totals.interrupted = stopper.stop and any(
        done.get(t.id, 0) < p.meta_tiles for t, p in zip(tasks, plans, strict=True)
    )
    if options.progress_file is not None:
        _write_progress(options.progress_file, done)
    if totals.failures and options.failures_file is not None:
        options.failures_file.write_text("\n".join(totals.failures) + "\n")
    return totals


def _seed_task(
    index: int,
    p: Plan,
    skip: int,
    tiles: TileSet,
    task: SeedTask,
    options: SeedOptions,
    pool: _Pool | None,
    progress: Progress,
    totals: Totals,
    stopper: Stopper,
    done: dict[str, int],
) -> int:
    """Work through one task's plan; the number of meta-tiles done from its start."""
    finished: set[int] = set()
    mark = skip
    last_save = time.monotonic()

    def record(result: _Result) -> None:
        nonlocal mark, last_save
        if result.outcome == "aborted":
            return
        if result.outcome == "failed":
            totals.failed += result.tiles
            totals.failures.append(f"{task.cache} {task.grid} {result.error}")
        elif result.outcome == "seeded":
            totals.seeded += result.tiles
        else:
            totals.fresh += result.tiles
        progress.advance(result.z, result.tiles, result.outcome)
        finished.add(result.ordinal)
        while mark in finished:
            finished.discard(mark)
            mark += 1
        if options.progress_file is not None and time.monotonic() - last_save > 2:
            _write_progress(options.progress_file, {**done, task.id: mark})
            last_save = time.monotonic()

    for ordinal, tile_range in enumerate(p.after(skip), start=skip):
        if stopper.stop:
            break
        job = _Job(index, ordinal, tile_range)
        if pool is None:
            record(_work(tiles, task, job, options, lambda: stopper.stop))
        else:
            for result in pool.submit(job, lambda: stopper.stop):
                record(result)
    if pool is not None:
        for result in pool.drain():
            record(result)
    return mark


def _work(
    tiles: TileSet,
    task: SeedTask,
    job: _Job,
    options: SeedOptions,
    stop: Callable[[], bool],
) -> _Result:
    """Make one meta-tile, retrying upstream failures with exponential backoff."""
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
        except (SourceError, LockTimeoutError) as exc:
            if attempt == options.retries:
                error = f"{rng.z}/{rng.x0}/{rng.y0}-{rng.x1}/{rng.y1}: {exc}"
                return _Result(job.task, job.ordinal, rng.z, rng.count, "failed", error)
            delay = options.retry_delay * 2**attempt
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline:
                if stop():
                    return _Result(job.task, job.ordinal, rng.z, rng.count, "aborted")
                time.sleep(min(0.1, delay))
        else:
            outcome = "seeded" if made else "fresh"
            return _Result(job.task, job.ordinal, rng.z, rng.count, outcome)
    raise AssertionError("unreachable")  # pragma: no cover


class _Pool:
    """Forked worker processes fed through a bounded queue."""

    def __init__(
        self, sets: list[TileSet], tasks: tuple[SeedTask, ...], options: SeedOptions
    ) -> None:
        ctx = multiprocessing.get_context("fork")
        self.jobs: Any = ctx.Queue(maxsize=options.concurrency * 2)
        self.results: Any = ctx.Queue()
        self.stop_event = ctx.Event()
        self.outstanding = 0
        self.procs = [
            ctx.Process(
                target=_worker,
                args=(sets, tasks, options, self.jobs, self.results, self.stop_event),
                daemon=True,
            )
            for _ in range(options.concurrency)
        ]
        for proc in self.procs:
            proc.start()

    def submit(self, job: _Job, stop: Callable[[], bool]) -> Iterator[_Result]:
        while True:
            yield from self._collect(block=False)
            if stop():
                self.stop_event.set()
                return
            try:
                self.jobs.put(job, timeout=0.1)
            except queue.Full:
                continue
            self.outstanding += 1
            return

    def drain(self) -> Iterator[_Result]:
        while self.outstanding:
            if not any(p.is_alive() for p in self.procs):
                raise RuntimeError("every seed worker died")
            yield from self._collect(block=True)

    def _collect(self, block: bool) -> Iterator[_Result]:
        while self.outstanding:
            try:
                result = self.results.get(block=block, timeout=0.2 if block else None)
            except queue.Empty:
                return
            self.outstanding -= 1
            yield result
            block = False

    def close(self) -> None:
        for _ in self.procs:
            self.jobs.put(None)
        for proc in self.procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        self.jobs.close()
        self.results.close()


def _worker(
    sets: list[TileSet],
    tasks: tuple[SeedTask, ...],
    options: SeedOptions,
    jobs: Any,
    results: Any,
    stop_event: Any,
) -> None:
    # Ctrl-C reaches the whole process group: the main process decides when to stop, and
    # a worker finishes the meta-tile it is making.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = os.getppid()
    while True:
        try:
            job = jobs.get(timeout=1)
        except queue.Empty:
            if os.getppid() != parent:
                return  # the main process is gone (killed): nobody wants results
            continue
        if job is None or os.getppid() != parent:
            return
        if stop_event.is_set():
            rng = job.tiles
            results.put(_Result(job.task, job.ordinal, rng.z, rng.count, "aborted"))
            continue
        results.put(
            _work(sets[job.task], tasks[job.task], job, options, stop_event.is_set)
        )


def check_cleanups(
    state: AppState, tasks: tuple[CleanupTask, ...], source: str
) -> tuple[CleanupTask, ...]:
    """The cleanups fit for their caches, checked before any work as MapProxy checks them.

    A cache without timestamps per tile (MBTiles, GeoPackage) cannot tell old tiles from new:
    `remove_before` on it is an error, and a cleanup without one removes every tile.
    """
    problems: list[str] = []
    fit: list[CleanupTask] = []
    for task in tasks:
        cache = _prunable(tileset(state, task.cache, task.grid))
        if cache is None:
            problems.append(
                f"cache {task.cache!r} cannot be cleaned up (its tiles cannot be listed)"
                f" @ $.cleanups[{task.name!r}]"
            )
        elif task.remove_all or cache.keeps_timestamps:
            fit.append(task)
        elif task.remove_before_given:
            problems.append(
                f"cleanup does not support remove_before for {task.name!r} because cache "
                f"{task.cache!r} does not keep timestamps @ $.cleanups[{task.name!r}].remove_before"
            )
        else:
            fit.append(attrs.evolve(task, remove_all=True))
    if problems:
        raise ConfigError(source, problems)
    return tuple(fit)


def _prunable(tiles: TileSet) -> PrunableCache | None:
    # By what the cache can do, whatever its type.
    return tiles.cache if isinstance(tiles.cache, PrunableCache) else None


def run_cleanups(
    state: AppState,
    tasks: tuple[CleanupTask, ...],
    options: SeedOptions,
    progress: Progress,
    stopper: Stopper,
) -> Totals:
    totals = Totals()
    for task in tasks:
        if stopper.stop:
            totals.interrupted = True
            break
        tiles = tileset(state, task.cache, task.grid)
        cache = _prunable(tiles)
        if cache is None:
            raise ConfigError(task.name, [f"cache {task.cache!r} cannot be cleaned up"])
        progress.task(describe(task), 0, 0)
        removed_before = totals.removed
        for tile in _cleanup_candidates(task, tiles, cache, options):
            if stopper.stop:
                totals.interrupted = True
                break
            if should_remove(tile, task):
                if not options.dry_run:
                    cache.remove(tile.coord)
                totals.removed += 1
        verb = "would remove" if options.dry_run else "removed"
        progress.message(f"  {verb} {totals.removed - removed_before} tiles")
    return totals


def _cleanup_candidates(
    task: CleanupTask, tiles: TileSet, cache: PrunableCache, options: SeedOptions
) -> Iterator[StoredTile]:
    if task.coverage is None:
        # The whole grid: only what is stored, never every tile the grid could hold.
        yield from cache.stored_tiles(task.levels)
        return
    # As seeding: every tile of a meta-tile that shares area with the coverage.
    p = plan(
        tiles.grid,
        tiles.meta_grid.meta_size,
        task.levels,
        task.coverage,
        _geometry_levels(task, options),
    )
    for tile_range in p:
        for coord in tile_range:
            if (stored := cache.load(coord)) is not None:
                yield stored


def _geometry_levels(task: SeedTask | CleanupTask, options: SeedOptions) -> int | None:
    if not options.skip_geoms_for_last_levels:
        return None
    return max(0, len(task.levels) - options.skip_geoms_for_last_levels)


def _paced(tiles: TileSet, options: SeedOptions) -> TileSet:
    if not options.rate_limit:
        return tiles
    # Each of the N workers keeps 1/N of the rate, so that together they keep the limit.
    interval = max(1, options.concurrency) / options.rate_limit
    return attrs.evolve(
        tiles, sources=tuple(PacedSource(s, interval) for s in tiles.sources)
    )


@contextlib.contextmanager
def _cache_lock(
    tiles: TileSet, options: SeedOptions, progress: Progress
) -> Iterator[None]:
    """With --use-cache-lock: one seeding run per cache at a time, in the cache's lock dir."""
    if not options.use_cache_lock:
        yield
        return
    name = f"seed-{tiles.name}"
    with tiles.locker.lock(name, 0) as free:
        if free:
            yield
            return
    progress.message(f"  cache {tiles.name} is being seeded by another run, waiting")
    with tiles.locker.lock(name, _CACHE_LOCK_WAIT) as acquired:
        if not acquired:
            raise LockTimeoutError(f"cache {tiles.name!r} stayed locked")
        yield


def describe(task: SeedTask | CleanupTask) -> str:
    levels = task.levels
    span = (
        f"{levels[0]}-{levels[-1]}"
        if levels == tuple(range(levels[0], levels[-1] + 1))
        else ",".join(map(str, levels))
    )
    kind = "seed" if isinstance(task, SeedTask) else "cleanup"
    area = "coverage" if task.coverage is not None else "full grid"
    if isinstance(task, SeedTask):
        when = (
            "missing tiles"
            if task.refresh_before is None
            else f"tiles before {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(task.refresh_before))}"
        )
    else:
        when = (
            "all tiles"
            if task.remove_all
            else f"tiles before {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(task.remove_before))}"
        )
    return f"[{kind} {task.name}] cache {task.cache}, grid {task.grid}, levels {span}, {area}, {when}"


def _read_progress(options: SeedOptions) -> dict[str, int]:
    path = options.progress_file
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != PROGRESS_FORMAT:
        return {}
    tasks = data.get("tasks")
    if not isinstance(tasks, dict):
        return {}
    return {k: v for k, v in tasks.items() if isinstance(v, int) and v >= 0}


def _write_progress(path: Path, done: dict[str, int]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"format": PROGRESS_FORMAT, "tasks": done}, indent=1))
    os.replace(tmp, path)
