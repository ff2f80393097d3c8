"""Runs seeding tasks: meta-tiles handed out in plan order, progress kept in a file.

The main process plans and hands out meta-tiles in plan order to `-c N` workers
(`entrypoints/seed_workers.py`), each of which makes a meta-tile with one request per source and
stores its tiles atomically. The progress file (`entrypoints/seed_progress_file.py`) records per
task how many meta-tiles from the start of the plan are done, so `--continue` starts there.
Upstream errors are retried with backoff, then counted and listed; nothing broken is stored, and
the run goes on. Cleanups are in `entrypoints/seed_cleanup.py`.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import attrs

from domain.dimension_tiles import for_dimensions
from domain.errors import LockTimeoutError
from domain.seeding import CleanupTask, Plan, SeedTask, plan
from domain.tiles import TileSet
from entrypoints.bootstrap import AppState
from entrypoints.seed_pool import Pool
from entrypoints.seed_progress import Progress
from entrypoints.seed_progress_file import read_progress, write_progress
from entrypoints.seed_workers import Job, Result, Worker

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


def tileset(state: AppState, task: SeedTask | CleanupTask) -> TileSet:
    """The tiles a task works on: its cache's in its grid, of its dimension values if any."""
    tiles = next(t for t in state.caches[task.cache] if t.grid.name == task.grid)
    return tiles if task.dimensions is None else for_dimensions(tiles, task.dimensions)


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


def run_seeds(
    state: AppState,
    tasks: tuple[SeedTask, ...],
    options: SeedOptions,
    progress: Progress,
    stopper: Stopper,
) -> Totals:
    totals = Totals()
    done = read_progress(options.progress_file) if options.resume else {}
    sets = [tileset(state, t) for t in tasks]
    plans = [
        plan(
            s.grid,
            s.meta_grid.meta_size,
            t.levels,
            t.coverage,
            geometry_levels(t, options),
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

    def stop() -> bool:
        return stopper.stop

    runner = (
        Pool(sets, tasks, options, stop)
        if options.concurrency > 1
        else Worker(sets, tasks, options, stop)
    )
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
                    task,
                    options,
                    runner,
                    progress,
                    totals,
                    stopper,
                    done,
                )
            progress.task_done()
    finally:
        runner.close()
    totals.interrupted = stopper.stop and any(
        done.get(t.id, 0) < p.meta_tiles for t, p in zip(tasks, plans, strict=True)
    )
    if options.progress_file is not None:
        write_progress(options.progress_file, done)
    if totals.failures and options.failures_file is not None:
        options.failures_file.write_text("\n".join(totals.failures) + "\n")
    return totals


def _seed_task(
    index: int,
    p: Plan,
    skip: int,
    task: SeedTask,
    options: SeedOptions,
    runner: Pool | Worker,
    progress: Progress,
    totals: Totals,
    stopper: Stopper,
    done: dict[str, int],
) -> int:
    """Work through one task's plan; the number of meta-tiles done from its start."""
    finished: set[int] = set()
    mark = skip
    last_save = time.monotonic()

    def record(result: Result) -> None:
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
            write_progress(options.progress_file, {**done, task.id: mark})
            last_save = time.monotonic()

    for ordinal, tile_range in enumerate(p.after(skip), start=skip):
        if stopper.stop:
            break
        for result in runner.submit(Job(index, ordinal, tile_range)):
            record(result)
    for result in runner.drain():
        record(result)
    return mark


def geometry_levels(task: SeedTask | CleanupTask, options: SeedOptions) -> int | None:
    if not options.skip_geoms_for_last_levels:
        return None
    return max(0, len(task.levels) - options.skip_geoms_for_last_levels)


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
    if task.dimensions is not None:
        values = ", ".join(f"{k}={v}" for k, v in task.dimensions.values)
        area = f"{area}, {values}"
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
