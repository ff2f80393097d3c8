"""Drawing a map answer, the same for every map service (WMS GetMap, OGC API maps and tiles)."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from domain import imaging
from domain.attribution import draw_attribution
from domain.config import WMSAttributionConf
from domain.coverage import Coverage
from domain.formats import ImageFormat
from domain.ports import MapQuery
from domain.source_limits import clip
from domain.wms_map import MapLayer, OnSourceErrors, finish, render_map
from entrypoints.bootstrap import AppState, read_tile
from entrypoints.decorate import decorate_map
from entrypoints.http import Request


@attrs.frozen
class MapStyle:
    """How a map is finished and encoded: format, background and transparency."""

    fmt: ImageFormat
    options: imaging.EncodeOptions
    transparent: bool
    bgcolor: str


def draw_map(
    request: Request,
    state: AppState,
    query: MapQuery,
    layers: Sequence[MapLayer],
    style: MapStyle,
    service: str,
    *,
    limit: Coverage | None,
    on_source_errors: OnSourceErrors,
    attribution: WMSAttributionConf | None,
) -> tuple[bytes, ImageFormat]:
    """The layers' map for query, cut to `limit` (an access limit), with the attribution
    line, finished, decorated by the request's callback (asked for `service`) and encoded:
    the bytes and their format (`mixed` made concrete)."""
    image = render_map(
        query, tuple(layers), read_tile, state.map_options(on_source_errors)
    )
    if limit is not None:
        image = clip(image, limit, query)
    if attribution is not None and attribution.text:
        image = draw_attribution(image, attribution.text, state.fonts.sans)
    image = finish(image, style.transparent and style.fmt.supports_alpha, style.bgcolor)
    image = decorate_map(request, layers, query, image, style.fmt.mime, service)
    # `mixed` answers PNG or JPEG by the map's transparency, with that type (not MapProxy's
    # made-up image/mixed, which no client can decode by).
    fmt = imaging.concrete_format(image, style.fmt)
    return imaging.encode(image, fmt, style.options), fmt
