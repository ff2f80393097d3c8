"""OGC API Maps: a map of one or more collections for a bbox, CRS and size, drawn as WMS draws."""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

from domain.bbox import Bbox
from domain.coverage import Coverage, bbox_coverage
from domain.errors import RequestError
from domain.ports import MapQuery
from domain.srs import SRS, same_srs, srs, transform_bbox
from domain.wms_map import MapLayer, extent_bbox, parse_color
from entrypoints.auth import authorize, extent, guarded, permitted_map_layers
from entrypoints.http import Request, Response
from entrypoints.map_answer import MapStyle, check_layer_work, draw_map
from entrypoints.ogc import positive_int
from entrypoints.ogcapi_crs import CRS84, axis_ordered, crs_uri, parse_bbox, parse_crs

if TYPE_CHECKING:
    from entrypoints.ogcapi import OGCAPIService

# As MapProxy: without width and height, the longer side of a map has this many pixels.
DEFAULT_SIZE = 1024
_WORLD = bbox_coverage(Bbox(-180, -90, 180, 90), CRS84)
_WEB_MERCATOR = srs("EPSG:3857")
# The latitude where the square Web Mercator world ends.
_MERCATOR_LAT = 85.0511287798066


def get_map(
    service: OGCAPIService, request: Request, names: list[str], ext: str | None
) -> Response:
    """`/collections/{name}/map` (or `/map?collections=...`) as an image."""
    args = request.args
    for key in ("subset", "center", "scale-denominator"):
        if key in args:
            raise RequestError(f"{key} is not supported, use bbox", param=key)
    crs = _map_crs(service, args.get("crs"))
    bbox_crs = parse_crs(args["bbox-crs"], "bbox-crs") if "bbox-crs" in args else CRS84
    if "bbox" in args:
        bbox = parse_bbox(args["bbox"], bbox_crs)
        bbox = _transformed(bbox, bbox_crs, crs, "bbox")
    else:
        bbox = _default_bbox(service, names, crs)
    size = _size(args, bbox, service.max_pixels)
    query = MapQuery(bbox, size, crs, "image/png", tuple(args.items()))
    style = map_style(service, request, ext)
    response = draw(service, request, names, query, style, "map")
    response.headers.append(("Content-Crs", f"<{crs_uri(crs)}>"))
    response.headers.append(
        ("Content-Bbox", ",".join(repr(v) for v in axis_ordered(bbox, crs)))
    )
    return response


def map_style(service: OGCAPIService, request: Request, ext: str | None) -> MapStyle:
    """The image format (a path's `.ext`, else `f`, else the first offered) and background."""
    args = request.args
    wanted = (ext or args.get("f") or next(iter(service.formats))).lower()
    wanted = "jpeg" if wanted == "jpg" else wanted
    if wanted not in service.formats:
        offered = ", ".join(service.formats)
        raise RequestError(f"unknown format {wanted!r}, offered: {offered}", param="f")
    fmt, options = service.formats[wanted]
    bgcolor = args.get("bgcolor", "").strip()
    if len(bgcolor) == 6:
        bgcolor = "0x" + bgcolor
    if bgcolor:
        parse_color(bgcolor)  # a bad colour is a bad request before any drawing
    transparent_arg = args.get("transparent", "true" if not bgcolor else "false")
    if transparent_arg.lower() not in ("true", "false"):
        raise RequestError("transparent must be true or false", param="transparent")
    return MapStyle(
        fmt, options, transparent_arg.lower() == "true", bgcolor or "0xFFFFFF"
    )


def draw(
    service: OGCAPIService,
    request: Request,
    names: list[str],
    query: MapQuery,
    style: MapStyle,
    feature: str,
) -> Response:
    """The collections' map for query: limited by the authorize callback (asked for
    `ogcapi.<feature>`, which each layer must permit), finished, encoded."""
    drawn = {name: service.collections[name].map_layers for name in names}
    layers: list[MapLayer] = [m for name in names for m in drawn[name]]
    check_layer_work(len(layers), query.size, service.max_pixels, "collections")
    limit = None
    if guarded(request):
        grant = authorize(
            request,
            f"ogcapi.{feature}",
            [m.name for m in layers],
            query_extent=extent(query.srs, query.bbox),
        )
        layers = permitted_map_layers(grant, names, drawn, feature)
        limit = grant.limit
    data, fmt = draw_map(
        request,
        service.state,
        query,
        layers,
        style,
        f"ogcapi.{feature}",
        limit=limit,
        on_source_errors=service.conf.on_source_errors,
        attribution=service.conf.attribution,
    )
    origin = service.state.allow_origin
    headers = [("Access-Control-Allow-Origin", origin)] if origin else []
    return Response(200, data, fmt.mime, headers)


def _map_crs(service: OGCAPIService, value: str | None) -> SRS:
    if value is None:
        return service.map_srs[0]
    crs = parse_crs(value, "crs")
    if not any(same_srs(crs, s) for s in service.map_srs):
        raise RequestError(f"crs {value!r} is not offered for maps", param="crs")
    return crs


def _default_bbox(service: OGCAPIService, names: list[str], crs: SRS) -> Bbox:
    """The union of the collections' extents in crs."""
    boxes = (
        _extent_in(service.collections[name].extent or _WORLD, crs) for name in names
    )
    return functools.reduce(Bbox.union, boxes)


def _extent_in(area: Coverage, crs: SRS) -> Bbox:
    """area's bbox in crs, of the part of it where crs is defined (Web Mercator ends short
    of the poles): through CRS84, where crs' area of use is known."""
    if same_srs(area.srs, crs):
        return area.bbox
    wgs84 = extent_bbox(area, CRS84) or _WORLD.bbox
    if same_srs(crs, _WEB_MERCATOR):
        use = Bbox(-180, -_MERCATOR_LAT, 180, _MERCATOR_LAT)
    elif (aou := crs.crs.area_of_use) is not None:
        use = Bbox(aou.west, aou.south, aou.east, aou.north)
    else:
        use = wgs84
    minx, miny = max(wgs84.minx, use.minx), max(wgs84.miny, use.miny)
    maxx, maxy = min(wgs84.maxx, use.maxx), min(wgs84.maxy, use.maxy)
    if minx >= maxx or miny >= maxy:
        raise RequestError(
            "the collection lies outside the area of this crs, give a bbox", param="crs"
        )
    return _transformed(Bbox(minx, miny, maxx, maxy), CRS84, crs, "crs")


def _transformed(bbox: Bbox, src: SRS, dst: SRS, param: str) -> Bbox:
    try:
        moved = transform_bbox(bbox, src, dst)
    # Where dst cannot express bbox PROJ fails (a RuntimeError) or gives infinities or NaNs,
    # which no Bbox takes (a ValueError).
    except (ValueError, RuntimeError):
        moved = None
    if moved is None or not all(map(math.isfinite, moved.as_tuple())):
        raise RequestError(
            f"the bbox cannot be expressed in {dst.code}", param=param
        ) from None
    return moved


def _size(args: dict[str, str], bbox: Bbox, max_pixels: int) -> tuple[int, int]:
    """width and height as asked; a missing one follows the bbox's aspect ratio."""
    ratio = bbox.width / bbox.height
    width = positive_int(args["width"], "width") if "width" in args else None
    height = positive_int(args["height"], "height") if "height" in args else None
    if width is None and height is None:
        if ratio >= 1:
            width = DEFAULT_SIZE
        else:
            height = DEFAULT_SIZE
    if width is None:
        assert height is not None  # noqa: S101 - one of them is set above
        width = max(1, round(height * ratio))
    if height is None:
        height = max(1, round(width / ratio))
    if width * height > max_pixels:
        raise RequestError(
            f"a map of {width}x{height} pixels is larger than max_output_pixels"
            f" ({max_pixels})",
            param="width",
        )
    return width, height
