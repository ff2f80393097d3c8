"""Answering a tile request, the same for every tile service."""

from __future__ import annotations

import attrs

from domain.coverage import Coverage
from domain.formats import HEAD_SIZE, MIXED, offered_format, stored_format
from domain.grid import TileCoord
from domain.ports import MapQuery, SourceImage, StoredTile
from domain.source_limits import blank, clipped_image
from domain.tiles import TileSet, get_tile
from entrypoints.bootstrap import AppState
from entrypoints.decorate import Decoration, decorated_tile
from entrypoints.http import Request, Response, tile_response


def serve_tile(
    request: Request,
    state: AppState,
    tileset: TileSet,
    coord: TileCoord,
    limit: Coverage | None = None,
    decorate: Decoration | None = None,
) -> Response:
    """The tile at coord (in the grid's own rows), from the cache or newly made, with validators;
    cut to `limit` (an access limit) where it reaches beyond it, transparent outside."""
    grid = tileset.grid
    if decorate is not None and (
        limit is None or limit.intersects(grid.tile_bbox(coord), grid.srs)
    ):
        return decorated_tile(request, state, tileset, coord, decorate, limit)
    if limit is not None and not limit.contains(grid.tile_bbox(coord), grid.srs):
        return _limited_tile(tileset, coord, limit)
    tile = get_tile(coord, tileset)
    return tile_response(
        request,
        tile,
        _content_type(tileset, tile),
        state.max_age,
        state.allow_origin,
    )


def _limited_tile(tileset: TileSet, coord: TileCoord, limit: Coverage) -> Response:
    """A tile cut to an access limit: made for one request, so neither cached nor validated."""
    grid = tileset.grid
    query = MapQuery(grid.tile_bbox(coord), grid.tile_size, grid.srs)
    if limit.intersects(query.bbox, query.srs):
        tile = get_tile(coord, tileset)
        mime = _content_type(tileset, tile)
        data = tile.data
        if data is None:
            with open(str(tile.path), "rb") as f:
                data = f.read()
        image = clipped_image(
            SourceImage(data, mime), limit, attrs.evolve(query, format=mime)
        )
    else:
        # Nothing of it may be seen: not even made.
        image = blank(attrs.evolve(query, format=offered_format(tileset.format).mime))
    return Response(200, image.data, image.format, [("Cache-Control", "private")])


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
