"""OGC API Tiles: a collection's map tile, from its cache where it has one on that grid."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.errors import RequestError
from domain.formats import offered_format
from domain.grid import TileCoord
from domain.ports import MapQuery
from entrypoints.auth import tile_coord_access
from entrypoints.decorate import tile_decoration
from entrypoints.http import Request, Response
from entrypoints.ogc import NotFoundError
from entrypoints.ogcapi_maps import draw, map_style
from entrypoints.tile_answer import serve_tile

if TYPE_CHECKING:
    from entrypoints.ogcapi import OGCAPIService


def get_tile(
    service: OGCAPIService,
    request: Request,
    name: str,
    tms: str,
    path: tuple[str, str, str],
) -> Response:
    """path: tileMatrix, tileRow and tileCol (maybe with `.png`/`.jpg`); rows count from the
    grid's origin, as its tile matrix set's cornerOfOrigin says."""
    grid = service.matrix_sets.get(tms)
    if grid is None:
        raise NotFoundError(f"unknown tile matrix set {tms!r}", param="tileMatrixSetId")
    matrix, row, col_ext = path
    col, dot, ext = col_ext.partition(".")
    coord = TileCoord(
        _int(col, "tileCol"), _int(row, "tileRow"), _int(matrix, "tileMatrix")
    )
    if not grid.contains(coord):
        raise NotFoundError(
            f"tile {coord.z}/{coord.y}/{coord.x} is outside the tile matrix set {tms}",
            param="tileMatrix",
        )
    style = map_style(service, request, ext if dot else None)
    tile_layer = service.state.layers.get(name)
    tileset = (
        next(
            (ts for ts in tile_layer.tilesets if ts.grid.name == grid.name),
            None,
        )
        if tile_layer is not None
        else None
    )
    # A cached tile as it is stored: in the cache's format, with no background asked for.
    plain = "bgcolor" not in request.args and "transparent" not in request.args
    if (
        tile_layer is None
        or tileset is None
        or not plain
        or (offered_format(tileset.format) != style.fmt)
    ):
        query = MapQuery(
            grid.tile_bbox(coord), grid.tile_size, grid.srs, style.fmt.mime
        )
        return draw(service, request, [name], query, style, "tile")
    if tile_layer.dimensions is not None:
        # OGC API has no dimension parameters: the default of each.
        tileset = tile_layer.variants.get(
            tileset, tile_layer.dimensions.choose(lambda d: None)
        )
    limit = tile_coord_access(request, "ogcapi.tile", name, grid, coord)
    decorate = tile_decoration(request, "ogcapi.tile", name, tileset, coord)
    return serve_tile(request, service.state, tileset, coord, limit, decorate)


def _int(value: str, param: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise RequestError(
            f"{param} must be an integer, got {value!r}", param=param
        ) from None
