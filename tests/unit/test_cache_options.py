"""Cache options in the domain: refresh_before, rescaling, bulk meta-tiles, concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

import attrs

from domain.grid import TileCoord
from domain.ports import EncodedTile, MapQuery
from domain.render import render_from_cache
from domain.res_range import ResRange
from domain.rescale import Rescale, sourceless_levels
from domain.source_limits import LimitedSource
from domain.tiles import get_tile
from tests.unit.fakes import CountingSource, FixedClock, InMemoryTileCache, png
from tests.unit.test_tiles import WEB, pixels, tileset

T = TypeVar("T")
RED, BLUE = (255, 0, 0, 255), (0, 0, 255, 255)


def read(tile: object) -> bytes:
    data = getattr(tile, "data", None)
    assert isinstance(data, bytes)
    return data


# refresh_before


def test_a_tile_stored_before_refresh_before_is_made_again_and_a_newer_one_is_not() -> (
    None
):
    clock = FixedClock(1000.0)
    cache, source = InMemoryTileCache(clock), CountingSource()
    moment = [500.0]
    tiles = tileset(source, cache, refresh_before=lambda: moment[0])
    get_tile(TileCoord(1, 1, 2), tiles)
    get_tile(TileCoord(1, 1, 2), tiles)
    assert len(source.queries) == 1  # stored at 1000, after 500: fresh
    moment[0] = 2000.0  # e.g. the mtime file was touched
    get_tile(TileCoord(1, 1, 2), tiles)
    assert len(source.queries) == 2


def test_without_refresh_before_an_old_tile_is_served() -> None:
    cache, source = InMemoryTileCache(FixedClock(0.0)), CountingSource()
    cache.store(EncodedTile(TileCoord(1, 1, 2), b"old"))
    assert get_tile(TileCoord(1, 1, 2), tileset(source, cache)).data == b"old"
    assert source.queries == []


# upscale_tiles / downscale_tiles


def rescale(**options: object) -> Rescale:
    return Rescale(frozenset(range(WEB.num_levels)), read, **options)  # type: ignore[arg-type]


def test_levels_are_searched_nearest_first_finer_before_coarser() -> None:
    assert list(rescale(upscale=2, downscale=1).other_levels(5, 20)) == [6, 4, 3]
    assert list(rescale(upscale=1).other_levels(0, 20)) == []
    assert list(rescale(downscale=3).other_levels(18, 20)) == [19]


def test_sourceless_levels_are_those_no_source_is_asked_at() -> None:
    plain = CountingSource()
    seed_only = LimitedSource(plain, seed_only=True)
    coarse_only = LimitedSource(plain, res_range=ResRange(max_res=WEB.res[3] * 0.9))
    assert sourceless_levels(WEB, ()) == frozenset(range(WEB.num_levels))
    assert sourceless_levels(WEB, (seed_only,)) == frozenset(range(WEB.num_levels))
    assert sourceless_levels(WEB, (plain,)) == frozenset()
    assert sourceless_levels(WEB, (coarse_only,)) == frozenset(range(4, WEB.num_levels))


def test_upscaled_tile_comes_from_the_coarser_tile_and_is_stored_only_if_asked() -> (
    None
):
    cache, source = InMemoryTileCache(), CountingSource()
    cache.store(EncodedTile(TileCoord(1, 1, 2), png((256, 256), RED)))
    cache.stored.clear()
    tile = get_tile(
        TileCoord(2, 3, 3), tileset(source, cache, rescale=rescale(upscale=1))
    )
    assert pixels(tile.data).getcolors() == [(256 * 256, RED)]
    assert source.queries == []
    assert cache.stored == []
    stored = tileset(source, cache, rescale=rescale(upscale=1, store=True))
    get_tile(TileCoord(2, 3, 3), stored)
    assert [t.coord for t in cache.stored] == [TileCoord(2, 3, 3)]


def test_downscaled_tile_is_the_finer_tiles_side_by_side_missing_ones_transparent() -> (
    None
):
    cache = InMemoryTileCache()
    cache.store(EncodedTile(TileCoord(2, 2, 3), png((256, 256), RED)))  # north-west
    cache.store(EncodedTile(TileCoord(3, 3, 3), png((256, 256), BLUE)))  # south-east
    tile = get_tile(
        TileCoord(1, 1, 2),
        tileset(CountingSource(), cache, rescale=rescale(downscale=1)),
    )
    image = pixels(tile.data)
    assert image.getpixel((10, 10)) == RED
    assert image.getpixel((245, 245)) == BLUE
    assert image.getchannel("A").getpixel((245, 10)) == 0


def test_nothing_within_reach_is_a_transparent_tile_never_stored() -> None:
    cache = InMemoryTileCache()
    cache.store(EncodedTile(TileCoord(0, 0, 0), png((256, 256), RED)))
    cache.stored.clear()
    tile = get_tile(
        TileCoord(2, 3, 3), tileset(CountingSource(), cache, rescale=rescale(upscale=2))
    )
    assert pixels(tile.data).getchannel("A").getextrema() == (0, 0)
    assert cache.stored == []


def test_levels_a_source_serves_are_made_from_the_source_not_rescaled() -> None:
    cache, source = InMemoryTileCache(), CountingSource(BLUE)
    cache.store(EncodedTile(TileCoord(1, 1, 2), png((256, 256), RED)))
    only_level_3 = Rescale(frozenset({4}), read, upscale=1)
    get_tile(TileCoord(2, 3, 3), tileset(source, cache, rescale=only_level_3))
    assert len(source.queries) == 1


# bulk_meta_tiles and concurrent_tile_creators


@attrs.define
class RecordingRunner:
    """A TaskRunner that runs its tasks on threads at once and records how many it got."""

    batches: list[int] = attrs.Factory(list)

    def map(self, tasks: Sequence[Callable[[], T]]) -> list[T]:
        self.batches.append(len(tasks))
        results: list[T | None] = [None] * len(tasks)

        def run(i: int) -> None:
            results[i] = tasks[i]()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(tasks))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results  # type: ignore[return-value]


def test_bulk_meta_tiles_ask_a_tile_source_for_each_tile_of_the_meta_tile() -> None:
    cache, source = InMemoryTileCache(), CountingSource(supports_meta_tiles=False)
    runner = RecordingRunner()
    tiles = tileset(
        source, cache, bulk_meta_tiles=True, meta_size=(2, 2), runner=runner
    )
    get_tile(TileCoord(1, 1, 2), tiles)
    assert sorted(q.bbox.as_tuple() for q in source.queries) == sorted(
        WEB.tile_bbox(TileCoord(x, y, 2)).as_tuple() for x in (0, 1) for y in (0, 1)
    )
    assert all(q.size == (256, 256) for q in source.queries)
    assert runner.batches == [4]
    assert {t.coord for t in cache.stored} == {
        TileCoord(x, y, 2) for x in (0, 1) for y in (0, 1)
    }


def test_a_tile_source_without_bulk_meta_tiles_makes_one_tile() -> None:
    cache, source = InMemoryTileCache(), CountingSource(supports_meta_tiles=False)
    get_tile(TileCoord(1, 1, 2), tileset(source, cache, meta_size=(2, 2)))
    assert len(source.queries) == 1
    assert [t.coord for t in cache.stored] == [TileCoord(1, 1, 2)]


def test_a_map_hands_its_missing_meta_tiles_to_the_runner_at_once() -> None:
    source, runner = CountingSource(), RecordingRunner()
    tiles = tileset(source, meta_size=(1, 1), meta_buffer=0, runner=runner)
    half = WEB.bbox.maxx / 2
    query = MapQuery(
        attrs.evolve(WEB.bbox, minx=-half, miny=-half, maxx=half, maxy=half),
        (256, 256),
        WEB.srs,
    )
    render_from_cache(query, (tiles,), read)
    assert runner.batches == [4]
    assert len(source.queries) == 4
