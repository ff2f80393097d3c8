"""The get_tile use case over in-memory fakes."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import attrs
import pytest
from PIL import Image

from domain.errors import LockTimeoutError, OutsideGridError, SourceError, StoreError
from domain.formats import image_format
from domain.grid import TileCoord, TileRange
from domain.grids import resolve_grids
from domain.locking import create_once
from domain.ports import EncodedTile, MapQuery, SourceImage
from domain.tiles import TileSet, get_tile
from tests.unit.fakes import (
    CountingSource,
    FixedClock,
    InMemoryTileCache,
    ThreadLocker,
    png,
)

GRIDS = resolve_grids({})
WEB = GRIDS["GLOBAL_WEBMERCATOR"]
PNG = image_format("image/png")


def tileset(
    source: object, cache: InMemoryTileCache | None = None, **options: object
) -> TileSet:
    return TileSet(
        name="osm",
        grid=options.pop("grid", WEB),  # type: ignore[arg-type]
        cache=cache if cache is not None else InMemoryTileCache(),
        sources=(source,),  # type: ignore[arg-type]
        format=PNG,
        request_format=PNG,
        locker=ThreadLocker(),
        clock=FixedClock(),
        **options,  # type: ignore[arg-type]
    )


def pixels(data: bytes | None) -> Image.Image:
    assert data is not None
    return Image.open(io.BytesIO(data)).convert("RGBA")


def test_cache_hit_does_not_ask_the_source() -> None:
    cache, source = InMemoryTileCache(), CountingSource()
    cache.store(EncodedTile(TileCoord(1, 1, 2), b"stored"))
    tile = get_tile(TileCoord(1, 1, 2), tileset(source, cache))
    assert tile.data == b"stored"
    assert source.queries == []


def test_miss_renders_the_meta_tile_once_and_stores_all_its_tiles() -> None:
    cache, source = InMemoryTileCache(), CountingSource()
    tiles = tileset(source, cache)
    first = get_tile(TileCoord(5, 6, 3), tiles)
    assert [q.size for q in source.queries] == [(1104, 1104)]
    assert (
        source.queries[0].bbox
        == tiles.meta_grid.meta_tile(TileCoord(5, 6, 3)).buffered_bbox
    )
    assert source.queries[0].srs == WEB.srs
    assert set(cache.tiles) == set(TileRange(4, 4, 7, 7, 3))
    assert cache.tiles[TileCoord(5, 6, 3)].data == first.data
    assert pixels(first.data).getcolors() == [(256 * 256, (200, 100, 50, 255))]
    for coord in TileRange(4, 4, 7, 7, 3):
        get_tile(coord, tiles)
    assert len(source.queries) == 1


def test_tiles_are_cut_from_the_right_place_in_the_meta_tile() -> None:
    @attrs.define
    class Quadrants:
        """Paints each tile of a 2x2 meta-tile (no buffer) its own colour, as seen from the image."""

        supports_meta_tiles: bool = True
        transparent: bool = False

        def get_map(self, query: MapQuery) -> SourceImage:
            img = Image.new("RGBA", query.size)
            w, h = query.size[0] // 2, query.size[1] // 2
            for i, color in enumerate(
                [(255, 0, 0, 255), (0, 255, 0, 255), (0, 0, 255, 255), (9, 9, 9, 255)]
            ):
                img.paste(
                    color,
                    ((i % 2) * w, (i // 2) * h, (i % 2 + 1) * w, (i // 2 + 1) * h),
                )
            out = io.BytesIO()
            img.save(out, "PNG")
            return SourceImage(out.getvalue(), "image/png")

    for grid, top_left in (
        (WEB, TileCoord(0, 0, 1)),
        (GRIDS["GLOBAL_MERCATOR"], TileCoord(0, 1, 1)),
    ):
        tiles = tileset(Quadrants(), grid=grid, meta_size=(2, 2), meta_buffer=0)
        colors = {
            c: pixels(get_tile(c, tiles).data).getpixel((0, 0))
            for c in TileRange(0, 0, 1, 1, 1)
        }
        assert colors[top_left] == (255, 0, 0, 255)
        right = TileCoord(1, top_left.y, 1)
        assert colors[right] == (0, 255, 0, 255)


def test_twenty_threads_asking_for_one_meta_tile_make_one_source_request() -> None:
    cache, source = InMemoryTileCache(), CountingSource(delay=0.05)
    tiles = tileset(source, cache)
    coords = list(TileRange(4, 4, 7, 7, 3)) + [TileCoord(4, 4, 3)] * 4
    results: dict[int, bytes] = {}
    barrier = threading.Barrier(len(coords))

    def ask(i: int, coord: TileCoord) -> None:
        barrier.wait()
        data = get_tile(coord, tiles).data
        assert data is not None
        results[i] = data

    threads = [threading.Thread(target=ask, args=(i, c)) for i, c in enumerate(coords)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20
    assert len(source.queries) == 1
    assert cache.stores == 16


def test_failing_source_stores_nothing_and_raises_source_error() -> None:
    cache = InMemoryTileCache()
    with pytest.raises(SourceError, match="500"):
        get_tile(TileCoord(5, 6, 3), tileset(CountingSource(fail=True), cache))
    assert cache.tiles == {}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"<ServiceException>oops</ServiceException>", "cannot be decoded"),
        (png((256, 256)), "size 256x256"),
    ],
)
def test_undecodable_or_wrong_size_image_stores_nothing(
    answer: bytes, message: str
) -> None:
    cache = InMemoryTileCache()
    with pytest.raises(SourceError, match=message):
        get_tile(TileCoord(5, 6, 3), tileset(CountingSource(answer=answer), cache))
    assert cache.tiles == {}


def test_truncated_png_is_a_source_error() -> None:
    cache = InMemoryTileCache()
    answer = png((256, 256))[:-30]
    with pytest.raises(SourceError):
        get_tile(
            TileCoord(1, 1, 1),
            tileset(
                CountingSource(answer=answer), cache, meta_size=(1, 1), meta_buffer=0
            ),
        )
    assert cache.tiles == {}


@attrs.define
class HeldLocker:
    """A Locker whose every lock is already held by someone else: waiting always times out."""

    on_wait: object = None
    waits: list[float] = attrs.Factory(list)

    @contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[bool]:
        self.waits.append(timeout)
        if callable(self.on_wait):
            self.on_wait()
        yield False

    def note_failure(self, name: str, error: SourceError, at: float) -> None:
        raise AssertionError("a waiter that never held the lock noted a failure")

    def failure_since(self, name: str, moment: float) -> SourceError | None:
        raise AssertionError("a waiter that never held the lock read a failure")


def test_lock_timeout_without_a_tile_raises() -> None:
    source = CountingSource()
    tiles = attrs.evolve(tileset(source), locker=HeldLocker(), lock_timeout=0.5)
    with pytest.raises(LockTimeoutError):
        get_tile(TileCoord(5, 6, 3), tiles)
    assert source.queries == []
    assert tiles.locker.waits == [0.5]  # type: ignore[attr-defined]


def test_lock_timeout_takes_a_tile_that_arrived_meanwhile() -> None:
    cache, source = InMemoryTileCache(), CountingSource()

    def arrive() -> None:
        cache.store(EncodedTile(TileCoord(5, 6, 3), b"made by another worker"))

    tiles = attrs.evolve(tileset(source, cache), locker=HeldLocker(on_wait=arrive))
    assert get_tile(TileCoord(5, 6, 3), tiles).data == b"made by another worker"
    assert source.queries == []


def test_create_once_does_the_work_once_it_holds_the_lock() -> None:
    made: list[int] = []

    def make() -> int:
        made.append(1)
        return 7

    assert create_once("n", lambda: None, make, ThreadLocker(), 1.0, FixedClock()) == 7
    assert create_once("n", lambda: 3, make, ThreadLocker(), 1.0, FixedClock()) == 3
    assert made == [1]


def test_a_failure_is_shared_with_the_requests_that_waited_for_it() -> None:
    source = CountingSource(fail=True, delay=0.3)
    tiles = attrs.evolve(tileset(source), clock=time.time)
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def client() -> None:
        start.wait()
        try:
            get_tile(TileCoord(5, 6, 3), tiles)
        except SourceError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [str(e) for e in errors] == ["upstream answered 500"] * 3
    assert len(source.queries) == 1  # not one per waiting client
    # A request after the failure asks again: nothing is kept.
    with pytest.raises(SourceError):
        get_tile(TileCoord(5, 6, 3), tiles)
    assert len(source.queries) == 2


def test_thread_locker_times_out() -> None:
    locker = ThreadLocker()
    with locker.lock("a", 1.0) as first:
        assert first
        seen: list[bool] = []
        t = threading.Thread(
            target=lambda: seen.append(locker.lock("a", 0.05).__enter__())
        )
        t.start()
        t.join()
        assert seen == [False]
        with locker.lock("b", 0.05) as other:
            assert other


@pytest.mark.parametrize(
    "coord",
    [TileCoord(4, 0, 2), TileCoord(0, -1, 2), TileCoord(0, 0, 20), TileCoord(0, 0, -1)],
)
def test_outside_grid_is_an_error(coord: TileCoord) -> None:
    source = CountingSource()
    with pytest.raises(OutsideGridError) as info:
        get_tile(coord, tileset(source))
    assert info.value.code == "TileOutOfRange"
    assert source.queries == []


def test_disable_storage_never_stores() -> None:
    cache, source = InMemoryTileCache(), CountingSource()
    tiles = tileset(source, cache, disable_storage=True)
    assert get_tile(TileCoord(5, 6, 3), tiles).data
    get_tile(TileCoord(5, 6, 3), tiles)
    assert cache.stores == 0
    assert len(source.queries) == 2


def test_single_tile_without_buffer_passes_the_source_bytes_through() -> None:
    answer = png((256, 256), (1, 2, 3), mode="RGB")
    source = CountingSource(answer=answer)
    cache = InMemoryTileCache()
    tile = get_tile(
        TileCoord(1, 1, 1), tileset(source, cache, meta_size=(1, 1), meta_buffer=0)
    )
    assert tile.data == answer
    assert cache.tiles[TileCoord(1, 1, 1)].data == answer
    assert [q.size for q in source.queries] == [(256, 256)]


def test_sources_without_meta_tiles_get_one_request_per_tile() -> None:
    source = CountingSource(supports_meta_tiles=False)
    get_tile(TileCoord(5, 6, 3), tileset(source))
    assert [q.size for q in source.queries] == [(256, 256)]
    assert source.queries[0].bbox == WEB.tile_bbox(TileCoord(5, 6, 3))


def test_minimize_meta_requests_asks_for_the_tile_only() -> None:
    cache, source = InMemoryTileCache(), CountingSource()
    get_tile(TileCoord(5, 6, 3), tileset(source, cache, minimize_meta_requests=True))
    assert [q.size for q in source.queries] == [(416, 416)]
    assert set(cache.tiles) == {TileCoord(5, 6, 3)}


def test_geodetic_level_0_is_transparent_beyond_latitude_90() -> None:
    source = CountingSource(answer=png((256, 128), (10, 20, 30), mode="RGB"))
    tile = get_tile(TileCoord(0, 0, 0), tileset(source, grid=GRIDS["GLOBAL_GEODETIC"]))
    assert [q.bbox.as_tuple() for q in source.queries] == [(-180, -90, 180, 90)]
    img = pixels(tile.data)
    assert img.getpixel((0, 0)) == (0, 0, 0, 0)
    assert img.getpixel((0, 255)) == (10, 20, 30, 255)
    assert img.getpixel((0, 128)) == (10, 20, 30, 255)
    assert img.getpixel((0, 127)) == (0, 0, 0, 0)


def test_single_color_tiles_carry_their_colour() -> None:
    cache = InMemoryTileCache()
    get_tile(
        TileCoord(0, 0, 1),
        tileset(
            CountingSource(color=(7, 8, 9, 255)), cache, link_single_color_images=True
        ),
    )
    assert {t.color for t in cache.stored} == {(7, 8, 9, 255)}


def test_a_source_with_opacity_is_faded_over_the_ones_below() -> None:
    below, above = (
        CountingSource(color=(255, 0, 0, 255)),
        CountingSource(color=(0, 0, 255, 255)),
    )
    tiles = attrs.evolve(
        tileset(below), sources=(below, above), source_opacity=(None, 0.25)
    )
    pixel = pixels(get_tile(TileCoord(0, 0, 1), tiles).data).getpixel((9, 9))
    assert isinstance(pixel, tuple)
    red, _, blue, alpha = pixel
    assert alpha == 255
    assert abs(blue - 0.25 * 255) <= 1
    assert abs(red - 0.75 * 255) <= 1


def test_a_lone_source_keeps_its_colours_whatever_its_opacity() -> None:
    source = CountingSource(color=(0, 0, 255, 255))
    tiles = tileset(source, source_opacity=(0.25,))
    assert pixels(get_tile(TileCoord(0, 0, 1), tiles).data).getpixel((9, 9)) == (
        0,
        0,
        255,
        255,
    )


@attrs.define
class RefusingCache(InMemoryTileCache):
    """A cache whose disk is full for tiles in column `full_column`."""

    full_column: int = 5

    def store(self, tile: EncodedTile) -> None:
        if tile.coord.x == self.full_column:
            raise StoreError("[Errno 28] No space left on device")
        super().store(tile)


def test_a_tile_the_cache_cannot_keep_is_served_and_its_neighbours_are_kept() -> None:
    cache, source = RefusingCache(), CountingSource()
    tile = get_tile(TileCoord(5, 6, 3), tileset(source, cache))
    assert pixels(tile.data).getcolors() == [(256 * 256, (200, 100, 50, 255))]
    assert set(cache.tiles) == {c for c in TileRange(4, 4, 7, 7, 3) if c.x != 5}
    get_tile(TileCoord(5, 6, 3), tileset(source, cache))
    assert len(source.queries) == 2  # not kept: made again


def test_a_cache_without_sources_answers_a_missing_tile_blank_and_stores_nothing() -> (
    None
):
    cache = InMemoryTileCache()
    tiles = attrs.evolve(tileset(CountingSource(), cache), sources=())
    tile = get_tile(TileCoord(1, 1, 2), tiles)
    assert pixels(tile.data).getchannel("A").getextrema() == (0, 0)
    assert cache.stored == []
