"""Answering a tile request, the same for every tile service."""

from __future__ import annotations

from domain.grid import TileCoord
from domain.tiles import TileSet, get_tile
from entrypoints.bootstrap import AppState
from entrypoints.http import Request, Response, tile_response


def serve_tile(
    request: Request, state: AppState, tileset: TileSet, coord: TileCoord
) -> Response:
    """The tile at coord (in the grid's own rows), from the cache or newly made, with validators."""
    tile = get_tile(coord, tileset)
    return tile_response(
        request, tile, tileset.format.mime, state.max_age, state.allow_origin
    )
