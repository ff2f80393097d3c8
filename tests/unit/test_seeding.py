"""Seed planning: meta-tiles in a coverage, old tiles, one request per meta-tile."""

from __future__ import annotations

import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.bbox import Bbox
from domain.coverage import Coverage, bbox_coverage
from domain.grid import TileCoord, TileRange
from domain.grids import resolve_grids
from domain.ports import StoredTile
from domain.seeding import (
    CleanupTask,
    needs_seeding,
    plan,
    seed_meta_tile,
    should_remove,
)
from domain.srs import srs
from tests.unit.fakes import CountingSource, InMemoryTileCache
from tests.unit.test_tiles import tileset

GRIDS = resolve_grids({})
WEB = GRIDS["GLOBAL_WEBMERCATOR"]
GEO = srs("EPSG:4326")


def test_whole_grid_plans_every_meta_tile_once() -> None:
    p = plan(WEB, (4, 4), [0, 1, 2, 3, 4], None)
    # Levels 0-2 fit in one meta-tile each; level 3 is 2x2, level 4 4x4 meta-tiles.
    assert p.meta_tiles == 1 + 1 + 1 + 4 + 16
    assert p.tiles == 1 + 4 + 16 + 64 + 256
    ranges = list(p)
    assert len(ranges) == p.meta_tiles
    assert ranges[0] == TileRange(0, 0, 0, 0, 0)
    assert TileRange(4, 4, 7, 7, 3) in ranges


def test_meta_tiles_outside_a_polygon_are_not_planned_and_partly_inside_are_whole() -> (
    None
):
    # A thin triangle over the western half at level 4 (16x16 tiles, 4x4 meta-tiles).
    triangle = Coverage(shapely.Polygon([(-170, 10), (-10, 10), (-170, 60)]), GEO)
    p = plan(WEB, (4, 4), [4], triangle)
    ranges = list(p)
    assert ranges, "the triangle covers some meta-tiles"
    for r in ranges:
        assert (r.x1 - r.x0 + 1, r.y1 - r.y0 + 1) == (4, 4)  # whole meta-tiles
        assert triangle.intersects(WEB.range_bbox(r), WEB.srs)
    planned = {(r.x0, r.y0) for r in ranges}
    for mx in range(4):
        for my in range(4):
            r = TileRange(mx * 4, my * 4, mx * 4 + 3, my * 4 + 3, 4)
            inside = triangle.intersects(WEB.range_bbox(r), WEB.srs)
            assert ((r.x0, r.y0) in planned) == inside
    assert len(planned) < 16


@settings(max_examples=40, deadline=None)
@given(
    x=st.floats(-179, 170),
    y=st.floats(-80, 70),
    w=st.floats(0.5, 60),
    h=st.floats(0.5, 40),
    z=st.integers(0, 7),
)
def test_planned_meta_tiles_are_exactly_those_meeting_the_coverage(
    x: float, y: float, w: float, h: float, z: int
) -> None:
    coverage = bbox_coverage(Bbox(x, y, min(x + w, 180), min(y + h, 85)), GEO)
    p = plan(WEB, (4, 4), [z], coverage)
    ranges = list(p)
    assert len(ranges) == len(set(ranges)) == p.meta_tiles
    assert sum(r.count for r in ranges) == p.tiles
    for r in ranges:
        assert coverage.intersects(WEB.range_bbox(r), WEB.srs)


def test_skipping_resumes_in_plan_order() -> None:
    p = plan(WEB, (2, 2), [3, 4], None)
    everything = list(p)
    assert list(p.after(5)) == everything[5:]
    assert list(p.after(len(everything))) == []


def test_missing_or_old_tile_remakes_the_meta_tile() -> None:
    fresh = StoredTile(TileCoord(0, 0, 1), mtime=200.0, size=1)
    old = StoredTile(TileCoord(1, 0, 1), mtime=50.0, size=1)
    assert needs_seeding([fresh, None], None)
    assert not needs_seeding([fresh, old], None)
    assert needs_seeding([fresh, old], refresh_before=100.0)
    assert not needs_seeding([fresh, fresh], refresh_before=100.0)
    # --skip-uncached: missing tiles do not count, old ones do.
    assert not needs_seeding([fresh, None], 100.0, skip_uncached=True)
    assert needs_seeding([old, None], 100.0, skip_uncached=True)


def test_cleanup_removes_old_tiles_or_all() -> None:
    old = StoredTile(TileCoord(0, 0, 1), mtime=50.0, size=1)
    new = StoredTile(TileCoord(0, 0, 1), mtime=150.0, size=1)
    task = CleanupTask("c", "cache", "grid", (1,), remove_before=100.0)
    assert should_remove(old, task)
    assert not should_remove(new, task)
    assert should_remove(
        new, CleanupTask("c", "cache", "grid", (1,), 100.0, remove_all=True)
    )


def test_seeding_a_meta_tile_makes_one_request_and_stores_all_its_tiles() -> None:
    source, cache = CountingSource(), InMemoryTileCache()
    tiles = tileset(source, cache)
    meta = TileRange(4, 4, 7, 7, 3)
    assert seed_meta_tile(meta, tiles, None)
    assert len(source.queries) == 1
    assert {t.coord for t in cache.stored} == set(meta)
    # Fresh now: no second request, with or without the lock.
    assert not seed_meta_tile(meta, tiles, None)
    assert not seed_meta_tile(meta, tiles, None, use_lock=True)
    assert len(source.queries) == 1


def test_refresh_before_remakes_old_meta_tiles_only() -> None:
    source, cache = CountingSource(), InMemoryTileCache()
    tiles = tileset(source, cache)
    meta = TileRange(0, 0, 3, 3, 2)
    seed_meta_tile(meta, tiles, None)
    stored_at = cache.clock.now
    assert not seed_meta_tile(meta, tiles, refresh_before=stored_at)
    cache.clock.now += 10
    assert seed_meta_tile(meta, tiles, refresh_before=stored_at + 1, use_lock=True)
    assert len(source.queries) == 2
