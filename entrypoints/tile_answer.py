"""Answering a tile request, the same for every tile service."""

from __future__ import annotations

from domain.formats import HEAD_SIZE, MIXED, stored_format
from domain.grid import TileCoord
from domain.ports import StoredTile
from domain.tiles import TileSet, get_tile
from entrypoints.bootstrap import AppState
from entrypoints.http import Request, Response, tile_response


def serve_tile(
    request: Request, state: AppState, tileset: TileSet, coord: TileCoord
) -> Response:
    """The tile at coord (in the grid's own rows), from the cache or newly made, with validators."""
    tile = get_tile(coord, tileset)
    return tile_response(
        request,
        tile,
        _content_type(tileset, tile),
        state.max_age,
        state.allow_origin,
    )


def _content_type(tileset: TileSet, tile: StoredTile) -> str:
    if tileset.format != MIXED:
        return tileset.format.mime
    # A mixed tile is PNG or JPEG: its first bytes say which.
    if tile.data is not None:
        head = tile.data[:HEAD_SIZE]
    else:
        try:
            with open(str(tile.path), "rb") as f:
                head = f.read(HEAD_SIZE)
        except OSError:
            head = b""  # removed meanwhile: the answer's body will be empty anyway
    return stored_format(tileset.format, head).mime
