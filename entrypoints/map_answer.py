"""Drawing a map answer, the same for every map service (WMS GetMap, OGC API maps and tiles),
and the bound on the work one map may ask for."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from domain import imaging
from domain.attribution import draw_attribution
from domain.config import WMSAttributionConf
from domain.coverage import Coverage
from domain.errors import RequestError
from domain.formats import ImageFormat
from domain.ports import MapQuery
from domain.source_limits import clip
from domain.wms_map import MapLayer, OnSourceErrors, finish, render_map
from entrypoints.bootstrap import AppState, read_tile
from entrypoints.decorate import decorate_map
from entrypoints.http import Request

# A map draws at most this many layers, whose pixels add up to at most this many maps of
# max_output_pixels: each layer is rendered (and maybe fetched) whole, so without a bound one
# request could take any amount of CPU and of upstream requests (3 maps: about 1.5 s of CPU).
MAX_LAYERS = 100
MAX_LAYER_MAPS = 3


def check_layer_work(
    count: int, size: tuple[int, int], max_pixels: int, param: str
) -> None:
    """RequestError (naming `param`) for a map of more layers or layer pixels than allowed."""
    if count > MAX_LAYERS or count * size[0] * size[1] > MAX_LAYER_MAPS * max_pixels:
        raise RequestError(
            f"the map draws {count} layers of {size[0]}x{size[1]} pixels, more than a request"
            f" may ({MAX_LAYERS} layers, {MAX_LAYER_MAPS} times max_output_pixels)",
            param=param,
        )


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
