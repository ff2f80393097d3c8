"""`tilegate export` (also `mapproxy-util export`): a cache, or part of it, into another cache
type: a file layout, an MBTiles or GeoPackage file, or sqlite level files."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from adapters.config import load_config
from adapters.coverage_files import CoverageFiles
from domain.bbox import Bbox
from domain.config import CoverageConf
from domain.coverage import Coverage, bbox_coverage
from domain.coverage_conf import coverage_from_conf
from domain.errors import ConfigError, ConfigValueError, TilegateError
from domain.grid import Grid, TileCoord
from domain.ports import EncodedTile, TileCache
from domain.seeding import plan
from domain.srs import srs as make_srs
from domain.tiles import TileSet, get_tile
from entrypoints.bootstrap import bootstrap
from entrypoints.cache_stores import EXPORT_FILES, EXPORT_TYPES, export_store
from entrypoints.commands import quiet_logging

# Other names MapProxy's export takes, and the name of the cache type for MBTiles.
_ALIASES = {"mapproxy": "tc", "mbtiles": "mbtile"}
_BATCH = 1024
_MAX_TILES = 10_000_000
_LEVELS = re.compile(r"^\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?$")


class ExportError(Exception):
    """Bad options: one line for the user."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "export", help="copy a cache (or some levels/an area of it) into another layout"
    )
    parser.add_argument("config", nargs="?", help="mapproxy.yaml (or use -f)")
    parser.add_argument("-f", "--mapproxy-conf", help="mapproxy.yaml")
    parser.add_argument("--source", required=True, help="the cache to export")
    parser.add_argument(
        "--grid", help="the grid of the cache to export (needed if it has several)"
    )
    parser.add_argument(
        "--dest",
        required=True,
        help="what to write: a directory, or the file for mbtile and geopackage",
    )
    parser.add_argument(
        "--type",
        default="tms",
        help=f"what --dest is: {', '.join(EXPORT_TYPES)} (default tms, as MapProxy)",
    )
    parser.add_argument(
        "--levels", help="levels to export: 1,2,3 or 1..10 (default all)"
    )
    parser.add_argument(
        "--coverage",
        help="the area to export: a bbox 'minx,miny,maxx,maxy', a WKT/GeoJSON file or an "
        "OGR datasource",
    )
    parser.add_argument("--srs", help="the SRS of --coverage (default: the grid's SRS)")
    parser.add_argument(
        "--where", help="filter for an OGR --coverage: attributes, or a whole SELECT"
    )
    parser.add_argument(
        "--fetch-missing-tiles",
        action="store_true",
        help="make tiles the cache does not have from its sources (default: skip them)",
    )
    parser.add_argument(
        "--force", action="store_true", help="write into an existing, non-empty --dest"
    )
    parser.add_argument(
        "-n", "--dry-run", action="store_true", help="count the tiles, write nothing"
    )
    parser.add_argument(
        "-c", "--concurrency", type=int, default=1, help="parallel copies (default 1)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary line")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    quiet_logging()
    try:
        return _export(args)
    except (ExportError, ConfigError, ConfigValueError, OSError) as exc:
        print(f"tilegate export: {exc}", file=sys.stderr)
        return 1
    except TilegateError as exc:
        # a source failed while fetching a missing tile: what was copied stays
        print(f"tilegate export: stopped: {exc}", file=sys.stderr)
        return 1


def _export(args: argparse.Namespace) -> int:
    path = args.mapproxy_conf or args.config
    if path is None:
        raise ExportError("a configuration is needed (-f mapproxy.yaml)")
    kind = _ALIASES.get(args.type, args.type)
    if kind not in EXPORT_TYPES:
        raise ExportError(
            f"unknown --type {args.type!r}, expected one of {', '.join(EXPORT_TYPES)}"
        )
    if args.concurrency < 1:
        raise ExportError(f"--concurrency must be at least 1, got {args.concurrency}")
    config_path = Path(path)
    state = bootstrap(load_config(config_path), config_path)
    tileset = _tileset(state.caches, args.source, args.grid)
    grid = tileset.grid
    levels = parse_levels(args.levels, grid.num_levels)
    coverage = _coverage(args.coverage, args.srs, args.where, grid)
    dest = Path(args.dest)
    if not args.dry_run:
        _check_dest(dest, kind, args.force)
    work = plan(grid, (1, 1), levels, coverage)
    if work.tiles > _MAX_TILES and not args.dry_run:
        # every tile is looked up: a whole 20-level grid would take days
        raise ExportError(
            f"{work.tiles} tiles in levels {_levels_text(levels)}, more than {_MAX_TILES}: "
            "narrow it with --levels or --coverage"
        )
    if args.dry_run:
        print(f"would export up to {work.tiles} tiles of levels {_levels_text(levels)}")
        return 0
    with contextlib.ExitStack() as stack:
        try:
            store = stack.enter_context(
                export_store(
                    kind, dest, tileset.format.ext, grid, state.conf.globals.cache
                )
            )
        except ValueError as exc:  # e.g. a GeoPackage needs a grid in an EPSG SRS
            raise ExportError(f"--type {kind}: {exc}") from None

        def copy(coord: TileCoord) -> bool:
            return _copy(coord, tileset, store, args.fetch_missing_tiles)

        coords = (coord for tile_range in work for coord in tile_range)
        copied = 0
        with ThreadPoolExecutor(args.concurrency) as pool:
            # in batches: the pool would otherwise take every tile of the plan up front
            while batch := list(itertools.islice(coords, _BATCH)):
                copied += sum(pool.map(copy, batch))
    if not args.quiet:
        print(
            f"exported {copied} tiles of levels {_levels_text(levels)} to {dest} "
            f"({work.tiles - copied} not in the cache)"
        )
    return 0


def _check_dest(dest: Path, kind: str, force: bool) -> None:
    """Never add to what is there unless asked to (--force), as MapProxy."""
    if kind in EXPORT_FILES:
        if dest.is_dir():
            raise ExportError(f"{dest} is a directory, --type {kind} writes one file")
        if dest.exists() and not force:
            raise ExportError(f"{dest} exists (use --force to add to it)")
    elif dest.is_dir() and any(dest.iterdir()) and not force:
        raise ExportError(f"{dest} exists and is not empty (use --force to add to it)")
    elif dest.exists() and not dest.is_dir():
        raise ExportError(f"{dest} is a file, --type {kind} writes a directory")


def _copy(coord: TileCoord, tileset: TileSet, store: TileCache, fetch: bool) -> bool:
    tile = get_tile(coord, tileset) if fetch else tileset.cache.load(coord)
    if tile is None:
        return False
    data = tile.data if tile.data is not None else Path(tile.path or "").read_bytes()
    store.store(EncodedTile(coord, data))
    return True


def _tileset(
    caches: dict[str, tuple[TileSet, ...]], name: str, grid: str | None
) -> TileSet:
    if name not in caches:
        raise ExportError(
            f"unknown cache {name!r} for --source, expected one of {', '.join(sorted(caches))}"
        )
    tilesets = caches[name]
    if grid is None:
        if len(tilesets) > 1:
            raise ExportError(
                f"cache {name!r} has several grids, pick one with --grid: "
                + ", ".join(t.grid.name for t in tilesets)
            )
        return tilesets[0]
    for tileset in tilesets:
        if tileset.grid.name == grid:
            return tileset
    raise ExportError(
        f"cache {name!r} has no grid {grid!r}, only "
        + ", ".join(t.grid.name for t in tilesets)
    )


def parse_levels(text: str | None, num_levels: int) -> tuple[int, ...]:
    """`1,2,3`, `1..10` or a mix (`0..3,7`), each level checked to exist in the grid."""
    if text is None:
        return tuple(range(num_levels))
    levels: set[int] = set()
    for part in text.split(","):
        match = _LEVELS.match(part)
        if match is None:
            raise ExportError(
                f"--levels: cannot read {part.strip()!r}, expected 3 or 1..10"
            )
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if first > last:
            raise ExportError(f"--levels: {first}..{last} is an empty range")
        if last >= num_levels:
            raise ExportError(
                f"--levels: level {last} is not in the grid (levels 0..{num_levels - 1})"
            )
        levels.update(range(first, last + 1))
    return tuple(sorted(levels))


def _coverage(
    text: str | None, srs_code: str | None, where: str | None, grid: Grid
) -> Coverage | None:
    if text is None:
        if srs_code is not None or where is not None:
            raise ExportError("--srs and --where go with --coverage, which is missing")
        return None
    srs = make_srs(srs_code) if srs_code is not None else grid.srs
    numbers = text.replace(",", " ").split()
    if len(numbers) == 4:
        try:
            values = [float(n) for n in numbers]
        except ValueError:
            values = []
        if values:
            try:
                return bbox_coverage(Bbox(*values), srs)
            except ValueError as exc:
                raise ExportError(f"--coverage: {exc}") from None
    conf = CoverageConf(datasource=text, where=where, srs=srs.code)
    try:
        return coverage_from_conf(conf, CoverageFiles(Path.cwd()))
    except ConfigValueError as exc:
        raise ExportError(f"--coverage: {exc}") from None


def _levels_text(levels: tuple[int, ...]) -> str:
    if levels == tuple(range(levels[0], levels[-1] + 1)):
        return f"{levels[0]}..{levels[-1]}" if len(levels) > 1 else str(levels[0])
    return ",".join(map(str, levels))
