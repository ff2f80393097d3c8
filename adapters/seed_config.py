"""seed.yaml into seeding and cleanup tasks, every problem found before any work, with its key path.

As in MapProxy, relative paths (coverage files, `mtime:` files) start at the directory of the
proxy configuration, `time:` is local time, and tasks without `grids` take the grids their
caches share.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from adapters.config import structure_config
from adapters.config_hooks import kind, register_hooks
from adapters.config_merge import read_yaml
from adapters.coverage_files import CoverageFiles
from adapters.logs import CONFIG, get_logger
from adapters.seed_resolver import TaskResolver
from domain.config import TilegateConf
from domain.coverage import Coverage
from domain.coverage_conf import coverage_from_conf
from domain.errors import ConfigError, ConfigValueError
from domain.grid import Grid
from domain.seed_config import (
    LevelRange,
    ResRange,
    SeedConf,
)
from domain.seeding import CleanupTask, SeedTask

_log = get_logger(CONFIG)
_LEVELS = tuple[int, ...] | LevelRange | None
_RESOLUTIONS = tuple[float, ...] | ResRange | None


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    register_hooks(converter)
    for cls in (LevelRange, ResRange):
        converter.register_structure_hook(
            cls,
            _mapping(
                make_dict_structure_fn(
                    cls,
                    converter,
                    _cattrs_forbid_extra_keys=True,
                    from_=override(rename="from"),
                )
            ),
        )
    for union_type, items, ranges in (
        (_LEVELS, tuple[int, ...], LevelRange),
        (_RESOLUTIONS, tuple[float, ...], ResRange),
    ):
        converter.register_structure_hook_func(
            functools.partial(lambda t, u: t == u, u=union_type),
            functools.partial(_list_or_range, converter, items, ranges),
        )
    return converter


def _mapping(structure: Callable[[Any, Any], Any]) -> Callable[[object, Any], object]:
    def hook(value: object, type_: Any) -> object:
        if not isinstance(value, dict):
            raise ConfigValueError(f"expected a mapping, got {kind(value)}")
        return structure(value, type_)

    return hook


def _list_or_range(
    converter: cattrs.Converter, items: Any, ranges: type, value: object, _: Any
) -> object:
    if value is None:
        return None
    if isinstance(value, list):
        return converter.structure(value, items)
    if isinstance(value, dict):
        return converter.structure(value, ranges)
    raise ConfigValueError(f"expected a list or from/to, got {kind(value)}")


_converter = _make_converter()


@attrs.frozen
class SeedTasks:
    """The tasks of a seed.yaml, in file order."""

    seeds: tuple[SeedTask, ...]
    cleanups: tuple[CleanupTask, ...]
    seed_names: tuple[str, ...]
    cleanup_names: tuple[str, ...]
    # What MapProxy would accept but the user may not mean (each logged too), key path last.
    warnings: tuple[str, ...] = ()


def load_seed_tasks(
    path: Path,
    conf: TilegateConf,
    grids: dict[str, Grid],
    here: Path,
    now: float,
) -> SeedTasks:
    """The tasks in seed.yaml at `path` for the proxy configuration `conf` (read from `here`)."""
    return parse_seed_tasks(read_yaml(path), str(path), conf, grids, here, now)


def load_seed_coverage(path: Path, name: str) -> Coverage:
    """Coverage `name` of the seed.yaml at `path` (its files relative to that file)."""
    source = str(path)
    data = {k: v for k, v in read_yaml(path).items() if v is not None}
    seed_conf, _ = structure_config(_converter, data, SeedConf, source)
    if name not in seed_conf.coverages:
        known = ", ".join(sorted(seed_conf.coverages)) or "none"
        raise ConfigError(
            source, [f"no coverage {name!r} (there are: {known}) @ $.coverages"]
        )
    try:
        return coverage_from_conf(seed_conf.coverages[name], CoverageFiles(path.parent))
    except ConfigValueError as exc:
        raise ConfigError(source, [f"{exc} @ $.coverages[{name!r}]"]) from exc


def parse_seed_tasks(
    raw: dict[object, object],
    source: str,
    conf: TilegateConf,
    grids: dict[str, Grid],
    here: Path,
    now: float,
) -> SeedTasks:
    if "views" in raw:
        raise ConfigError(
            source,
            [
                "the old seed configuration format (views:) is no longer read, by MapProxy "
                "either; use seeds:, cleanups: and coverages: @ $.views"
            ],
        )
    data = {k: v for k, v in raw.items() if v is not None}
    seed_conf, warnings = structure_config(_converter, data, SeedConf, source)
    resolver = TaskResolver(conf, grids, here, now, seed_conf)
    seeds = [
        task
        for name, task_conf in seed_conf.seeds.items()
        for task in resolver.seed(name, task_conf)
    ]
    cleanups = [
        task
        for name, task_conf in seed_conf.cleanups.items()
        for task in resolver.cleanup(name, task_conf)
    ]
    if resolver.errors:
        raise ConfigError(source, resolver.errors)
    warnings = [*warnings, *resolver.warnings]
    for warning in warnings:
        _log.warning("seed configuration warning", file=source, problem=warning)
    return SeedTasks(
        tuple(seeds),
        tuple(cleanups),
        tuple(seed_conf.seeds),
        tuple(seed_conf.cleanups),
        tuple(warnings),
    )
