"""seed.yaml's task entries resolved against the proxy configuration: their caches, grids,
levels, coverages, times and dimension values, each problem kept with its key path."""

from __future__ import annotations

import math
from pathlib import Path

import attrs

from adapters.coverage_files import CoverageFiles
from adapters.time_spec import bad_key, moment_of
from domain.config import TilegateConf
from domain.coverage import Coverage, union
from domain.coverage_conf import coverage_from_conf
from domain.dimension_seeding import cache_dimensions, combinations, picked_values
from domain.dimensions import Chosen
from domain.errors import ConfigValueError
from domain.grid import Grid
from domain.seed_config import (
    CleanupTaskConf,
    LevelRange,
    ResRange,
    SeedConf,
    SeedTaskConf,
)
from domain.seeding import CleanupTask, SeedTask
from domain.time_spec import TimeSpec


@attrs.define
class TaskResolver:
    """Turns task entries into tasks per cache and grid, collecting every problem."""

    conf: TilegateConf
    grids: dict[str, Grid]
    here: Path
    now: float
    seed_conf: SeedConf
    errors: list[str] = attrs.Factory(list)
    warnings: list[str] = attrs.Factory(list)
    _coverages: dict[str, Coverage | None] = attrs.Factory(dict)

    def seed(self, name: str, task: SeedTaskConf) -> list[SeedTask]:
        path = f"$.seeds[{name!r}]"
        refresh = self._time(task.refresh_before, f"{path}.refresh_before")
        return [
            SeedTask(name, cache, grid, levels, coverage, refresh, dims)
            for cache, grid, levels, coverage, dims in self._targets(path, task)
        ]

    def cleanup(self, name: str, task: CleanupTaskConf) -> list[CleanupTask]:
        path = f"$.cleanups[{name!r}]"
        # Without remove_before, everything stored before this run started goes.
        before = self._time(task.remove_before, f"{path}.remove_before")
        return [
            CleanupTask(
                name,
                cache,
                grid,
                levels,
                self.now if before is None else before,
                coverage,
                task.remove_all,
                remove_before_given=task.remove_before is not None,
                dimensions=dims,
            )
            for cache, grid, levels, coverage, dims in self._targets(path, task)
        ]

    def _targets(
        self, path: str, task: SeedTaskConf | CleanupTaskConf
    ) -> list[tuple[str, str, tuple[int, ...], Coverage | None, Chosen | None]]:
        errors_before = len(self.errors)
        caches = self._caches(path, task.caches)
        variants = {c: self._variants(path, task, c) for c in caches}
        grid_names = self._grids(path, task.grids, caches)
        coverage = self._coverage(path, task.coverages)
        if len(self.errors) > errors_before:
            return []
        try:
            levels = {g: self._levels(task, self.grids[g]) for g in grid_names}
        except ConfigValueError as exc:
            self.errors.append(f"{exc} @ {path}.resolutions")
            return []
        self._check_levels(path, task, levels)
        for grid_name in grid_names:
            if coverage is not None:
                try:
                    coverage.transformed(self.grids[grid_name].srs)
                except ConfigValueError as exc:
                    self.errors.append(f"{exc} (grid {grid_name!r}) @ {path}.coverages")
        return [
            (cache, g, levels[g], coverage, chosen)
            for g in grid_names
            for cache in caches
            for chosen in variants[cache]
            if levels[g]
        ]

    def _variants(
        self, path: str, task: SeedTaskConf | CleanupTaskConf, cache: str
    ) -> tuple[Chosen | None, ...]:
        """The combinations of dimension values whose tiles a task of `cache` works on."""
        users = cache_dimensions(self.conf, cache)
        values = {}
        for name, raw in (task.dimensions or {}).items():
            try:
                values[name.lower()] = picked_values(
                    users, name, raw, offered_only=isinstance(task, SeedTaskConf)
                )
            except ConfigValueError as exc:
                self.errors.append(f"{exc} @ {path}.dimensions[{name!r}]")
        try:
            return combinations(users, None if task.dimensions is None else values)
        except ConfigValueError as exc:
            self.errors.append(f"{exc} @ {path}.dimensions")
            return ()

    def _caches(self, path: str, names: tuple[str, ...]) -> list[str]:
        if not names:
            self.errors.append(f"a task needs at least one cache @ {path}.caches")
        found = []
        for i, name in enumerate(names):
            cache = self.conf.caches.get(name)
            if cache is None:
                known = ", ".join(self.conf.caches) or "none"
                self.errors.append(
                    f"unknown cache {name!r} (caches: {known}) @ {path}.caches[{i}]"
                )
            elif cache.disable_storage:
                self.errors.append(
                    f"cache {name!r} has disable_storage: true and cannot be seeded @ {path}.caches[{i}]"
                )
            else:
                found.append(name)
        return found

    def _grids(
        self, path: str, names: tuple[str, ...] | None, caches: list[str]
    ) -> list[str]:
        if not caches:
            return []
        cache_grids = [self.conf.caches[c].grids for c in caches]
        if names is None:
            if any(set(g) != set(cache_grids[0]) for g in cache_grids):
                self.errors.append(
                    f"the caches of a task without grids need the same grids; name them @ {path}.grids"
                )
                return []
            return list(cache_grids[0])
        for i, name in enumerate(names):
            missing = [
                c for c, g in zip(caches, cache_grids, strict=True) if name not in g
            ]
            if missing:
                self.errors.append(
                    f"grid {name!r} is not a grid of cache {missing[0]!r} @ {path}.grids[{i}]"
                )
        return list(names)

    def _coverage(self, path: str, names: tuple[str, ...] | None) -> Coverage | None:
        if names is None:
            return None
        found = []
        for i, name in enumerate(names):
            if name not in self.seed_conf.coverages:
                known = ", ".join(self.seed_conf.coverages) or "none"
                self.errors.append(
                    f"unknown coverage {name!r} (coverages: {known}) @ {path}.coverages[{i}]"
                )
            elif (coverage := self._named_coverage(name)) is not None:
                found.append(coverage)
        if not found:
            if not names:
                self.errors.append(f"coverages is an empty list @ {path}.coverages")
            return None
        # Several coverages: their union, as MapProxy's MultiCoverage.
        return found[0] if len(found) == 1 else union(found)

    def _named_coverage(self, name: str) -> Coverage | None:
        if name not in self._coverages:
            try:
                self._coverages[name] = coverage_from_conf(
                    self.seed_conf.coverages[name], CoverageFiles(self.here)
                )
            except (ConfigValueError, OSError) as exc:
                self.errors.append(f"{exc} @ $.coverages[{name!r}]")
                self._coverages[name] = None
        return self._coverages[name]

    def _levels(
        self, task: SeedTaskConf | CleanupTaskConf, grid: Grid
    ) -> tuple[int, ...]:
        last = grid.num_levels - 1
        match task.levels, task.resolutions:
            case tuple() as levels, _:
                return tuple(sorted({z for z in levels if z <= last}))
            case LevelRange(from_=start, to=stop), _:
                start = start or 0
                stop = last if stop is None else min(stop, last)
                return tuple(range(start, stop + 1))
            case None, tuple() as resolutions:
                return tuple(sorted({_closest_level(grid, r) for r in resolutions}))
            case None, ResRange(from_=res_from, to=res_to):
                start = 0 if res_from is None else _closest_level(grid, res_from)
                stop = last if res_to is None else _closest_level(grid, res_to)
                return tuple(range(start, stop + 1))
        return tuple(range(grid.num_levels))

    def _check_levels(
        self,
        path: str,
        task: SeedTaskConf | CleanupTaskConf,
        levels: dict[str, tuple[int, ...]],
    ) -> None:
        """A level that none of the task's grids has is a mistake, not a level to skip.

        Except `to`: MapProxy ends a range at the grid's last level, so a seed.yaml written for
        it may ask for more levels than the grid has; that is a warning.
        """
        if not levels:
            return
        last = max(self.grids[g].num_levels for g in levels) - 1
        where = ", ".join(f"{g} has 0..{self.grids[g].num_levels - 1}" for g in levels)
        if isinstance(task.levels, tuple):
            if not task.levels:
                self.errors.append(f"levels is an empty list @ {path}.levels")
            for i, z in enumerate(task.levels):
                if not 0 <= z <= last:
                    self.errors.append(
                        f"level {z} is outside the grid ({where}) @ {path}.levels[{i}]"
                    )
        elif isinstance(task.levels, LevelRange):
            start, stop = task.levels.from_, task.levels.to
            if start is not None and start > last:
                self.errors.append(
                    f"level {start} is outside the grid ({where}) @ {path}.levels.from"
                )
            elif stop is not None and stop > last:
                self.warnings.append(
                    f"level {stop} is outside the grid ({where}), the task ends at the "
                    f"grid's last level @ {path}.levels.to"
                )
        if task.levels is not None and task.resolutions is not None:
            self.errors.append(
                f"levels and resolutions exclude each other @ {path}.resolutions"
            )

    def _time(self, spec: TimeSpec | None, path: str) -> float | None:
        if spec is None:
            return None
        try:
            return moment_of(spec, self.here, lambda: self.now)()
        except ConfigValueError as exc:
            self.errors.append(f"{exc} @ {path}.{bad_key(spec)}")
            return None


def _closest_level(grid: Grid, res: float) -> int:
    if not (math.isfinite(res) and res > 0):
        raise ConfigValueError(f"a resolution is a positive number, got {res}")
    return min(range(grid.num_levels), key=lambda z: abs(math.log(grid.res[z] / res)))
