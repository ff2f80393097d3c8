"""`tilegate grids` (also `mapproxy-util grids`): the configured tile grids and their levels."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import attrs
from shapely.geometry import box

from adapters.config import load_config
from adapters.seed_config import load_seed_coverage
from domain.config import GridConf, TilegateConf
from domain.coverage import Coverage
from domain.errors import ConfigError, ConfigValueError
from domain.grid import Grid
from domain.grids import BUILTIN_GRIDS, flatten_grid_conf, resolve_grids
from domain.scales import scale_denominator
from entrypoints.commands import quiet_logging


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "grids",
        help="show the configured tile grids, their levels, resolutions and tile counts",
    )
    parser.add_argument("config", nargs="?", help="mapproxy.yaml (or use -f)")
    parser.add_argument("-f", "--mapproxy-conf", help="mapproxy.yaml")
    parser.add_argument(
        "-g", "--grid", dest="grid_name", help="show only this grid (any grid)"
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="also grids no cache uses, the built-in ones included",
    )
    parser.add_argument(
        "-l", "--list", action="store_true", help="list the grid names only"
    )
    parser.add_argument(
        "-s", "--seed-conf", help="seed.yaml with the coverage of -c/--coverage-name"
    )
    parser.add_argument(
        "-c",
        "--coverage-name",
        help="also show about how many tiles of each level lie in this coverage",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    quiet_logging()
    path = args.mapproxy_conf or args.config
    if path is None:
        print(
            "tilegate grids: a configuration is needed (-f mapproxy.yaml)",
            file=sys.stderr,
        )
        return 2
    if (args.seed_conf is None) != (args.coverage_name is None):
        print(
            "tilegate grids: -s/--seed-conf and -c/--coverage-name go together",
            file=sys.stderr,
        )
        return 2
    try:
        conf = load_config(Path(path)).conf
        grids = resolve_grids(conf.grids)
        coverage = None
        if args.seed_conf is not None:
            coverage = load_seed_coverage(Path(args.seed_conf), args.coverage_name)
    except (ConfigError, ConfigValueError, OSError) as exc:
        print(f"tilegate grids: {exc}", file=sys.stderr)
        return 1
    if args.grid_name is not None:
        if args.grid_name not in grids:
            print(f"grid not found: {args.grid_name}")
            return 1
        names = [args.grid_name]
    elif args.all:
        names = sorted(grids)
    else:
        names = sorted({g for cache in conf.caches.values() for g in cache.grids})
    if args.list:
        print("\n".join(names))
        return 0
    try:
        described = [
            describe(name, conf, grids[name], coverage, args.coverage_name)
            for name in names
        ]
    except ConfigValueError as exc:
        print(f"tilegate grids: --coverage-name: {exc}", file=sys.stderr)
        return 1
    print("\n\n".join(described))
    return 0


def describe(
    name: str,
    conf: TilegateConf,
    grid: Grid,
    coverage: Coverage | None = None,
    coverage_name: str | None = None,
) -> str:
    """A grid's options and levels, in MapProxy's layout with a scale column added; with a
    coverage, about how many tiles of each level it covers (by its share of the grid's area,
    as MapProxy estimates it)."""
    all_confs = BUILTIN_GRIDS | conf.grids
    own = _options(all_confs[name])
    inherited = _options(flatten_grid_conf(name, all_confs))
    built: dict[str, object] = {
        "srs": grid.srs.code,
        "bbox": grid.bbox.as_tuple(),
        "tile_size": list(grid.tile_size),
        "origin": "ll",
    }
    # Own options plain; what comes from `base:` or a default marked with `*`.
    shown = {k: (v, "") for k, v in own.items()}
    for key, value in (built | inherited).items():
        shown.setdefault(key, (value, "*"))
    lines = [f"{name}:", "    Configuration:"]
    for key in sorted(shown):
        value, mark = shown[key]
        lines.append(f"        {key}{mark}: {_value(value)}")
    share = None
    if coverage is not None:
        share = covered_share(coverage, grid)
        lines.append(
            f"    Coverage: {coverage_name} covers approx. {share * 100:.4g}% of the grid BBOX"
        )
    within = " (approx. tiles within coverage)" if share is not None else ""
    lines.append(
        f"    Levels: Resolutions, # x * y = total tiles{within}, 1:scale (OGC 0.28 mm pixel)"
    )
    res_texts = [f"{_number(r)}," for r in grid.res]
    width = max(len(t) for t in res_texts) + 1
    for z, (text, (nx, ny)) in enumerate(zip(res_texts, grid.sizes, strict=True)):
        scale = scale_denominator(grid, grid.res[z])
        part = "" if share is None else f" ({_count(round(nx * ny * share)):>8})"
        lines.append(
            f"        {z:02d}:  {text:<{width}}# {nx:6d} * {ny:<6d} = {_count(nx * ny):>10}"
            f"{part}, 1:{scale:.2f}"
        )
    return "\n".join(lines)


def covered_share(coverage: Coverage, grid: Grid) -> float:
    """The part of the grid's bbox the coverage covers (0 to 1)."""
    area = box(*grid.bbox.as_tuple())
    return float(
        coverage.transformed(grid.srs).geom.intersection(area).area / area.area
    )


def _options(conf: GridConf) -> dict[str, object]:
    return {
        k: v
        for k, v in attrs.asdict(conf, recurse=False).items()
        if v is not None and k != "name"
    }


def _count(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1_000_000 else str(n)


def _number(value: float) -> str:
    """Whole numbers without `.0`, as they are written in mapproxy.yaml; others in full."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _value(value: object) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, float):
        return _number(value)
    return str(value)
