"""Grids built from configuration give MapProxy's numbers (taken once from MapProxy 7)."""

from __future__ import annotations

import pytest

from domain.bbox import Bbox
from domain.config import GridConf
from domain.errors import ConfigValueError
from domain.grid import Grid, TileCoord
from domain.grids import BUILTIN_GRIDS, grid_from_conf, resolve_grids

MERC = 20037508.342789244
UTM_BBOX = (200000.0, 5200000.0, 1000000.0, 6200000.0)


def build(**conf: object) -> Grid:
    return grid_from_conf("test", GridConf(**conf))  # type: ignore[arg-type]


def assert_res(grid: Grid, expected: list[float]) -> None:
    assert grid.res == pytest.approx(expected, rel=1e-12)


def test_builtin_grids_match_mapproxy() -> None:
    grids = resolve_grids({})
    geodetic, mercator, web = (
        grids["GLOBAL_GEODETIC"],
        grids["GLOBAL_MERCATOR"],
        grids["GLOBAL_WEBMERCATOR"],
    )
    assert geodetic.srs.code == "EPSG:4326"
    assert geodetic.origin == "ll"
    assert geodetic.bbox == Bbox(-180, -90, 180, 90)
    assert geodetic.res[:3] == (1.40625, 0.703125, 0.3515625)
    assert geodetic.res[19] == 2.682209014892578e-06
    assert geodetic.sizes[:6] == ((1, 1), (2, 1), (4, 2), (8, 4), (16, 8), (32, 16))
    assert geodetic.sizes[19] == (524288, 262144)
    for grid, origin in ((mercator, "ll"), (web, "ul")):
        assert grid.origin == origin
        assert grid.bbox == Bbox(-MERC, -MERC, MERC, MERC)
        assert grid.num_levels == 20
        assert grid.res[0] == 156543.03392804097
        assert grid.res[5] == 4891.96981025128
        assert grid.res[19] == pytest.approx(0.29858214173896974, rel=1e-15)
        assert grid.sizes[5] == (32, 32)
    assert mercator.srs.code == "EPSG:900913"
    assert web.srs.code == "EPSG:3857"


def test_builtin_tile_bboxes_match_mapproxy() -> None:
    grids = resolve_grids({})
    assert grids["GLOBAL_WEBMERCATOR"].tile_bbox(TileCoord(1, 0, 1)) == Bbox(
        0, 0, MERC, MERC
    )
    assert grids["GLOBAL_MERCATOR"].tile_bbox(TileCoord(1, 0, 1)) == Bbox(
        0, -MERC, MERC, 0
    )
    assert grids["GLOBAL_GEODETIC"].tile_bbox(TileCoord(1, 0, 1)) == Bbox(
        0, -90, 180, 90
    )


@pytest.mark.parametrize(
    ("conf", "res", "sizes"),
    [
        pytest.param(
            {"srs": "EPSG:25832", "bbox": UTM_BBOX, "min_res": 2000, "max_res": 1},
            [2000 / 2**i for i in range(11)],
            [
                (2, 2),
                (4, 4),
                (7, 8),
                (13, 16),
                (25, 32),
                (50, 63),
                (100, 125),
                (200, 250),
            ],
            id="min_res-max_res",
        ),
        pytest.param(
            {
                "srs": "EPSG:25832",
                "bbox": UTM_BBOX,
                "min_res": 2000,
                "max_res": 1,
                "num_levels": 7,
            },
            [
                2000.0,
                563.453822769568,
                158.74010519681985,
                44.721359549995796,
                12.599210498948729,
                3.549536659755568,
                1.0,
            ],
            [(2, 2), (6, 7), (20, 25), (70, 88), (249, 311), (881, 1101), (3125, 3907)],
            id="min_res-max_res-num_levels",
        ),
        pytest.param(
            {
                "srs": "EPSG:4326",
                "bbox": (5, 45, 15, 55),
                "res_factor": "sqrt2",
                "num_levels": 8,
            },
            [
                0.0390625,
                0.02762135864009951,
                0.019531249999999997,
                0.013810679320049753,
                0.009765624999999997,
                0.006905339660024875,
                0.004882812499999997,
                0.003452669830012437,
            ],
            [(1, 1), (2, 2), (2, 2), (3, 3), (4, 4), (6, 6), (8, 8), (12, 12)],
            id="sqrt2",
        ),
        pytest.param(
            {"base": "GLOBAL_WEBMERCATOR", "res_factor": 3, "num_levels": 6},
            [
                156543.03392804097,
                52181.01130934699,
                17393.670436448996,
                5797.890145482998,
                1932.6300484943329,
                644.2100161647776,
            ],
            [(1, 1), (3, 3), (9, 9), (27, 27), (81, 81), (243, 243)],
            id="res_factor-3-with-base",
        ),
        pytest.param(
            {
                "srs": "EPSG:3857",
                "bbox": (5, 45, 15, 55),
                "bbox_srs": "EPSG:4326",
                "num_levels": 5,
                "origin": "nw",
            },
            [
                6798.221198668445,
                3399.1105993342226,
                1699.5552996671113,
                849.7776498335556,
                424.8888249167778,
            ],
            [(1, 1), (2, 2), (3, 4), (6, 8), (11, 16)],
            id="bbox_srs",
        ),
        pytest.param(
            {
                "srs": "EPSG:25832",
                "bbox": UTM_BBOX,
                "res": (1000, 500, 250, 100, 50),
                "origin": "ul",
                "tile_size": (512, 256),
            },
            [1000, 500, 250, 100, 50],
            [(2, 4), (4, 8), (7, 16), (16, 40), (32, 79)],
            id="res-tile_size-ul",
        ),
        pytest.param(
            {"srs": "EPSG:4326", "min_res": 0.5, "num_levels": 4},
            [0.5, 0.25, 0.125, 0.0625],
            [(3, 2), (6, 3), (12, 6), (23, 12)],
            id="min_res-only",
        ),
        pytest.param(
            {"srs": "EPSG:3857", "max_res": 1000},
            [156543.03392804097 / 2**i for i in range(8)],
            [(2**i, 2**i) for i in range(8)],
            id="max_res-only",
        ),
        pytest.param(
            {
                "srs": "EPSG:25832",
                "bbox": UTM_BBOX,
                "res_factor": 1.5,
                "max_res": 10,
                "origin": "nw",
            },
            [3906.25 / 1.5**i for i in range(15)],
            [(1, 1), (2, 2), (2, 3), (3, 4), (5, 6), (7, 8), (10, 12), (14, 18)],
            id="res_factor-1.5-max_res",
        ),
    ],
)
def test_custom_grid_matches_mapproxy(
    conf: dict[str, object], res: list[float], sizes: list[tuple[int, int]]
) -> None:
    confs = {"test": GridConf(**conf)}  # type: ignore[arg-type]
    grid = resolve_grids(confs)["test"]
    assert_res(grid, res)
    assert list(grid.sizes[: len(sizes)]) == sizes


def test_bbox_srs_transforms_bbox_like_mapproxy() -> None:
    grid = build(
        srs="EPSG:3857", bbox=(5, 45, 15, 55), bbox_srs="EPSG:4326", num_levels=5
    )
    expected = (
        556597.4539663679,
        5621521.486192066,
        1669792.3618991035,
        7361866.113051188,
    )
    assert grid.bbox.as_tuple() == pytest.approx(expected, rel=1e-12)
    in_4326 = build(
        srs="EPSG:4326",
        bbox=(-1000000, 5000000, 2000000, 8000000),
        bbox_srs="EPSG:3857",
        num_levels=3,
    )
    expected = (
        -8.983152841195214,
        40.91627447067578,
        17.966305682390427,
        58.155242094659734,
    )
    assert in_4326.bbox.as_tuple() == pytest.approx(expected, rel=1e-12)
    assert in_4326.sizes == ((1, 1), (2, 2), (4, 3))


def test_sqrt2_default_has_40_levels_and_exact_sizes_at_depth() -> None:
    grid = build(srs="EPSG:4326", res_factor="sqrt2", origin="ul")
    assert grid.num_levels == 40
    assert grid.origin == "ul"
    assert grid.sizes[:8] == (
        (1, 1),
        (2, 1),
        (2, 1),
        (3, 2),
        (4, 2),
        (6, 3),
        (8, 4),
        (12, 6),
    )
    # 1.40625 / sqrt(2)**38 is 2**-19 * 1.40625 up to float noise: 524288 columns, not one more.
    assert grid.sizes[38] == (524288, 262144)


@pytest.mark.parametrize(
    ("spelling", "origin"),
    [("sw", "ll"), ("ll", "ll"), ("nw", "ul"), ("ul", "ul"), ("NW", "ul")],
)
def test_origin_spellings(spelling: str, origin: str) -> None:
    assert build(srs="EPSG:4326", origin=spelling, num_levels=2).origin == origin


def test_unknown_origin_is_a_config_error() -> None:
    with pytest.raises(ConfigValueError, match="grid 'test': unknown origin 'se'"):
        build(srs="EPSG:4326", origin="se")


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"srs": "EPSG:25832"}, "needs a bbox"),
        ({"srs": "EPSG:4326", "res": (1.0,), "min_res": 2.0}, "cannot be combined"),
        ({"srs": "EPSG:4326", "res_factor": 1.0}, "greater than 1"),
        ({"srs": "EPSG:4326", "min_res": 1.0, "max_res": 2.0}, "coarser"),
        ({"srs": "EPSG:4326", "num_levels": 0}, "at least 1"),
        ({"srs": "EPSG:99999"}, "unknown SRS"),
    ],
)
def test_bad_grids_are_config_errors(conf: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigValueError, match=message):
        build(**conf)


def test_base_chain_and_cycles() -> None:
    confs = {
        "a": GridConf(base="GLOBAL_GEODETIC", num_levels=3),
        "b": GridConf(base="a", tile_size=(512, 512)),
    }
    grid = resolve_grids(confs)["b"]
    assert grid.num_levels == 3
    assert grid.tile_size == (512, 512)
    assert grid.res[0] == 0.703125
    with pytest.raises(ConfigValueError, match="cycle"):
        resolve_grids({"x": GridConf(base="y"), "y": GridConf(base="x")})
    with pytest.raises(ConfigValueError, match="unknown base grid"):
        resolve_grids({"x": GridConf(base="nope")})
    assert set(BUILTIN_GRIDS) <= set(resolve_grids({}))


THRESH = build(
    srs="EPSG:25832",
    bbox=UTM_BBOX,
    res=(1000, 500, 250, 100, 50),
    threshold_res=(700, 120),
)
MINMAX = build(srs="EPSG:25832", bbox=UTM_BBOX, min_res=2000, max_res=1)
GEODETIC = resolve_grids({})["GLOBAL_GEODETIC"]
STRETCH = build(base=None, srs="EPSG:4326", stretch_factor=1.5)
# closest_level of MapProxy 7 for these resolutions
LEVELS_UTM = [
    5000,
    1500,
    1000,
    869.5652173913044,
    869,
    800,
    700.5,
    700,
    699.5,
    600,
    500,
    430,
    435,
    300,
    250,
    200,
    150,
    121,
    120,
    119,
    100,
    87,
    86.9,
    60,
    50,
    40,
    10,
    1,
]
LEVELS_GEO = [
    2,
    1.40625,
    1.3,
    1.2,
    1.2228260869565217,
    0.9375,
    0.9,
    0.8,
    0.71,
    0.703125,
    0.65,
    0.6,
    0.5,
    0.47,
    0.45,
    1e-07,
    0.03,
    0.025,
    0.021,
    0.02,
]


@pytest.mark.parametrize(
    ("grid", "resolutions", "levels"),
    [
        pytest.param(
            THRESH,
            LEVELS_UTM,
            [
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                1,
                1,
                1,
                1,
                2,
                1,
                2,
                2,
                2,
                2,
                2,
                3,
                3,
                3,
                3,
                4,
                4,
                4,
                4,
                4,
                4,
            ],
            id="threshold_res",
        ),
        pytest.param(
            MINMAX,
            LEVELS_UTM,
            [
                0,
                1,
                1,
                1,
                2,
                2,
                2,
                2,
                2,
                2,
                2,
                3,
                2,
                3,
                3,
                4,
                4,
                4,
                4,
                4,
                5,
                5,
                5,
                5,
                6,
                6,
                8,
                10,
            ],
            id="plain",
        ),
        pytest.param(
            GEODETIC,
            LEVELS_GEO,
            [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 19, 6, 6, 6, 6],
            id="geodetic",
        ),
        pytest.param(
            STRETCH,
            LEVELS_GEO,
            [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 19, 5, 6, 6, 6],
            id="stretch_factor",
        ),
    ],
)
def test_level_for_res_matches_mapproxy_closest_level(
    grid: Grid, resolutions: list[float], levels: list[int]
) -> None:
    assert [grid.level_for_res(r) for r in resolutions] == levels
