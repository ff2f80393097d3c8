"""Meta-tiles against MapProxy's numbers, and at the grid's edges."""

from __future__ import annotations

import pytest

from domain.bbox import Bbox
from domain.config import GridConf
from domain.grid import Grid, Origin, TileCoord, TileRange
from domain.grids import grid_from_conf, resolve_grids
from domain.metatile import MetaGrid
from domain.srs import srs

MERC = 20037508.342789244
GRIDS = resolve_grids({})


def test_inner_meta_tile_matches_mapproxy() -> None:
    meta_grid = MetaGrid(GRIDS["GLOBAL_WEBMERCATOR"], (4, 4), 80)
    meta = meta_grid.meta_tile(TileCoord(5, 6, 3))
    assert meta.tiles == TileRange(4, 4, 7, 7, 3)
    assert meta.buffered_bbox.as_tuple() == pytest.approx(
        (-1565430.3392804097, -MERC, MERC, 1565430.3392804097)
    )
    assert meta.size == (1104, 1104)
    assert meta.tile_offset(TileCoord(4, 4, 3)) == (80, 80)
    assert meta.tile_offset(TileCoord(5, 4, 3)) == (336, 80)
    assert meta_grid.lock_name(TileCoord(5, 6, 3)) == "3-1-1"


def test_level_0_of_geodetic_is_cut_at_latitude_90_like_mapproxy() -> None:
    # The single level-0 tile covers latitudes -90..270: only the grid's half is requested.
    meta = MetaGrid(GRIDS["GLOBAL_GEODETIC"], (4, 4), 80).meta_tile(TileCoord(0, 0, 0))
    assert meta.buffered_bbox == Bbox(-180, -90, 180, 90)
    assert meta.size == (256, 128)
    assert meta.tile_offset(TileCoord(0, 0, 0)) == (0, -128)


@pytest.mark.parametrize(
    ("coord", "bbox", "size", "offsets"),
    [
        (
            (0, 1, 0),
            (200000, 5200000, 1000000, 6200000),
            (400, 500),
            {(0, 0): (0, 244), (0, 1): (0, -12)},
        ),
        (
            (3, 5, 2),
            (200000, 5672000, 752000, 6200000),
            (1104, 1056),
            {(0, 4): (0, 720), (0, 5): (0, 464)},
        ),
        (
            (48, 62, 5),
            (963000, 6155000, 1000000, 6200000),
            (592, 720),
            {(48, 60): (80, 384), (48, 61): (80, 128)},
        ),
    ],
)
def test_meta_tiles_stop_at_a_bbox_that_is_no_multiple_of_the_tile_size(
    coord: tuple[int, int, int],
    bbox: tuple[float, ...],
    size: tuple[int, int],
    offsets: dict[tuple[int, int], tuple[int, int]],
) -> None:
    grid = grid_from_conf(
        "utm",
        GridConf(
            srs="EPSG:25832",
            bbox=(200000, 5200000, 1000000, 6200000),
            min_res=2000,
            max_res=1,
        ),
    )
    meta = MetaGrid(grid, (4, 4), 80).meta_tile(TileCoord(*coord))
    assert meta.buffered_bbox.as_tuple() == pytest.approx(bbox)
    assert meta.size == size
    for (x, y), offset in offsets.items():
        assert meta.tile_offset(TileCoord(x, y, coord[2])) == offset


def test_partial_pixel_at_the_edge_is_cut_inwards() -> None:
    # 163.75 pixels of grid at level 0: 163 whole pixels are requested, never beyond the grid
    grid = grid_from_conf(
        "m",
        GridConf(
            srs="EPSG:3857", bbox=(5, 45, 15, 55), bbox_srs="EPSG:4326", num_levels=5
        ),
    )
    meta = MetaGrid(grid, (4, 4), 80).meta_tile(TileCoord(0, 0, 0))
    assert meta.size == (163, 256)
    assert meta.buffered_bbox.maxx <= grid.bbox.maxx


@pytest.mark.parametrize(
    ("origin", "image"),
    [("ll", Bbox(256, 256, 257, 257)), ("ul", Bbox(256, -0.75, 257, 0.25))],
)
def test_a_tile_overlapping_the_grid_by_a_sliver_still_gets_one_pixel(
    origin: Origin, image: Bbox
) -> None:
    grid = Grid(
        "g", srs("EPSG:3857"), Bbox(0, 0, 256.25, 256.25), (1.0,), (256, 256), origin
    )
    assert grid.sizes == ((2, 2),)
    meta = MetaGrid(grid, (1, 1), 0).meta_tile(TileCoord(1, 1, 0))
    assert meta.size == (1, 1)
    assert meta.buffered_bbox == image


def test_meta_tile_is_clipped_to_the_grid_size() -> None:
    meta = MetaGrid(GRIDS["GLOBAL_MERCATOR"], (4, 4), 80).meta_tile(TileCoord(1, 1, 1))
    assert meta.tiles == TileRange(0, 0, 1, 1, 1)
    assert meta.size == (512, 512)
    assert meta.buffer == (0, 0, 0, 0)
    assert meta.tile_offset(TileCoord(0, 1, 1)) == (0, 0)
    assert meta.tile_offset(TileCoord(0, 0, 1)) == (0, 256)


def test_for_tiles_buffers_a_single_tile() -> None:
    meta = MetaGrid(GRIDS["GLOBAL_WEBMERCATOR"], (4, 4), 10).for_tiles(
        TileRange(3, 3, 3, 3, 3)
    )
    assert meta.size == (276, 276)
    assert meta.tile_offset(TileCoord(3, 3, 3)) == (10, 10)
