"""Geometry properties of grids and meta-tiles, checked by hypothesis over many grids."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.bbox import Bbox
from domain.grid import Grid, Origin, TileCoord, TileRange
from domain.metatile import MetaGrid
from domain.srs import srs

SRS = srs("EPSG:3857")


@st.composite
def grids(draw: st.DrawFn) -> Grid:
    minx = draw(st.floats(-2e7, 1e7))
    miny = draw(st.floats(-2e7, 1e7))
    width = draw(st.floats(1e3, 2e7))
    height = width * draw(st.floats(0.02, 50))
    tile_size = (
        draw(st.sampled_from([64, 256, 512])),
        draw(st.sampled_from([64, 256, 300])),
    )
    factor = draw(st.sampled_from([2.0, math.sqrt(2), 1.5, 3.0]))
    min_res = max(width / tile_size[0], height / tile_size[1]) * draw(
        st.sampled_from([1.0, 0.37, 0.5])
    )
    levels = draw(st.integers(1, 14))
    res = tuple(min_res / factor**i for i in range(levels))
    origin: Origin = draw(st.sampled_from(["ll", "ul"]))
    bbox = Bbox(minx, miny, minx + width, miny + height)
    return Grid("g", SRS, bbox, res, tile_size, origin)


@st.composite
def grid_and_tile(draw: st.DrawFn) -> tuple[Grid, TileCoord]:
    grid = draw(grids())
    z = draw(st.integers(0, grid.num_levels - 1))
    nx, ny = grid.sizes[z]
    return grid, TileCoord(
        draw(st.integers(0, nx - 1)), draw(st.integers(0, ny - 1)), z
    )


@given(grid_and_tile())
def test_neighbouring_tiles_share_edges_exactly(case: tuple[Grid, TileCoord]) -> None:
    grid, c = case
    box = grid.tile_bbox(c)
    right = grid.tile_bbox(TileCoord(c.x + 1, c.y, c.z))
    above = grid.tile_bbox(
        TileCoord(c.x, c.y + (1 if grid.origin == "ll" else -1), c.z)
    )
    assert right.minx == box.maxx
    assert above.miny == box.maxy


@given(grid_and_tile())
def test_tile_bbox_round_trips_through_tiles_for_bbox(
    case: tuple[Grid, TileCoord],
) -> None:
    grid, c = case
    assert grid.tiles_for_bbox(grid.tile_bbox(c), c.z) == TileRange(
        c.x, c.y, c.x, c.y, c.z
    )


@given(grids(), st.data())
def test_tiles_for_bbox_cover_the_bbox_and_no_more_than_one_tile_beyond(
    grid: Grid, data: st.DataObject
) -> None:
    z = data.draw(st.integers(0, grid.num_levels - 1))
    gb = grid.bbox
    fx = sorted(data.draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
    fy = sorted(data.draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
    minx, maxx = gb.minx + fx[0] * gb.width, gb.minx + fx[1] * gb.width
    miny, maxy = gb.miny + fy[0] * gb.height, gb.miny + fy[1] * gb.height
    if maxx - minx < 1e-6 * gb.width or maxy - miny < 1e-6 * gb.height:
        return
    bbox = Bbox(minx, miny, maxx, maxy)
    tiles = grid.tiles_for_bbox(bbox, z)
    assert tiles is not None
    covered = grid.range_bbox(tiles)
    tw, th = grid.tile_size[0] * grid.res[z], grid.tile_size[1] * grid.res[z]
    # up to float noise: with origin ul the bottom edge is counted down from the top
    noise = 1e-9 * max(tw, th)
    assert covered.minx <= bbox.minx + noise
    assert covered.miny <= bbox.miny + noise
    assert covered.maxx >= bbox.maxx - noise
    assert covered.maxy >= bbox.maxy - noise
    # every tile of the range intersects the bbox: the range reaches less than a tile beyond it
    assert covered.minx > bbox.minx - tw
    assert covered.maxx < bbox.maxx + tw
    assert covered.miny > bbox.miny - th
    assert covered.maxy < bbox.maxy + th
    for coord in (TileCoord(tiles.x0, tiles.y0, z), TileCoord(tiles.x1, tiles.y1, z)):
        assert grid.contains(coord)


@given(grids(), st.floats(1e-3, 1e8), st.floats(1e-3, 1e8))
def test_level_for_res_is_monotone(grid: Grid, a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert grid.level_for_res(lo) >= grid.level_for_res(hi)
    assert 0 <= grid.level_for_res(lo) < grid.num_levels


@given(
    grid_and_tile(),
    st.sampled_from([(1, 1), (2, 2), (4, 4), (3, 2)]),
    st.sampled_from([0, 10, 80, 200]),
)
@settings(max_examples=200)
def test_meta_tiles_split_exactly(
    case: tuple[Grid, TileCoord], meta_size: tuple[int, int], buffer: int
) -> None:
    grid, c = case
    meta = MetaGrid(grid, meta_size, buffer).meta_tile(c)
    res = grid.res[c.z]
    buffered = meta.buffered_bbox
    assert c in meta.tiles
    # the image is the buffered bbox at the level's resolution, in whole pixels (up to the
    # float precision of coordinates far from zero)
    px = 1e-6 + 1e-15 * max(map(abs, grid.bbox.as_tuple())) / res
    assert (buffered.maxx - buffered.minx) / res == pytest.approx(meta.size[0], abs=px)
    assert (buffered.maxy - buffered.miny) / res == pytest.approx(meta.size[1], abs=px)
    tw, th = grid.tile_size
    for tile in meta.tiles:
        left, top = meta.tile_offset(tile)
        box = grid.tile_bbox(tile)
        assert box.minx == _near(buffered.minx + left * res, res)
        assert box.maxy == _near(buffered.maxy - top * res, res)
        assert box.maxx == _near(buffered.minx + (left + tw) * res, res)
        assert box.miny == _near(buffered.maxy - (top + th) * res, res)


@given(
    grid_and_tile(),
    st.sampled_from([(1, 1), (4, 4), (2, 3)]),
    st.sampled_from([0, 80, 1000]),
)
@settings(max_examples=200)
def test_meta_buffer_is_clipped_at_grid_edges(
    case: tuple[Grid, TileCoord], meta_size: tuple[int, int], buffer: int
) -> None:
    grid, c = case
    meta = MetaGrid(grid, meta_size, buffer).meta_tile(c)
    gb, buffered, res = grid.bbox, meta.buffered_bbox, grid.res[c.z]
    slack = 1e-6 * res
    assert gb.minx - slack <= buffered.minx
    assert buffered.maxx <= gb.maxx + slack
    assert gb.miny - slack <= buffered.miny
    assert buffered.maxy <= gb.maxy + slack
    assert all(b <= buffer for b in meta.buffer)
    assert meta.size[0] >= 1
    assert meta.size[1] >= 1
    # clipped by less than one pixel plus the buffer: nothing of the grid inside the meta-tile is lost
    tiles = grid.range_bbox(meta.tiles)
    assert buffered.minx <= max(gb.minx, tiles.minx) + slack
    assert buffered.maxx >= min(gb.maxx, tiles.maxx) - res - slack
    assert buffered.maxy >= min(gb.maxy, tiles.maxy) - res - slack


def _near(value: float, res: float = 1.0) -> object:
    return pytest.approx(value, rel=1e-9, abs=1e-6 * res)
