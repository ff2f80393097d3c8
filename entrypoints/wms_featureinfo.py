"""WMS GetFeatureInfo and GetLegendGraphic: parsed, checked, passed to the layers' sources."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from domain import imaging
from domain.errors import RequestError, SourceError
from domain.featureinfo import (
    DEFAULT_INFO_TYPES,
    INFO_TYPES,
    FeatureInfo,
    InfoQuery,
    InfoSource,
    LegendSource,
    feature_info,
    merge_legends,
)
from domain.ports import MapQuery
from entrypoints.auth import (
    authorize,
    extent,
    guarded,
    permitted_info_sources,
    permitted_map_layers,
)
from entrypoints.http import Request, Response
from entrypoints.ogc import positive_int

if TYPE_CHECKING:
    from entrypoints.wms import WMSService


def info_formats(service: WMSService) -> tuple[str, ...]:
    """The INFO_FORMATs offered, from `featureinfo_types` (else `featureinfo_xslt`'s kinds)."""
    conf = service.conf
    kinds: tuple[str, ...] = conf.featureinfo_types or tuple(
        conf.featureinfo_xslt or DEFAULT_INFO_TYPES
    )
    return tuple(m for t in kinds for m in INFO_TYPES[t])


def get_feature_info(
    service: WMSService,
    args: dict[str, str],
    version: str,
    query: MapQuery,
    request: Request,
) -> Response:
    names = [
        n.strip()
        for n in (args.get("query_layers") or args.get("layers", "")).split(",")
        if n.strip()
    ]
    if not names:
        raise RequestError(
            "missing parameter QUERY_LAYERS",
            param="query_layers",
            code="MissingParameterValue",
        )
    sources: list[InfoSource] = []
    for name in names:
        layer = service.named.get(name)
        if layer is None:
            raise RequestError(
                f"unknown layer {name!r}", param="query_layers", code="LayerNotDefined"
            )
        if not layer.info_sources:
            raise RequestError(
                f"layer {name!r} is not queryable",
                param="query_layers",
                code="LayerNotQueryable",
            )
        sources.extend(s for s in layer.info_sources if s not in sources)
    offered = info_formats(service)
    info_format = args.get("info_format", "").strip() or offered[0]
    if info_format not in offered:
        raise RequestError(
            f"unsupported INFO_FORMAT {info_format!r}",
            param="info_format",
            code="InvalidFormat",
        )
    keys = ("i", "j") if version == "1.3.0" else ("x", "y")
    pos = (
        _pixel(args, keys, query.size[0], 0),
        _pixel(args, keys, query.size[1], 1),
    )
    count = args.get("feature_count", "").strip()
    feature_count = positive_int(count, "feature_count") if count else None
    info = InfoQuery(query.bbox, query.size, query.srs, pos, info_format, feature_count)
    if guarded(request):
        sources = list(_permitted_sources(service, names, info, request))
    answer = feature_info(info, tuple(sources), service.state.info_transforms)
    return info_response(answer)


def info_response(answer: FeatureInfo) -> Response:
    """A feature info answer; text without a charset is labelled UTF-8."""
    mime = answer.content_type
    if mime.startswith("text/") and "charset" not in mime:
        mime += "; charset=utf-8"
    return Response(200, answer.data, mime)


def _pixel(args: dict[str, str], keys: tuple[str, str], limit: int, axis: int) -> int:
    # 1.3.0 clients sometimes send X/Y and 1.1.1 clients I/J: either is read.
    other = ("x", "y") if keys[0] == "i" else ("i", "j")
    value = (args.get(keys[axis]) or args.get(other[axis]) or "").strip()
    name = keys[axis].upper()
    if not value:
        raise RequestError(
            f"missing parameter {name}", param=keys[axis], code="MissingParameterValue"
        )
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 0 <= number < limit:
        code = "InvalidPoint" if keys[0] == "i" else "InvalidParameterValue"
        raise RequestError(
            f"{name} must be a pixel inside the map (0 to {limit - 1}), got {value!r}",
            param=keys[axis],
            code=code,
        )
    return number


def _permitted_sources(
    service: WMSService, names: list[str], info: InfoQuery, request: Request
) -> tuple[InfoSource, ...]:
    drawn = [m.name for name in names for m in service.named[name].map_layers]
    grant = authorize(
        request, "wms.featureinfo", drawn, query_extent=extent(info.srs, info.bbox)
    )
    return permitted_info_sources(
        grant, names, service.named, info.pixel_bbox(), info.srs
    )


def get_legend_graphic(
    service: WMSService, args: dict[str, str], request: Request
) -> Response:
    name = args.get("layer", "").strip()
    if not name:
        raise RequestError(
            "missing parameter LAYER", param="layer", code="MissingParameterValue"
        )
    layer = service.named.get(name)
    if layer is None:
        raise RequestError(
            f"unknown layer {name!r}", param="layer", code="LayerNotDefined"
        )
    if not layer.legends:
        raise RequestError(
            f"layer {name!r} has no legend", param="layer", code="LayerNotDefined"
        )
    fmt, options = service.image_format(args.get("format") or "image/png")
    legends = layer.legends
    if guarded(request):
        legends = _permitted_legends(service, name, request)
    image = merge_legends([legend.get_legend() for legend in legends])
    service.legend_sizes[name] = image.size
    if not fmt.supports_alpha:
        image = image.convert("RGB")
    fmt = imaging.concrete_format(image, fmt)
    return Response(200, imaging.encode(image, fmt, options), fmt.mime)


def _permitted_legends(
    service: WMSService, name: str, request: Request
) -> tuple[LegendSource, ...]:
    """The legend of a layer, or of a group's layers the request may see (MapProxy does not
    ask its callback about legends at all: Tilegate asks for `legendgraphic`)."""
    drawn = service.named[name].map_layers
    grant = authorize(request, "wms.legendgraphic", [m.name for m in drawn])
    kept = permitted_map_layers(grant, [name], {name: drawn}, "legendgraphic")
    if len(kept) == len(drawn):
        return service.named[name].legends
    return tuple(
        legend
        for m in kept
        if m.name in service.named
        for legend in service.named[m.name].legends
    )


LEGEND_RETRY = 300.0  # seconds before capabilities try a failed legend again


def legend_size(service: WMSService, name: str) -> tuple[int, int] | None:
    """The size of a layer's legend for its LegendURL, fetched once; None if it cannot be had."""
    if name not in service.legend_sizes:
        # A failed upstream would otherwise hold up every capabilities request by its timeout.
        if (
            time.monotonic() - service.legend_failures.get(name, -LEGEND_RETRY)
            < LEGEND_RETRY
        ):
            return None
        try:
            image = merge_legends(
                [legend.get_legend() for legend in service.named[name].legends]
            )
        except SourceError:
            service.legend_failures[name] = time.monotonic()
            return None
        service.legend_sizes[name] = image.size
    return service.legend_sizes[name]
