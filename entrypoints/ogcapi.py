"""OGC API Tiles and Maps under `/ogcapi`: routing and content negotiation."""

from __future__ import annotations

import json
from typing import Any

import attrs

from domain import imaging
from domain.config import OGCAPIServiceConf
from domain.errors import RequestError
from domain.formats import MIXED, ImageFormat
from domain.grid import Grid
from domain.image_options import encode_options, resolve_format
from domain.srs import SRS, srs
from entrypoints import ogcapi_documents as documents
from entrypoints.auth import authorize, guarded
from entrypoints.bootstrap import AppState
from entrypoints.http import PROXY_VARY, Request, Response
from entrypoints.ogc import AccessDeniedError, NotFoundError
from entrypoints.ogcapi_html import html_page
from entrypoints.ogcapi_maps import get_map
from entrypoints.ogcapi_openapi import openapi
from entrypoints.ogcapi_tiles import get_tile
from entrypoints.wms_layers import WMSLayer, layer_tree

_VARY = f"Accept, {PROXY_VARY}"
# The grids MapProxy names by their OGC well-known tile matrix set.
_WELL_KNOWN = {"GLOBAL_WEBMERCATOR": documents.WEB_MERCATOR_QUAD}


@attrs.define
class OGCAPIService:
    state: AppState
    conf: OGCAPIServiceConf
    # The named layers, as WMS draws them, in configuration order.
    collections: dict[str, WMSLayer]
    # Every grid by its tile matrix set id.
    matrix_sets: dict[str, Grid]
    map_srs: tuple[SRS, ...]
    max_pixels: int
    # The offered image formats by extension (`png`, `jpeg`), first the default.
    formats: dict[str, tuple[ImageFormat, imaging.EncodeOptions]]

    @classmethod
    def build(cls, state: AppState) -> OGCAPIService:
        conf = state.conf.services.ogcapi
        assert conf is not None  # noqa: S101 - only built when the service is on
        named: dict[str, WMSLayer] = {}
        for layer in state.conf.layers:
            layer_tree(layer, state, named)
        image = state.conf.globals.image
        formats: dict[str, tuple[ImageFormat, imaging.EncodeOptions]] = {}
        for name in conf.image_formats:
            fmt = resolve_format(name, image)
            if fmt is not None and fmt != MIXED:
                formats.setdefault(fmt.ext, (fmt, encode_options(name, image)))
        limit = conf.max_output_pixels
        return cls(
            state,
            conf,
            named,
            {_WELL_KNOWN.get(name, name): grid for name, grid in state.grids.items()},
            tuple(srs(code) for code in conf.map_srs),
            limit[0] * limit[1] if isinstance(limit, tuple) else limit,
            formats,
        )

    def storage_grid(self, name: str) -> Grid | None:
        """The grid a collection is cached in first, if it is cached."""
        tile_layer = self.state.layers.get(name)
        return tile_layer.tilesets[0].grid if tile_layer else None

    def handle(self, request: Request, parts: list[str]) -> Response:
        """parts: the path below `/ogcapi`, split at slashes. Errors are the caller's to
        answer, as `ogcapi_error`s."""
        return self.route(request, [p for p in parts if p] if parts else [])

    def route(self, request: Request, parts: list[str]) -> Response:
        base = f"{request.base_url}/ogcapi"
        match parts:
            case []:
                return self.document(request, documents.landing_page(self, base))
            case ["conformance"]:
                return self.document(
                    request, documents.conformance(self), "Conformance"
                )
            case ["api"]:
                return self.document(
                    request, openapi(self, base), "API", documents.OPENAPI
                )
            case ["collections"]:
                names = self.visible(request)
                doc = documents.collections(self, base, names)
                return self.document(request, doc, "Collections")
            case ["collections", name]:
                self.check_collection(request, name)
                doc = documents.collection(self, base, name)
                return self.document(request, doc)
            case [
                "collections",
                name,
                "map" | "map.png" | "map.jpeg" | "map.jpg" as leaf,
            ]:
                self.check_collection(request, name)
                return get_map(self.maps(), request, [name], _ext(leaf))
            case ["map" | "map.png" | "map.jpeg" | "map.jpg" as leaf]:
                return get_map(self.maps(), request, self.dataset(request), _ext(leaf))
            case ["map", "tiles", *rest] if len(rest) in (0, 1, 4):
                if not self.conf.default_dataset_layers:
                    raise NotFoundError(
                        "no map tiles of the dataset: default_dataset_layers is not set"
                    )
                return self.tiles(request, base, None, rest)
            case ["collections", name, "map", "tiles", *rest] if len(rest) in (0, 1, 4):
                self.check_collection(request, name)
                return self.tiles(request, base, name, rest)
            case ["tileMatrixSets"]:
                doc = documents.matrix_sets(base, self.tiling().matrix_sets)
                return self.document(request, doc, "Tile matrix sets")
            case ["tileMatrixSets", tms]:
                doc = documents.matrix_set(tms, self.matrix_set(tms))
                return self.document(request, doc)
        raise NotFoundError(f"no OGC API resource at {request.path!r}")

    def tiles(
        self, request: Request, base: str, name: str | None, rest: list[str]
    ) -> Response:
        """A collection's map tile sets (or the dataset's, name None), one, or a tile."""
        self.tiling()
        if not rest:
            return self.document(request, documents.tilesets(self, base, name))
        tms = rest[0]
        if len(rest) == 1:
            self.matrix_set(tms)
            return self.document(request, documents.tileset(self, base, name, tms))
        names = [name] if name is not None else self.dataset(request)
        return get_tile(self, request, names, tms, (rest[1], rest[2], rest[3]))

    def tiling(self) -> OGCAPIService:
        if not self.conf.enable_tiles:
            raise NotFoundError("OGC API Tiles is not enabled (enable_tiles: false)")
        return self

    def matrix_set(self, tms: str) -> Grid:
        """The grid of tile matrix set `tms`; 404 if there is none (or no OGC API Tiles)."""
        grid = self.tiling().matrix_sets.get(tms)
        if grid is None:
            raise NotFoundError(
                f"unknown tile matrix set {tms!r}", param="tileMatrixSetId"
            )
        return grid

    def maps(self) -> OGCAPIService:
        if not self.conf.enable_maps:
            raise NotFoundError("OGC API Maps is not enabled (enable_maps: false)")
        return self

    def visible(self, request: Request) -> list[str]:
        """The collections the request's authorize callback lets it see (for map or tile)."""
        names = list(self.collections)
        if not guarded(request):
            return names
        grant = authorize(request, "ogcapi", names, query_extent=None)
        return [n for n in names if grant.permits(n, "map") or grant.permits(n, "tile")]

    def check_collection(self, request: Request, name: str) -> None:
        if name not in self.collections:
            raise NotFoundError(f"unknown collection {name!r}", param="collectionId")
        if guarded(request) and name not in self.visible(request):
            raise AccessDeniedError()

    def dataset(self, request: Request) -> list[str]:
        """The collections of a map or tile of the dataset: `collections=a,b`, else the
        configured `default_dataset_layers`."""
        value = request.args.get("collections", "")
        names = [n.strip() for n in value.split(",") if n.strip()]
        names = names or list(self.conf.default_dataset_layers or ())
        if not names:
            raise RequestError(
                "missing parameter collections",
                param="collections",
                code="MissingParameterValue",
            )
        for name in names:
            if name not in self.collections:
                raise NotFoundError(f"unknown collection {name!r}", param="collections")
        return names

    def document(
        self,
        request: Request,
        doc: dict[str, Any],
        heading: str = "",
        json_type: str = documents.JSON,
    ) -> Response:
        """doc as JSON or as HTML, by the `f` parameter, else the Accept header."""
        headers = [("Vary", _VARY)]
        if self.state.allow_origin:
            headers.append(("Access-Control-Allow-Origin", self.state.allow_origin))
        if wants_html(request):
            return Response(
                200, html_page(doc, heading), "text/html; charset=utf-8", headers
            )
        return Response(200, json.dumps(doc, indent=2).encode(), json_type, headers)


def wants_html(request: Request) -> bool:
    wanted = request.args.get("f")
    if wanted is not None:
        if wanted.lower() not in ("json", "html"):
            raise RequestError(f"f must be json or html, got {wanted!r}", param="f")
        return wanted.lower() == "html"
    html = json_ = 0.0
    for media_range in (request.header("Accept") or "").split(","):
        kind, *params = (p.strip() for p in media_range.split(";"))
        quality = _quality(params)
        if kind.lower() in ("text/html", "application/xhtml+xml"):
            html = max(html, quality)
        elif kind.lower().startswith("application/") and "json" in kind.lower():
            json_ = max(json_, quality)
    return html > json_


def _quality(params: list[str]) -> float:
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def _ext(leaf: str) -> str | None:
    return leaf.partition(".")[2] or None
