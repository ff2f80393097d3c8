"""OGC API Tiles: a collection's map tile, from its cache where it has one on that grid."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.errors import RequestError
from domain.formats import ImageFormat, offered_format
from domain.grid import Grid, TileCoord
from domain.ports import MapQuery
from domain.tiles import TileSet
from entrypoints.auth import tile_coord_access
from entrypoints.bootstrap import TileLayer
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
    names: list[str],
    tms: str,
    path: tuple[str, str, str],
) -> Response:
    """A tile of the collections `names`; path: tileMatrix, tileRow and tileCol (maybe with
    `.png`/`.jpg`); rows count from the grid's origin, as its cornerOfOrigin says."""
    grid = service.matrix_set(tms)
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
    cached = _cached(service, request, names, grid, style.fmt)
    if cached is None:
        query = MapQuery(
            grid.tile_bbox(coord), grid.tile_size, grid.srs, style.fmt.mime
        )
        return draw(service, request, names, query, style, "tile")
    name, (tile_layer, tileset) = names[0], cached
    if tile_layer.dimensions is not None:
        # OGC API has no dimension parameters: the default of each.
        tileset = tile_layer.variants.get(
            tileset, tile_layer.dimensions.choose(lambda d: None)
        )
    limit = tile_coord_access(request, "ogcapi.tile", name, grid, coord)
    decorate = tile_decoration(request, "ogcapi.tile", name, tileset, coord)
    return serve_tile(request, service.state, tileset, coord, limit, decorate)


def _cached(
    service: OGCAPIService,
    request: Request,
    names: list[str],
    grid: Grid,
    fmt: ImageFormat,
) -> tuple[TileLayer, TileSet] | None:
    """The tile layer and its tile set that serve the tile as stored: one collection cached
    on the grid, asked in the cache's format and with no background (else it is drawn)."""
    tile_layer = service.state.layers.get(names[0]) if len(names) == 1 else None
    if tile_layer is None or {"bgcolor", "transparent"} & request.args.keys():
        return None
    for tileset in tile_layer.tilesets:
        if tileset.grid.name == grid.name and offered_format(tileset.format) == fmt:
            return tile_layer, tileset
    return None


def _int(value: str, param: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise RequestError(
            f"{param} must be an integer, got {value!r}", param=param
        ) from None
