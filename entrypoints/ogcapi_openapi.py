"""The OpenAPI 3.0 document of the OGC API service: its paths, parameters and metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from entrypoints.ogcapi_documents import HTML, JSON, identification

if TYPE_CHECKING:
    from entrypoints.ogcapi import OGCAPIService

Doc = dict[str, Any]


def _param(name: str, where: str, description: str, schema: Doc) -> Doc:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema,
    }


_F = _param("f", "query", "The answer's format", {"enum": ["json", "html"]})
_COLLECTION = _param("collectionId", "path", "A collection's id", {"type": "string"})
_TMS = _param("tileMatrixSetId", "path", "A tile matrix set's id", {"type": "string"})
_INT = {"type": "integer", "minimum": 0}
_TILE = [
    _param("tileMatrix", "path", "The tile matrix (zoom level)", {"type": "string"}),
    _param("tileRow", "path", "The row, from the matrix's cornerOfOrigin", _INT),
    _param("tileCol", "path", "The column, from the left", _INT),
]
_NUMBERS = {"type": "array", "items": {"type": "number"}, "minItems": 4}
_MAP = [
    _param("bbox", "query", "minx,miny,maxx,maxy in bbox-crs' axis order", _NUMBERS),
    _param("bbox-crs", "query", "The CRS of bbox (default CRS84)", {"type": "string"}),
    _param("crs", "query", "The CRS of the map", {"type": "string"}),
    _param("width", "query", "Width in pixels", {"type": "integer", "minimum": 1}),
    _param("height", "query", "Height in pixels", {"type": "integer", "minimum": 1}),
    _param("bgcolor", "query", "Background colour, RRGGBB", {"type": "string"}),
    _param("transparent", "query", "Transparent background", {"type": "boolean"}),
]
_ERROR = {
    "description": "An error",
    "content": {
        JSON: {
            "schema": {
                "type": "object",
                "required": ["code"],
                "properties": {
                    "code": {"type": "string"},
                    "description": {"type": "string"},
                },
            }
        }
    },
}


def _get(summary: str, params: list[Doc], types: list[str]) -> Doc:
    return {
        "get": {
            "summary": summary,
            "parameters": params,
            "responses": {
                "200": {"description": summary, "content": {t: {} for t in types}},
                "400": _ERROR,
                "404": _ERROR,
            },
        }
    }


def openapi(service: OGCAPIService, base: str) -> Doc:
    ident = identification(service)
    md = service.conf.md or {}
    info: Doc = {
        "title": str(ident.get("title", "Tilegate OGC API")),
        "version": "1.0.0",
        "description": str(ident.get("description", "")),
    }
    if "terms_of_service" in ident:
        info["termsOfService"] = str(ident["terms_of_service"])
    if isinstance(keywords := ident.get("keywords"), list):
        info["x-keywords"] = [str(k) for k in keywords]
    if isinstance(contact := md.get("contact"), dict):
        info["contact"] = {
            k: str(contact[k]) for k in ("name", "email", "url") if k in contact
        }
    if isinstance(license_ := md.get("license"), dict) and "name" in license_:
        info["license"] = {
            k: str(license_[k]) for k in ("name", "url") if k in license_
        }
    images = [fmt.mime for fmt, _ in service.formats.values()]
    doc_types = [JSON, HTML]
    paths: Doc = {
        "/": _get("The landing page", [_F], doc_types),
        "/api": _get("This API definition", [_F], doc_types),
        "/conformance": _get("The conformance declaration", [_F], doc_types),
        "/collections": _get("The collections", [_F], doc_types),
        "/collections/{collectionId}": _get(
            "A collection", [_COLLECTION, _F], doc_types
        ),
    }
    if service.conf.enable_maps:
        paths["/collections/{collectionId}/map"] = _get(
            "A map of a collection", [_COLLECTION, *_MAP], images
        )
        collections = _param(
            "collections", "query", "Comma-separated collection ids", {"type": "string"}
        )
        paths["/map"] = _get("A map of collections", [collections, *_MAP], images)
    if service.conf.enable_tiles:
        tiles = "/collections/{collectionId}/map/tiles"
        paths[tiles] = _get(
            "A collection's map tile sets", [_COLLECTION, _F], doc_types
        )
        paths[tiles + "/{tileMatrixSetId}"] = _get(
            "A collection's map tile set", [_COLLECTION, _TMS, _F], doc_types
        )
        paths[tiles + "/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}"] = _get(
            "A map tile", [_COLLECTION, _TMS, *_TILE], images
        )
        paths["/tileMatrixSets"] = _get("The tile matrix sets", [_F], doc_types)
        paths["/tileMatrixSets/{tileMatrixSetId}"] = _get(
            "A tile matrix set", [_TMS, _F], doc_types
        )
    limit = {"maxPixels": service.max_pixels}
    info["x-OGC-limits"] = {"maps": limit}
    return {
        "openapi": "3.0.2",
        "info": info,
        "servers": [{"url": base}],
        "paths": paths,
    }
