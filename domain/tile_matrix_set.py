"""OGC tile matrix sets (OGC 17-083r4): the levels of a tiling scheme, and which tile a map
query asks for.

An `ogcapitiles` source serves a cache from an upstream tiling scheme it only learns at run
time, so each query (one tile of the cache's grid) is matched against the scheme's matrices:
same tile size, same cell size and edges on the matrix's tile edges, as MapProxy requires.
"""

from __future__ import annotations

import math
from typing import Literal

import attrs

from domain.bbox import Bbox
from domain.srs import SRS

# A query matches a tile when its edges are within this fraction of a tile of the tile's edges.
_TOLERANCE = 1e-6


@attrs.frozen
class TileMatrix:
    """One level: `cell_size` units per pixel, tiles counted from `origin` (east/north), the
    top-left corner unless `corner` says bottom-left."""

    id: str
    cell_size: float
    origin: tuple[float, float]
    tile_size: tuple[int, int]
    matrix_size: tuple[int, int]
    corner: Literal["topLeft", "bottomLeft"] = "topLeft"

    def tile_bbox(self, col: int, row: int) -> Bbox:
        width = self.tile_size[0] * self.cell_size
        height = self.tile_size[1] * self.cell_size
        ox, oy = self.origin
        # Edges from indices, never from a neighbour's edge plus a width (see STYLE.md).
        minx, maxx = ox + col * width, ox + (col + 1) * width
        if self.corner == "topLeft":
            return Bbox(minx, oy - (row + 1) * height, maxx, oy - row * height)
        return Bbox(minx, oy + row * height, maxx, oy + (row + 1) * height)


@attrs.frozen
class TileMatrixSet:
    """A tiling scheme in `srs`: its matrices from the coarsest level down."""

    id: str
    srs: SRS
    matrices: tuple[TileMatrix, ...]

    def tile_for(
        self, bbox: Bbox, size: tuple[int, int]
    ) -> tuple[TileMatrix, int, int] | None:
        """The matrix, column and row of the one tile that is `bbox` at `size` pixels; None
        if the query is no single tile of this scheme."""
        res = bbox.width / size[0]
        for matrix in self.matrices:
            if matrix.tile_size != size or not math.isclose(
                res, matrix.cell_size, rel_tol=_TOLERANCE
            ):
                continue
            width = matrix.tile_size[0] * matrix.cell_size
            height = matrix.tile_size[1] * matrix.cell_size
            col = round((bbox.minx - matrix.origin[0]) / width)
            row = round(
                (matrix.origin[1] - bbox.maxy) / height
                if matrix.corner == "topLeft"
                else (bbox.miny - matrix.origin[1]) / height
            )
            if not (
                0 <= col < matrix.matrix_size[0] and 0 <= row < matrix.matrix_size[1]
            ):
                continue
            tile = matrix.tile_bbox(col, row)
            slack = _TOLERANCE * width
            if all(
                abs(a - b) <= slack
                for a, b in zip(tile.as_tuple(), bbox.as_tuple(), strict=True)
            ):
                return matrix, col, row
        return None
