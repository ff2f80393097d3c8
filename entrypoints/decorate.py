"""MapProxy's `mapproxy.decorate_img` hook: a server embedding Tilegate changes images per request.

A middleware in front of the app puts a callable under `mapproxy.decorate_img` in the WSGI
environ. Before an image is encoded it is called as MapProxy calls it,
`callback(image, service, layers, environ=environ, query_extent=(srs_code, bbox))`, where
`image.as_image()` is the Pillow image, `service` is `wms.map`, `tms` (also `/tiles`), `wmts`,
`kml`, `ogcapi.map` or `ogcapi.tile`, and `layers` the layer names drawn. It returns the image
to send: a Pillow image, or anything whose `as_image()` gives one (such as MapProxy's own image
results), of the same size.

A decorated tile is made for its request alone: the cache keeps the plain tile, and the answer
carries its own validators (an ETag of its bytes), never the stored tile's. Without a callback
nothing here costs more than one dict lookup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from PIL import Image

from adapters import logs
from domain import imaging
from domain.coverage import Coverage
from domain.errors import TilegateError
from domain.formats import HEAD_SIZE, stored_format
from domain.grid import TileCoord
from domain.ports import MapQuery
from domain.source_limits import clip
from domain.tiles import TileSet, get_tile
from domain.wms_map import MapLayer
from entrypoints.auth import tile_extent
from entrypoints.bootstrap import AppState, read_tile
from entrypoints.http import Environ, Request, Response, etag_matches

DECORATE_IMG = "mapproxy.decorate_img"
Callback = Callable[..., Any]
QueryExtent = tuple[str, tuple[float, float, float, float]]


class DecorationError(TilegateError):
    """The decorate_img callback failed or gave back no usable image (a bug of the server
    embedding Tilegate, answered as a server error)."""


@attrs.frozen
class CallbackImage:
    """The image a callback gets, with the part of MapProxy's image result callbacks use."""

    image: Image.Image
    # The MIME type it will be encoded in.
    format: str

    def as_image(self) -> Image.Image:
        return self.image

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


@attrs.frozen
class Decoration:
    """One request's callback, with the arguments it is called with."""

    callback: Callback
    service: str
    layers: tuple[str, ...]
    environ: Environ
    query_extent: QueryExtent

    def apply(self, image: Image.Image, mime: str) -> Image.Image:
        """image as the callback returns it, RGB or RGBA, of the same size."""
        try:
            result = self.callback(
                CallbackImage(image, mime),
                self.service,
                list(self.layers),
                environ=self.environ,
                query_extent=self.query_extent,
            )
            if not isinstance(result, Image.Image) and hasattr(result, "as_image"):
                result = result.as_image()
        # The embedding server's own code: whatever it raises is its bug, answered as a
        # server error with an OGC body (its traceback goes to the log, not to the client).
        except Exception as exc:
            logs.get_logger(logs.SYSTEM).exception(
                "decorate_img callback failed", service=self.service
            )
            raise DecorationError("the decorate_img callback failed") from exc
        if not isinstance(result, Image.Image):
            raise DecorationError(
                f"the decorate_img callback returned {type(result).__name__}, not an image"
            )
        if result.size != image.size:
            raise DecorationError(
                "the decorate_img callback returned a "
                f"{result.size[0]}x{result.size[1]} image for a {image.size[0]}x{image.size[1]} one"
            )
        return result if result.mode in ("RGB", "RGBA") else result.convert("RGBA")


def tile_decoration(
    request: Request, service: str, layer: str, tileset: TileSet, coord: TileCoord
) -> Decoration | None:
    """The decoration of a tile request (coord in the grid's own rows); None without a callback."""
    callback = request.environ.get(DECORATE_IMG)
    if callback is None:
        return None
    return Decoration(
        callback, service, (layer,), request.environ, tile_extent(tileset.grid, coord)
    )


def decorate_map(
    request: Request,
    layers: Sequence[MapLayer],
    query: MapQuery,
    image: Image.Image,
    mime: str,
    service: str = "wms.map",
) -> Image.Image:
    """A map (WMS's, or `service`'s) as the request's callback changes it (unchanged without
    one)."""
    callback = request.environ.get(DECORATE_IMG)
    if callback is None:
        return image
    # As MapProxy: the layers drawn at this scale, each once, in drawing order.
    names = tuple(dict.fromkeys(m.name for m in layers if m.visible(query)))
    extent = (query.srs.code, query.bbox.as_tuple())
    return Decoration(callback, service, names, request.environ, extent).apply(
        image, mime
    )


def decorated_tile(
    request: Request,
    state: AppState,
    tileset: TileSet,
    coord: TileCoord,
    decoration: Decoration,
    limit: Coverage | None = None,
) -> Response:
    """The tile at coord decorated for this request, then cut to `limit` (as MapProxy orders
    it): the stored tile stays plain, the answer is private and validated by its own bytes."""
    grid = tileset.grid
    data = read_tile(get_tile(coord, tileset))
    fmt = stored_format(tileset.format, data[:HEAD_SIZE])
    image = decoration.apply(imaging.decode(data, grid.tile_size), fmt.mime)
    if limit is not None:
        image = clip(
            image, limit, MapQuery(grid.tile_bbox(coord), grid.tile_size, grid.srs)
        )
    fmt = imaging.concrete_format(image, tileset.format)
    body = imaging.encode(image, fmt, tileset.encode_options)
    etag = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
    # The stored tile's mtime says nothing about the decoration (which may differ per user and
    # change any time): no Last-Modified, and every reuse is revalidated against the ETag.
    headers = [("ETag", etag), ("Cache-Control", "private, no-cache")]
    if state.allow_origin:
        headers.append(("Access-Control-Allow-Origin", state.allow_origin))
    if etag_matches(request, etag):
        return Response(304, content_type=fmt.mime, headers=headers, content_length=0)
    return Response(200, body, fmt.mime, headers)
