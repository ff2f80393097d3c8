"""Runs cleanup tasks: removes the tiles a cleanup names, after checking that its caches can."""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from domain.errors import ConfigError
from domain.ports import PrunableCache, StoredTile
from domain.seeding import CleanupTask, plan, should_remove
from domain.tiles import TileSet
from entrypoints.bootstrap import AppState
from entrypoints.seed_progress import Progress
from entrypoints.seeder import (
    SeedOptions,
    Stopper,
    Totals,
    describe,
    geometry_levels,
    tileset,
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
        cache = _prunable(tileset(state, task))
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
        tiles = tileset(state, task)
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
        geometry_levels(task, options),
    )
    for tile_range in p:
        for coord in tile_range:
            if (stored := cache.load(coord)) is not None:
                yield stored
