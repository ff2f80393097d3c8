"""WMTS GetFeatureInfo, KVP and RESTful, as MapProxy 7 answers it: a pixel (I, J) of a tile is
asked of the feature info sources behind the layer's cache as a map of the tile's bbox and
size; the formats are `featureinfo_formats`, the RESTful URLs `restful_featureinfo_template`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

import attrs

from domain.errors import RequestError
from domain.featureinfo import InfoSource, feature_info
from domain.tiles import TileSet
from domain.wmts_featureinfo import WMTSInfoFormatConf, tile_info_query
from entrypoints.auth import tile_access, tile_extent
from entrypoints.bootstrap import AppState
from entrypoints.http import Request, Response
from entrypoints.ogc import positive_int
from entrypoints.wms_featureinfo import info_response
from entrypoints.wmts_routes import template_route

if TYPE_CHECKING:
    from entrypoints.wmts import WMTSService

# The variables of `restful_featureinfo_template`; any other {Name} is a dimension.
REST_KEYS = (
    "Layer",
    "TileMatrixSet",
    "TileMatrix",
    "TileCol",
    "TileRow",
    "I",
    "J",
    "InfoFormat",
    "Style",
)
# As MapProxy 7, a KVP GetFeatureInfo names all of these (STYLE and FORMAT are not checked).
_KVP_PARAMS = (
    "layer",
    "style",
    "tilematrixset",
    "tilematrix",
    "tilerow",
    "tilecol",
    "format",
    "infoformat",
    "i",
    "j",
)


@attrs.define
class WMTSFeatureInfo:
    """The WMTS service's GetFeatureInfo: its formats, RESTful route and who answers."""

    formats: tuple[WMTSInfoFormatConf, ...]
    template: str
    # The feature info sources behind each (layer, tile matrix set)'s cache; MapProxy asks
    # these for tile layers as WMS does for the cache.
    sources: dict[tuple[str, str], tuple[InfoSource, ...]]
    # Whether a URL can match both this route and the tile template's: every variable
    # stops at '/', so only templates with as many '/' can (dimensions make them so).
    shaped_as_tiles: bool = False
    route: re.Pattern[str] = attrs.field(init=False)

    @route.default
    def _route(self) -> re.Pattern[str]:
        return template_route(self.template, REST_KEYS)

    @classmethod
    def build(
        cls,
        state: AppState,
        tilesets: dict[tuple[str, str], TileSet],
        tile_template: str,
    ) -> WMTSFeatureInfo:
        conf = state.conf.services.wmts
        assert conf is not None  # noqa: S101 - only built when the service is on
        cache_of = {id(ts): name for name, sets in state.caches.items() for ts in sets}
        sources = {
            key: state.info_sources(cache_of[id(ts)])
            for key, ts in tilesets.items()
            if id(ts) in cache_of
        }
        template = conf.restful_featureinfo_template
        alike = template.count("/") == tile_template.count("/")
        return cls(conf.featureinfo_formats, template, sources, alike)

    def queryable(self, layer: str) -> bool:
        return any(found for (name, _), found in self.sources.items() if name == layer)

    def offered(self) -> bool:
        """Whether capabilities list GetFeatureInfo: some format, some queryable layer."""
        return bool(self.formats) and any(self.sources.values())

    def info_format(self, value: str) -> WMTSInfoFormatConf:
        """The configured format an INFOFORMAT names, by MIME type or by suffix (as MapProxy)."""
        for fmt in self.formats:
            if value in (fmt.mimetype, fmt.suffix):
                return fmt
        raise RequestError(
            f"unknown INFOFORMAT {value!r}",
            param="infoformat",
            code="InvalidParameterValue",
        )

    def rest_match(self, path: str) -> dict[str, str] | None:
        """The template's values in a RESTful path that asks for feature info: one whose
        `{InfoFormat}` is a configured suffix (a tile template with as many parts, its
        dimensions among them, would match too)."""
        match = self.route.match(path) if self.formats else None
        if match is None:
            return None
        groups = match.groupdict()
        suffix = groups.get("InfoFormat")
        if suffix is not None and all(f.suffix != suffix for f in self.formats):
            return None
        return groups

    def handle_kvp(self, service: WMTSService, request: Request) -> Response:
        args = request.args
        for name in _KVP_PARAMS:
            if not args.get(name, "").strip():
                raise RequestError(
                    f"missing parameter {name.upper()}",
                    param=name,
                    code="MissingParameterValue",
                )
        fmt = self.info_format(args["infoformat"].strip())
        count = args.get("feature_count", "").strip()
        return self._answer(
            service,
            request,
            (
                args["layer"],
                args["tilematrixset"],
                args["tilematrix"],
                args["tilecol"],
                args["tilerow"],
            ),
            (args["i"], args["j"]),
            fmt,
            args,
            positive_int(count, "feature_count") if count else None,
        )

    def handle_rest(
        self, service: WMTSService, request: Request, groups: dict[str, str]
    ) -> Response:
        # A template without {InfoFormat} serves the first format.
        fmt = self.info_format(groups.get("InfoFormat") or self.formats[0].suffix)
        layer = groups["Layer"]
        tile = (
            layer,
            groups["TileMatrixSet"],
            groups["TileMatrix"],
            groups["TileCol"],
            groups["TileRow"],
        )
        dims = service.rest_dimensions(layer, groups)
        return self._answer(
            service, request, tile, (groups["I"], groups["J"]), fmt, dims, None
        )

    def _answer(
        self,
        service: WMTSService,
        request: Request,
        tile: tuple[str, str, str, str, str],
        ij: tuple[str, str],
        fmt: WMTSInfoFormatConf,
        dims: dict[str, str],
        feature_count: int | None,
    ) -> Response:
        """tile: layer, tile matrix set, tile matrix, column, row; ij: the pixel, as asked."""
        layer, matrix_set = tile[0], tile[1]
        tileset, coord = service.tile(*tile)
        grid = tileset.grid
        pos = (
            _pixel(ij[0], "i", grid.tile_size[0]),
            _pixel(ij[1], "j", grid.tile_size[1]),
        )
        dimensions = service.layers[layer].dimensions
        if dimensions is not None:
            # Checked as for GetTile; MapProxy does not pass them to the sources, nor do we.
            dimensions.choose(lambda d: dims.get(d.key))
        query = tile_info_query(grid, coord, pos, fmt.mimetype, feature_count)
        limit = tile_access(
            request,
            "wmts.featureinfo",
            layer,
            tile_extent(grid, coord),
            "featureinfo",
        )
        sources = self.sources.get((layer, matrix_set), ())
        if not sources:
            raise RequestError(
                f"layer {layer!r} is not queryable",
                param="layer",
                code="OperationNotSupported",
            )
        if limit is not None and not limit.intersects(query.pixel_bbox(), grid.srs):
            # As MapProxy: a pixel outside the permitted area has no features.
            return Response(200, b"", fmt.mimetype)
        return info_response(feature_info(query, sources))

    def info_formats_xml(self, layer: str) -> str:
        """The <InfoFormat>s of a layer in capabilities: none unless it is queryable."""
        if not self.queryable(layer):
            return ""
        return "".join(
            f"      <InfoFormat>{escape(f.mimetype)}</InfoFormat>\n"
            for f in self.formats
        )

    def resource_urls(self, layer: str, base: str) -> str:
        """The RESTful capabilities' FeatureInfo <ResourceURL>s of a queryable layer."""
        if not self.queryable(layer):
            return ""
        urls = []
        for f in self.formats:
            template = (
                base
                + "/wmts"
                + self.template.replace("{Layer}", layer)
                .replace("{InfoFormat}", f.suffix)
                .replace("{Style}", "default")
            )
            urls.append(
                f"      <ResourceURL format={quoteattr(f.mimetype)} "
                f'resourceType="FeatureInfo" template={quoteattr(template)}/>\n'
            )
        return "".join(urls)


def _pixel(value: str, param: str, limit: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise RequestError(
            f"{param.upper()} must be an integer, got {value!r}", param=param
        ) from None
    if not 0 <= number < limit:
        # MapProxy passes any number on; the WMTS standard names this exception.
        raise RequestError(
            f"{param.upper()} must be a pixel of the tile (0 to {limit - 1}), got {number}",
            param=param,
            code="PointIJOutOfRange",
        )
    return number
