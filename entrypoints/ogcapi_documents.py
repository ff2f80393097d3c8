"""The JSON documents of the OGC API service: landing page, conformance, collections, tiling."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from domain.bbox import Bbox
from domain.grid import Grid
from domain.scales import scale_denominator
from domain.wms_map import extent_bbox
from entrypoints.ogcapi_crs import CRS84, CRS84_URI, crs_uri, grid_crs_uri

if TYPE_CHECKING:
    from entrypoints.ogcapi import OGCAPIService

Doc = dict[str, Any]
JSON, HTML = "application/json", "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0/"
WEB_MERCATOR_QUAD = "WebMercatorQuad"
_QUAD_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
_SPEC = "http://www.opengis.net/spec/"
_COMMON = [
    "ogcapi-common-1/1.0/conf/core",
    "ogcapi-common-1/1.0/conf/landing-page",
    "ogcapi-common-1/1.0/conf/json",
    "ogcapi-common-1/1.0/conf/html",
    "ogcapi-common-1/1.0/conf/oas30",
    "ogcapi-common-2/1.0/conf/collections",
]
_MAPS = [
    "ogcapi-maps-1/1.0/conf/core",
    "ogcapi-maps-1/1.0/conf/crs",
    "ogcapi-maps-1/1.0/conf/scaling",
    "ogcapi-maps-1/1.0/conf/spatial-subsetting",
    "ogcapi-maps-1/1.0/conf/background",
    "ogcapi-maps-1/1.0/conf/collection-map",
    "ogcapi-maps-1/1.0/conf/collections-selection",
]
_TILES = [
    "ogcapi-tiles-1/1.0/conf/core",
    "ogcapi-tiles-1/1.0/conf/tileset",
    "ogcapi-tiles-1/1.0/conf/tilesets-list",
    "ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "ogcapi-tiles-1/1.0/conf/oas30",
    "ogcapi-tiles-1/1.0/conf/png",
    "ogcapi-tiles-1/1.0/conf/jpeg",
]


def link(href: str, rel: str, type_: str, title: str, **extra: object) -> Doc:
    return {"rel": rel, "type": type_, "title": title, "href": href, **extra}


def self_links(url: str, what: str) -> list[Doc]:
    """The links of a document to itself as JSON and as HTML."""
    return [
        link(f"{url}?f=json", "self", JSON, f"{what} (as JSON)"),
        link(f"{url}?f=html", "alternate", HTML, f"{what} (as HTML)"),
    ]


def _both(url: str, rels: tuple[str, ...], what: str) -> list[Doc]:
    return [
        link(f"{url}?f={f}", rel, mime, f"{what} (as {f.upper()})")
        for rel in rels
        for f, mime in (("json", JSON), ("html", HTML))
    ]


def identification(service: OGCAPIService) -> dict[str, object]:
    md = service.conf.md or {}
    ident = md.get("identification")
    return ident if isinstance(ident, dict) else {}


def landing_page(service: OGCAPIService, base: str) -> Doc:
    ident = identification(service)
    links = self_links(base, "This landing page")
    links += _both(
        f"{base}/conformance",
        ("conformance", OGC_REL + "conformance"),
        "The conformance declaration",
    )
    links.append(
        link(f"{base}/api?f=json", "service-desc", OPENAPI, "The OpenAPI 3.0 document")
    )
    links.append(
        link(f"{base}/api?f=html", "service-doc", HTML, "The API documentation")
    )
    links += _both(f"{base}/collections", ("data", OGC_REL + "data"), "The collections")
    dataset = service.conf.default_dataset_layers
    if service.conf.enable_maps and dataset:
        links += [
            link(
                f"{base}/map.{ext}",
                OGC_REL + "map",
                fmt.mime,
                f"Map of the dataset (as {ext.upper()})",
            )
            for ext, (fmt, _) in service.formats.items()
        ]
    if service.conf.enable_tiles and dataset:
        links += _both(
            f"{base}/map/tiles",
            (OGC_REL + "tilesets-map",),
            "Map tile sets of the dataset",
        )
    if service.conf.enable_tiles:
        links += _both(
            f"{base}/tileMatrixSets",
            (OGC_REL + "tiling-schemes",),
            "The tile matrix sets",
        )
    return {
        "title": str(ident.get("title", "Tilegate OGC API")),
        "description": str(ident.get("description", "")),
        "links": links,
    }


def conformance(service: OGCAPIService) -> Doc:
    classes = list(_COMMON)
    if service.conf.enable_maps:
        classes += _MAPS + [
            f"ogcapi-maps-1/1.0/conf/{ext}" for ext in service.formats if ext != "jpg"
        ]
    if service.conf.enable_tiles:
        classes += _TILES
        if service.conf.default_dataset_layers:
            classes.append("ogcapi-tiles-1/1.0/conf/dataset-tilesets")
        if service.conf.enable_maps:
            classes.append("ogcapi-maps-1/1.0/conf/tilesets")
    return {"conformsTo": [_SPEC + c for c in classes]}


def collections(service: OGCAPIService, base: str, names: list[str]) -> Doc:
    return {
        "collections": [collection(service, base, name) for name in names],
        "links": self_links(f"{base}/collections", "The collections"),
    }


def collection(service: OGCAPIService, base: str, name: str) -> Doc:
    layer = service.collections[name]
    url = f"{base}/collections/{quote(name, safe='')}"
    wgs84 = extent_bbox(layer.extent, CRS84) if layer.extent is not None else None
    spatial: Doc = {
        "bbox": [list((wgs84 or Bbox(-180, -90, 180, 90)).as_tuple())],
        "crs": CRS84_URI,
    }
    storage = service.storage_grid(name)
    storage_crs = CRS84_URI
    if storage is not None:
        storage_crs = grid_crs_uri(storage.srs)
        if storage_crs != CRS84_URI:
            spatial["storageCrsBbox"] = [list(storage.bbox.as_tuple())]
    links = self_links(url, f"The collection {name}")
    if service.conf.enable_maps:
        links += [
            link(
                f"{url}/map.{ext}",
                OGC_REL + "map",
                fmt.mime,
                f"Map of {name} (as {ext.upper()})",
            )
            for ext, (fmt, _) in service.formats.items()
        ]
    if service.conf.enable_tiles:
        links += _both(
            f"{url}/map/tiles", (OGC_REL + "tilesets-map",), f"Map tile sets of {name}"
        )
    return {
        "id": name,
        "title": layer.title,
        "description": layer.md.abstract or "",
        "dataType": "map",
        "extent": {"spatial": spatial},
        "crs": [CRS84_URI, *dict.fromkeys(crs_uri(s) for s in service.map_srs)],
        "storageCrs": storage_crs,
        "links": links,
    }


def matrix_sets(base: str, grids: dict[str, Grid]) -> Doc:
    return {
        "tileMatrixSets": [
            {
                "id": name,
                "title": name,
                **({"uri": _QUAD_URI} if name == WEB_MERCATOR_QUAD else {}),
                "links": self_links(
                    f"{base}/tileMatrixSets/{name}", f"The tile matrix set {name}"
                ),
            }
            for name in grids
        ],
        "links": self_links(f"{base}/tileMatrixSets", "The tile matrix sets"),
    }


def matrix_set(name: str, grid: Grid) -> Doc:
    """A grid as an OGC Two Dimensional Tile Matrix Set: rows count from the grid's origin."""
    crs = grid_crs_uri(grid.srs)
    top_left = grid.origin == "ul"
    origin = (grid.bbox.minx, grid.bbox.maxy if top_left else grid.bbox.miny)
    if crs != CRS84_URI and grid.srs.is_axis_order_ne:
        origin = (origin[1], origin[0])
    tw, th = grid.tile_size
    doc: Doc = {"id": name, "title": name, "crs": crs}
    if name == WEB_MERCATOR_QUAD:
        doc["uri"] = _QUAD_URI
        doc["wellKnownScaleSet"] = (
            "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible"
        )
    doc["tileMatrices"] = [
        {
            "id": str(z),
            "scaleDenominator": scale_denominator(grid, res),
            "cellSize": res,
            "cornerOfOrigin": "topLeft" if top_left else "bottomLeft",
            "pointOfOrigin": list(origin),
            "tileWidth": tw,
            "tileHeight": th,
            "matrixWidth": nx,
            "matrixHeight": ny,
        }
        for z, (res, (nx, ny)) in enumerate(zip(grid.res, grid.sizes, strict=True))
    ]
    return doc


def _tiles_url(base: str, name: str | None) -> str:
    """Where the map tile sets of a collection, or of the whole dataset (None), are."""
    if name is None:
        return f"{base}/map/tiles"
    return f"{base}/collections/{quote(name, safe='')}/map/tiles"


def tilesets(service: OGCAPIService, base: str, name: str | None) -> Doc:
    """The map tile sets of a collection, or of the whole dataset (name None)."""
    label = name or "the dataset"
    return {
        "links": self_links(_tiles_url(base, name), f"The map tile sets of {label}"),
        "tilesets": [tileset(service, base, name, tms) for tms in service.matrix_sets],
    }


def tileset(service: OGCAPIService, base: str, name: str | None, tms: str) -> Doc:
    grid = service.matrix_sets[tms]
    label = name or "the dataset"
    url = f"{_tiles_url(base, name)}/{tms}"
    links = _both(
        f"{base}/tileMatrixSets/{tms}",
        (OGC_REL + "tiling-scheme",),
        f"The tile matrix set {tms}",
    )
    links += self_links(url, f"The {tms} map tile set of {label}")
    links += [
        link(
            f"{url}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}.{ext}",
            "item",
            fmt.mime,
            f"{tms} map tiles of {label} (as {ext.upper()})",
            templated=True,
        )
        for ext, (fmt, _) in service.formats.items()
    ]
    if name is not None:
        links += _both(
            f"{base}/collections/{quote(name, safe='')}",
            (OGC_REL + "geodata",),
            f"The collection {name}",
        )
    doc: Doc = {"title": f"{label} in the {tms} tile matrix set", "dataType": "map"}
    if tms == WEB_MERCATOR_QUAD:
        doc["tileMatrixSetURI"] = _QUAD_URI
    doc["crs"] = grid_crs_uri(grid.srs)
    doc["links"] = links
    return doc
