"""Seeding and cleanup, planned: which meta-tiles of which levels lie in a coverage, which tiles
are old, and making one meta-tile with one request per source.

A meta-tile is the unit of work: one that shares area with the coverage is seeded whole (its
tiles outside the coverage too, they come from the same request), one that does not is neither
requested nor stored. Work is planned as blocks of meta-tiles, found by halving the coverage's
tile range until a block lies inside the coverage or outside it, so planning costs follow the
coverage's outline, not its area.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import attrs

from domain.coverage import Coverage
from domain.dimensions import Chosen
from domain.grid import Grid, TileRange
from domain.locking import create_once
from domain.ports import StoredTile
from domain.tiles import TileSet, render_meta_tile, storable


@attrs.frozen
class SeedTask:
    """Seed `levels` of cache `cache` in grid `grid` inside `coverage` (None: the whole grid).

    Tiles are made where missing, and remade where stored before `refresh_before`.
    """

    name: str
    cache: str
    grid: str
    levels: tuple[int, ...]
    coverage: Coverage | None = None
    refresh_before: float | None = None
    # The tiles of these dimension values (their own directories); None: the cache's own.
    dimensions: Chosen | None = None

    @property
    def id(self) -> str:
        return _task_id("seed", self)


@attrs.frozen
class CleanupTask:
    """Remove tiles of `levels` stored before `remove_before` (or all, with `remove_all`)."""

    name: str
    cache: str
    grid: str
    levels: tuple[int, ...]
    remove_before: float
    coverage: Coverage | None = None
    remove_all: bool = False
    # False when seed.yaml gave no remove_before: it is then when the run started.
    remove_before_given: bool = True
    dimensions: Chosen | None = None

    @property
    def id(self) -> str:
        return _task_id("cleanup", self)


def _task_id(kind: str, task: SeedTask | CleanupTask) -> str:
    """What the progress file knows a task by."""
    levels = ",".join(map(str, task.levels))
    own = f"{kind}:{task.name}:{task.cache}:{task.grid}:{levels}"
    return own if task.dimensions is None else f"{own}:{task.dimensions.path}"


@attrs.frozen
class Block:
    """Meta-tiles mx0..mx1 x my0..my1 (inclusive, in meta-tile units) of level z."""

    z: int
    mx0: int
    my0: int
    mx1: int
    my1: int

    @property
    def count(self) -> int:
        return (self.mx1 - self.mx0 + 1) * (self.my1 - self.my0 + 1)


@attrs.frozen
class Plan:
    """The meta-tiles of a task in the order they are worked on, with their tile counts."""

    grid: Grid
    meta_size: tuple[int, int]
    blocks: tuple[Block, ...]

    @property
    def meta_tiles(self) -> int:
        return sum(b.count for b in self.blocks)

    @property
    def tiles(self) -> int:
        return sum(block_tiles(b, self.grid, self.meta_size).count for b in self.blocks)

    def __iter__(self) -> Iterator[TileRange]:
        return self.after(0)

    def after(self, skip: int) -> Iterator[TileRange]:
        """The meta-tiles' tile ranges from the `skip`-th on (where an interrupted run stopped)."""
        for block in self.blocks:
            if skip >= block.count:
                skip -= block.count
                continue
            for my in range(block.my0, block.my1 + 1):
                for mx in range(block.mx0, block.mx1 + 1):
                    if skip:
                        skip -= 1
                        continue
                    yield block_tiles(
                        Block(block.z, mx, my, mx, my), self.grid, self.meta_size
                    )


def block_tiles(block: Block, grid: Grid, meta_size: tuple[int, int]) -> TileRange:
    """The tiles of a block of meta-tiles, clipped where the grid ends."""
    mw, mh = meta_size
    nx, ny = grid.sizes[block.z]
    return TileRange(
        block.mx0 * mw,
        block.my0 * mh,
        min((block.mx1 + 1) * mw, nx) - 1,
        min((block.my1 + 1) * mh, ny) - 1,
        block.z,
    )


def plan(
    grid: Grid,
    meta_size: tuple[int, int],
    levels: Sequence[int],
    coverage: Coverage | None,
    geometry_levels: int | None = None,
) -> Plan:
    """The meta-tiles of `levels` that share area with `coverage`, level by level.

    Only the first `geometry_levels` levels are tested against the coverage's shape (MapProxy's
    `--skip-geoms-for-last-levels`); later ones take every meta-tile in its bbox.
    """
    blocks: list[Block] = []
    bbox = coverage.transformed(grid.srs).bbox if coverage is not None else grid.bbox
    for index, z in enumerate(levels):
        tiles = grid.tiles_for_bbox(bbox, z)
        if tiles is None:
            continue
        mw, mh = meta_size
        start = Block(z, tiles.x0 // mw, tiles.y0 // mh, tiles.x1 // mw, tiles.y1 // mh)
        shape = coverage
        if geometry_levels is not None and index >= geometry_levels:
            shape = None
        blocks.extend(_inside(start, grid, meta_size, shape))
    return Plan(grid, meta_size, tuple(blocks))


def _inside(
    block: Block, grid: Grid, meta_size: tuple[int, int], coverage: Coverage | None
) -> Iterator[Block]:
    if coverage is None:
        yield block
        return
    bbox = grid.range_bbox(block_tiles(block, grid, meta_size))
    if not coverage.intersects(bbox, grid.srs):
        return
    if block.count == 1 or coverage.contains(bbox, grid.srs):
        yield block
        return
    if block.mx1 - block.mx0 >= block.my1 - block.my0:
        mid = (block.mx0 + block.mx1) // 2
        halves = (
            attrs.evolve(block, mx1=mid),
            attrs.evolve(block, mx0=mid + 1),
        )
    else:
        mid = (block.my0 + block.my1) // 2
        halves = (
            attrs.evolve(block, my1=mid),
            attrs.evolve(block, my0=mid + 1),
        )
    for half in halves:
        yield from _inside(half, grid, meta_size, coverage)


def is_old(tile: StoredTile, before: float | None) -> bool:
    """True if the tile was stored before `before` (None: no tile is old)."""
    return before is not None and tile.mtime < before


def needs_seeding(
    stored: Sequence[StoredTile | None],
    refresh_before: float | None,
    skip_uncached: bool = False,
) -> bool:
    """True if a meta-tile with these stored tiles is to be made (again).

    Any missing or old tile remakes the whole meta-tile, as one request makes them all; with
    `skip_uncached` only old tiles count, so that a refresh does not grow the cache.
    """
    if skip_uncached:
        return any(t is not None and is_old(t, refresh_before) for t in stored)
    return any(t is None or is_old(t, refresh_before) for t in stored)


def should_remove(tile: StoredTile, task: CleanupTask) -> bool:
    return task.remove_all or tile.mtime < task.remove_before


def seed_meta_tile(
    meta_tiles: TileRange,
    tiles: TileSet,
    refresh_before: float | None,
    skip_uncached: bool = False,
    use_lock: bool = False,
) -> bool:
    """Make and store the meta-tile of `meta_tiles` if it needs it; True if it was made.

    With `use_lock` it is made under the meta-tile lock the server takes, so that a running
    server and the seeder do not both request it; the need is checked again under the lock.
    """

    def fresh() -> bool | None:
        stored = [tiles.cache.load(c) for c in meta_tiles]
        return None if needs_seeding(stored, refresh_before, skip_uncached) else False

    def make() -> bool:
        made = render_meta_tile(tiles.meta_grid.for_tiles(meta_tiles), tiles)
        for tile in storable(made, tiles):
            tiles.cache.store(tile)
        return True

    if fresh() is not None:
        return False
    if not use_lock:
        return make()
    first = next(iter(meta_tiles))
    return create_once(
        tiles.lock_name(first),
        find=fresh,
        create=make,
        locker=tiles.locker,
        timeout=tiles.lock_timeout,
        clock=tiles.clock,
    )
