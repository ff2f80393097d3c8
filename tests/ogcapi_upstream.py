"""OGC API - Tiles and Maps under ``/ogcapi`` of the test map server (tests/mapserver.py), with the
same pixels as its WMS (`render`): a landing page, conformance, collections, tilesets lists,
tilesets, the tile matrix sets WebMercatorQuad and WorldCRS84Quad, tiles and maps.

  /ogcapi                                         landing page (the dataset's map and tiles)
  /ogcapi/conformance, /ogcapi/collections
  /ogcapi/collections/{c}                         collections `base` and `roads`
  /ogcapi[/collections/{c}]/tiles                 tilesets list (map tilesets in both schemes)
  /ogcapi[/collections/{c}]/tiles/{tms}           tileset: `item` templates for PNG and JPEG
  /ogcapi[/collections/{c}]/tiles/{tms}/{z}/{row}/{col}?f=png|jpeg
  /ogcapi/tileMatrixSets/{tms}
  /ogcapi[/collections/{c}]/map?bbox=&bbox-crs=&crs=&width=&height=&transparent=&bgcolor=&f=

`bbox` is in `bbox-crs` (CRS84, lon/lat, if not given) in that CRS's axis order; the map is
drawn in `crs` (CRS84 if not given). `bgcolor` (0xRRGGBB) fills what lies outside the world.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pyproj
from PIL import Image

PREFIX = "/ogcapi"
COLLECTIONS = ("base", "roads")
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
_REL = "http://www.opengis.net/def/rel/ogc/1.0/"
_WORLD = 20037508.3427892
_LEVELS = 19
_TILE = re.compile(r"^/tiles/(\w+)/(\d+)/(\d+)/(\d+)$")
_SCHEMES = ("WebMercatorQuad", "WorldCRS84Quad")
_FORMATS = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg"}

Answer = tuple[int, str, bytes]


def tile_matrix_set(tms: str) -> dict[str, Any]:
    """The tile matrix set document (OGC 17-083r4 JSON) of WebMercatorQuad or WorldCRS84Quad."""
    if tms == "WebMercatorQuad":
        crs, origin, cell0, width0 = (
            EPSG + "3857",
            [-_WORLD, _WORLD],
            2 * _WORLD / 256,
            1,
        )
        axes, meters = ["E", "N"], 1.0
    elif tms == "WorldCRS84Quad":
        crs, origin, cell0, width0 = CRS84, [-180.0, 90.0], 180 / 256, 2
        axes, meters = ["Lon", "Lat"], 6378137 * 2 * math.pi / 360
    else:
        raise KeyError(tms)
    return {
        "id": tms,
        "uri": f"http://www.opengis.net/def/tilematrixset/OGC/1.0/{tms}",
        "crs": crs,
        "orderedAxes": axes,
        "tileMatrices": [
            {
                "id": str(z),
                "scaleDenominator": cell0 / 2**z * meters / 0.00028,
                "cellSize": cell0 / 2**z,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": origin,
                "matrixWidth": width0 * 2**z,
                "matrixHeight": 2**z,
                "tileWidth": 256,
                "tileHeight": 256,
            }
            for z in range(_LEVELS)
        ],
    }


def tms_tile_bbox(
    tms: str, z: int, row: int, col: int
) -> tuple[float, float, float, float]:
    """The east/north bbox of a tile of one of the two schemes."""
    doc = tile_matrix_set(tms)
    matrix = doc["tileMatrices"][z]
    size = 256 * matrix["cellSize"]
    ox, oy = matrix["pointOfOrigin"]
    return (
        ox + col * size,
        oy - (row + 1) * size,
        ox + (col + 1) * size,
        oy - row * size,
    )


def answer(
    path: str, params: dict[str, str], host: str, render: Any, encode: Any
) -> Answer:
    """The answer to a GET of `path` under PREFIX; render/encode are the map server's."""
    base = f"http://{host}{PREFIX}"
    rest = path[len(PREFIX) :].rstrip("/")
    if rest == "":
        return _json(_page(base, base, "Tilegate test OGC API"))
    if rest == "/conformance":
        return _json(
            {
                "conformsTo": [
                    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
                    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
                    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/core",
                ]
            }
        )
    if rest == "/collections":
        return _json(
            {
                "collections": [
                    _page(base, f"{base}/collections/{c}", c) | {"id": c}
                    for c in COLLECTIONS
                ]
            }
        )
    if match := re.match(r"^/tileMatrixSets/(\w+)$", rest):
        try:
            return _json(tile_matrix_set(match.group(1)))
        except KeyError:
            return _not_found(path)
    match = re.match(r"^(/collections/(\w+))?(/.*)?$", rest)
    if match is None or (
        match.group(2) is not None and match.group(2) not in COLLECTIONS
    ):
        return _not_found(path)
    owner, tail = match.group(1) or "", match.group(3) or ""
    here = base + owner
    if tail == "":
        name = owner.rsplit("/", 1)[1]
        return _json(_page(base, here, name) | {"id": name})
    if tail == "/map":
        return _map(params, render, encode)
    if tail == "/tiles":
        return _json({"tilesets": [_tileset_summary(base, here, t) for t in _SCHEMES]})
    if (match := re.match(r"^/tiles/(\w+)$", tail)) and match.group(1) in _SCHEMES:
        return _json(_tileset(base, here, match.group(1)))
    if (match := _TILE.match(tail)) and match.group(1) in _SCHEMES:
        tms, z, row, col = match.group(1), *map(int, match.group(2, 3, 4))
        if z >= _LEVELS:
            return _not_found(path)
        matrix = tile_matrix_set(tms)["tileMatrices"][z]
        if not (0 <= row < matrix["matrixHeight"] and 0 <= col < matrix["matrixWidth"]):
            return _not_found(path)
        mime = _FORMATS.get(params.get("F", "png"), "image/png")
        srs = "EPSG:3857" if tms == "WebMercatorQuad" else "EPSG:4326"
        transparent = params.get("TRANSPARENT", "") == "true"
        img = render(tms_tile_bbox(tms, z, row, col), (256, 256), srs, transparent)
        return 200, mime, encode(img, mime)
    return _not_found(path)


def _json(doc: dict[str, Any]) -> Answer:
    return 200, "application/json", json.dumps(doc).encode()


def _not_found(path: str) -> Answer:
    body = {"code": "NotFound", "description": f"nothing at {path}"}
    return 404, "application/json", json.dumps(body).encode()


def _page(base: str, here: str, title: str) -> dict[str, Any]:
    """A landing page or collection: links to its map tilesets and its map, and its CRSs."""
    links = [
        {"rel": "self", "type": "application/json", "href": here},
        {
            "rel": "conformance",
            "type": "application/json",
            "href": f"{base}/conformance",
        },
        {"rel": "data", "type": "application/json", "href": f"{base}/collections"},
        {
            "rel": _REL + "tilesets-map",
            "type": "application/json",
            "href": f"{here}/tiles",
        },
        {"rel": _REL + "map", "type": "image/png", "href": f"{here}/map?f=png"},
        {"rel": _REL + "map", "type": "image/jpeg", "href": f"{here}/map?f=jpeg"},
    ]
    return {
        "title": title,
        "links": links,
        "crs": [CRS84, EPSG + "3857"],
        "storageCrs": CRS84,
    }


def _tileset_summary(base: str, here: str, tms: str) -> dict[str, Any]:
    crs = EPSG + "3857" if tms == "WebMercatorQuad" else CRS84
    return {
        "title": f"map tiles in {tms}",
        "dataType": "map",
        "crs": crs,
        "tileMatrixSetURI": f"http://www.opengis.net/def/tilematrixset/OGC/1.0/{tms}",
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{here}/tiles/{tms}"},
            {
                "rel": _REL + "tiling-scheme",
                "type": "application/json",
                "href": f"{base}/tileMatrixSets/{tms}",
            },
        ],
    }


def _tileset(base: str, here: str, tms: str) -> dict[str, Any]:
    summary = _tileset_summary(base, here, tms)
    # Absolute-path templates: a client resolves them against the server, whatever its base.
    path = here[here.index(PREFIX) :]
    return summary | {
        "links": [
            *summary["links"],
            {
                "rel": "item",
                "type": "image/png",
                "templated": True,
                "href": f"{path}/tiles/{tms}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}?f=png",
            },
            {
                "rel": "item",
                "type": "image/jpeg",
                "templated": True,
                "href": f"{path}/tiles/{tms}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}?f=jpeg",
            },
        ],
    }


def _code(uri: str) -> str | None:
    if uri.rstrip("/").upper().endswith("CRS84"):
        return "EPSG:4326"
    if match := re.search(r"/EPSG/0/(\d+)$", uri):
        return f"EPSG:{match.group(1)}"
    return None


def _map(params: dict[str, str], render: Any, encode: Any) -> Answer:
    bbox_crs = _code(params.get("BBOX-CRS", CRS84))
    crs = _code(params.get("CRS", CRS84))
    try:
        values = [float(v) for v in params["BBOX"].split(",")]
        size = (int(params["WIDTH"]), int(params["HEIGHT"]))
    except (KeyError, ValueError):
        return (
            400,
            "application/json",
            b'{"code": "InvalidParameterValue", "description": "bbox, width, height"}',
        )
    if (
        bbox_crs is None
        or crs is None
        or len(values) != 4
        or not all(0 < s <= 4096 for s in size)
    ):
        return (
            400,
            "application/json",
            b'{"code": "InvalidParameterValue", "description": "crs or size"}',
        )
    if "BBOX-CRS" in params and pyproj.CRS.from_user_input(bbox_crs).axis_info[
        0
    ].direction.lower() in ("north", "south"):
        values = [values[1], values[0], values[3], values[2]]
    minx, miny, maxx, maxy = values
    bbox = (minx, miny, maxx, maxy)
    if bbox_crs != crs:
        to_crs = pyproj.Transformer.from_crs(bbox_crs, crs, always_xy=True)
        bbox = to_crs.transform_bounds(minx, miny, maxx, maxy, densify_pts=21)
    if not (math.isfinite(sum(bbox)) and bbox[0] < bbox[2] and bbox[1] < bbox[3]):
        return (
            400,
            "application/json",
            b'{"code": "InvalidParameterValue", "description": "empty bbox"}',
        )
    transparent = params.get("TRANSPARENT", "").lower() == "true"
    img = render(bbox, size, crs, transparent or "BGCOLOR" in params)
    if "BGCOLOR" in params:
        background = Image.new(
            "RGBA", size, "#" + params["BGCOLOR"].removeprefix("0x")[-6:]
        )
        img = Image.alpha_composite(background, img.convert("RGBA"))
        img = img if transparent else img.convert("RGB")
    mime = _FORMATS.get(params.get("F", "png"), "image/png")
    return 200, mime, encode(img, mime)
