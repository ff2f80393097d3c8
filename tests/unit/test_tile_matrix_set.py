"""Which tile of an OGC tile matrix set a map query is (domain/tile_matrix_set.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.bbox import Bbox
from domain.grid import TileCoord
from domain.grids import resolve_grids
from domain.srs import srs
from domain.tile_matrix_set import TileMatrix, TileMatrixSet

WORLD = 20037508.342789244
WEB_MERCATOR_QUAD = TileMatrixSet(
    "WebMercatorQuad",
    srs("EPSG:3857"),
    tuple(
        TileMatrix(
            str(z), 2 * WORLD / 256 / 2**z, (-WORLD, WORLD), (256, 256), (2**z, 2**z)
        )
        for z in range(20)
    ),
)
WEBMERCATOR = resolve_grids({})["GLOBAL_WEBMERCATOR"]


@given(
    z=st.integers(0, 18),
    x=st.integers(0, 2**18 - 1),
    y=st.integers(0, 2**18 - 1),
)
def test_every_tile_of_the_webmercator_grid_is_the_same_tile_of_webmercatorquad(
    z: int, x: int, y: int
) -> None:
    coord = TileCoord(x % 2**z, y % 2**z, z)
    found = WEB_MERCATOR_QUAD.tile_for(WEBMERCATOR.tile_bbox(coord), (256, 256))
    assert found is not None
    matrix, col, row = found
    assert (matrix.id, col, row) == (str(z), coord.x, coord.y)


@pytest.mark.parametrize(
    ("bbox", "size"),
    [
        # two tiles wide
        (Bbox(-WORLD, 0, WORLD, WORLD), (256, 256)),
        # a tile's bbox at another pixel size
        (Bbox(-WORLD, -WORLD, WORLD, WORLD), (512, 512)),
        # half a tile off
        (Bbox(-WORLD / 2, 0, WORLD / 2, WORLD), (256, 256)),
        # outside the matrix
        (Bbox(WORLD, 0, 2 * WORLD, WORLD), (256, 256)),
    ],
)
def test_a_query_that_is_no_single_tile_is_none(
    bbox: Bbox, size: tuple[int, int]
) -> None:
    assert WEB_MERCATOR_QUAD.tile_for(bbox, size) is None


def test_bottom_left_corner_counts_rows_from_the_south() -> None:
    tms = TileMatrixSet(
        "sw",
        srs("EPSG:4326"),
        (TileMatrix("a", 1.0, (-180, -90), (90, 90), (4, 2), "bottomLeft"),),
    )
    assert tms.tile_for(Bbox(-90, 0, 0, 90), (90, 90)) == (tms.matrices[0], 1, 1)
    assert tms.matrices[0].tile_bbox(1, 1) == Bbox(-90, 0, 0, 90)
