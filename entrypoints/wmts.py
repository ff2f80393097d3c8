"""WMTS 1.0.0: capabilities and GetTile, RESTful and KVP."""

from __future__ import annotations

import math
import re
from xml.sax.saxutils import escape, quoteattr

import attrs

from domain.bbox import Bbox
from domain.errors import RequestError
from domain.formats import offered_format
from domain.grid import Grid, TileCoord
from domain.scales import scale_denominator
from domain.srs import srs, transform_bbox
from domain.tiles import TileSet
from entrypoints.auth import tile_coord_access, tile_layers_seen
from entrypoints.bootstrap import AppState, TileLayer
from entrypoints.decorate import tile_decoration
from entrypoints.http import PROXY_VARY, Request, Response
from entrypoints.ogc import XML, unknown_operation
from entrypoints.tile_answer import serve_tile
from entrypoints.wmts_featureinfo import WMTSFeatureInfo
from entrypoints.wmts_legend import legend_url
from entrypoints.wmts_routes import template_route

_TEMPLATE_KEYS = (
    "Layer",
    "TileMatrixSet",
    "TileMatrix",
    "TileCol",
    "TileRow",
    "Format",
    "Style",
)
DEFAULT_TEMPLATE = "/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.{Format}"


def wmts_compatible(grid: Grid) -> bool:
    """WMTS counts rows from the top: fine for nw grids, and for sw grids whose rows fill the
    bbox exactly at every level (GLOBAL_GEODETIC's top tile reaches past 90°, so it is not)."""
    if grid.origin == "ul":
        return True
    th = grid.tile_size[1]
    return all(
        math.isclose(ny * th * res, grid.bbox.height, rel_tol=1e-9)
        for (_, ny), res in zip(grid.sizes, grid.res, strict=True)
    )


@attrs.define
class WMTSService:
    state: AppState
    template: str
    restful: bool
    kvp: bool
    layers: dict[str, TileLayer] = attrs.Factory(dict)
    matrix_sets: dict[str, Grid] = attrs.Factory(dict)
    tilesets: dict[tuple[str, str], TileSet] = attrs.Factory(dict)
    featureinfo: WMTSFeatureInfo | None = None
    route: re.Pattern[str] = attrs.field(init=False)

    @route.default
    def _route(self) -> re.Pattern[str]:
        return template_route(self.template, _TEMPLATE_KEYS)

    def template_dimensions(self) -> dict[str, str]:
        """The dimensions the RESTful template names: lower-case name -> as spelled there."""
        return {
            key.lower(): key
            for key in re.findall(r"\{(\w+)\}", self.template)
            if key not in _TEMPLATE_KEYS
        }

    @classmethod
    def build(cls, state: AppState) -> WMTSService:
        conf = state.conf.services.wmts
        assert conf is not None  # noqa: S101 - only built when the service is on
        service = cls(state, conf.restful_template, conf.restful, conf.kvp)
        for layer in state.layers.values():
            for tileset in layer.tilesets:
                if not wmts_compatible(tileset.grid):
                    continue
                service.layers.setdefault(layer.name, layer)
                service.matrix_sets.setdefault(tileset.grid.name, tileset.grid)
                service.tilesets[(layer.name, tileset.grid.name)] = tileset
        service.featureinfo = WMTSFeatureInfo.build(
            state, service.tilesets, service.template
        )
        return service

    def handle_rest(self, request: Request, rest: str) -> Response:
        """rest: the path after `/wmts`."""
        if rest == "/1.0.0/WMTSCapabilities.xml":
            return self.capabilities(request, restful=True)
        match = self.route.match(rest)
        # A cached tile's URL is matched once, as before feature info: the feature info
        # route is tried only where the tile route fails or both can match one URL.
        fi = self.featureinfo
        if self.restful and fi and (match is None or fi.shaped_as_tiles):
            info = fi.rest_match(rest)
            if info is not None:
                return fi.handle_rest(self, request, info)
        if not match or not self.restful:
            raise RequestError(
                f"unknown WMTS resource {rest!r}", code="InvalidParameterValue"
            )
        g = match.groupdict()
        return self.get_tile(
            request,
            g["Layer"],
            g["TileMatrixSet"],
            g["TileMatrix"],
            g["TileCol"],
            g["TileRow"],
            g["Format"],
            self.rest_dimensions(g["Layer"], g),
        )

    def rest_dimensions(
        self, layer_name: str, groups: dict[str, str]
    ) -> dict[str, str]:
        """The dimension values of a RESTful URL's match, by lower-case name."""
        dims = {k[4:].lower(): v for k, v in groups.items() if k.startswith("dim_")}
        layer = self.layers.get(layer_name)
        offered = layer.dimensions.keys() if layer and layer.dimensions else ()
        for key, value in dims.items():
            # As MapProxy: a template dimension the layer lacks may only say 'default'.
            if key not in offered and value != "default":
                raise RequestError(f"unknown dimension: {key}", param=key)
        return dims

    def handle_kvp(self, request: Request) -> Response:
        args = request.args
        operation = args.get("request", "")
        if operation.lower() == "getcapabilities":
            return self.capabilities(request, restful=False)
        if operation.lower() == "getfeatureinfo" and self.featureinfo:
            return self.featureinfo.handle_kvp(self, request)
        if operation.lower() != "gettile":
            raise unknown_operation(operation)
        values = []
        for name in (
            "layer",
            "tilematrixset",
            "tilematrix",
            "tilecol",
            "tilerow",
            "format",
        ):
            if not args.get(name):
                raise RequestError(
                    f"missing parameter {name.upper()}",
                    param=name,
                    code="MissingParameterValue",
                )
            values.append(args[name])
        layer, matrix_set, matrix, col, row, fmt = values
        return self.get_tile(request, layer, matrix_set, matrix, col, row, fmt, args)

    def get_tile(
        self,
        request: Request,
        layer: str,
        matrix_set: str,
        matrix: str,
        col: str,
        row: str,
        fmt: str,
        dims: dict[str, str] | None = None,
    ) -> Response:
        """dims: the request's dimension values by lower-case name."""
        tileset, coord = self.tile(layer, matrix_set, matrix, col, row)
        wanted = fmt.split("/")[-1].lower()
        offered = offered_format(tileset.format)
        if wanted not in (
            offered.ext,
            offered.mime.split("/")[-1],
        ) and not (wanted == "jpg" and offered.ext == "jpeg"):
            raise RequestError(
                f"invalid format {fmt!r}, this layer is {offered.mime}",
                param="format",
            )
        grid = tileset.grid
        tile_layer = self.layers[layer]
        if tile_layer.dimensions is not None:
            given = dims or {}
            chosen = tile_layer.dimensions.choose(lambda d: given.get(d.key))
            tileset = tile_layer.variants.get(tileset, chosen)
        limit = tile_coord_access(request, "wmts", layer, grid, coord)
        decorate = tile_decoration(request, "wmts", layer, tileset, coord)
        return serve_tile(request, self.state, tileset, coord, limit, decorate)

    def tile(
        self, layer: str, matrix_set: str, matrix: str, col: str, row: str
    ) -> tuple[TileSet, TileCoord]:
        """The tile set and the tile (in its grid's own rows) a request names; RequestError
        for a layer, tile matrix set or tile that is not there."""
        tileset = self.tilesets.get((layer, matrix_set))
        if tileset is None:
            if layer not in self.layers:
                raise RequestError(f"unknown layer {layer!r}", param="layer")
            raise RequestError(
                f"unknown tile matrix set {matrix_set!r}", param="tilematrixset"
            )
        coord = TileCoord(
            _int(col, "tilecol"), _int(row, "tilerow"), _int(matrix, "tilematrix")
        )
        grid = tileset.grid
        if not grid.contains(coord):
            raise _out_of_range(coord, grid)
        if grid.origin == "ll":
            coord = grid.flip_y(coord)
        return tileset, coord

    def capabilities(self, request: Request, restful: bool) -> Response:
        base = request.base_url
        md = self.state.conf.services.wmts.md if self.state.conf.services.wmts else None
        md = md or {}
        endpoint = f"{base}/wmts?" if restful else f"{base}/service?"
        encoding = "RESTful" if restful else "KVP"
        operations = "".join(
            f'    <ows:Operation name="{op}"><ows:DCP><ows:HTTP><ows:Get xlink:href={quoteattr(endpoint)}>'
            f'<ows:Constraint name="GetEncoding"><ows:AllowedValues><ows:Value>{encoding}</ows:Value>'
            "</ows:AllowedValues></ows:Constraint></ows:Get></ows:HTTP></ows:DCP></ows:Operation>\n"
            for op in self._operations()
        )
        seen = tile_layers_seen(request, "wmts", list(self.layers))
        layers = "".join(
            self._layer_xml(self.layers[name], base, restful) for name in seen
        )
        matrix_sets = "".join(
            self._matrix_set_xml(name, grid) for name, grid in self.matrix_sets.items()
        )
        service_url = (
            f"{base}/wmts/1.0.0/WMTSCapabilities.xml"
            if restful
            else f"{base}/service?REQUEST=GetCapabilities&SERVICE=WMTS"
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Capabilities xmlns="http://www.opengis.net/wmts/1.0" xmlns:ows="http://www.opengis.net/ows/1.1"'
            ' xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
            ' xmlns:gml="http://www.opengis.net/gml" xsi:schemaLocation="http://www.opengis.net/wmts/1.0'
            ' http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd" version="1.0.0">\n'
            "  <ows:ServiceIdentification>\n"
            f"    <ows:Title>{escape(str(md.get('title', 'Tilegate')))}</ows:Title>\n"
            f"    <ows:Abstract>{escape(str(md.get('abstract', '')))}</ows:Abstract>\n"
            "    <ows:ServiceType>OGC WMTS</ows:ServiceType>\n    <ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>\n"
            f"    <ows:Fees>{escape(str(md.get('fees', 'none')))}</ows:Fees>\n"
            f"    <ows:AccessConstraints>{escape(str(md.get('access_constraints', 'none')))}</ows:AccessConstraints>\n"
            "  </ows:ServiceIdentification>\n"
            f"  <ows:OperationsMetadata>\n{operations}  </ows:OperationsMetadata>\n"
            f"  <Contents>\n{layers}{matrix_sets}  </Contents>\n"
            f"  <ServiceMetadataURL xlink:href={quoteattr(service_url)}/>\n"
            "</Capabilities>\n"
        )
        return Response(200, body.encode(), XML, [("Vary", PROXY_VARY)])

    def _operations(self) -> tuple[str, ...]:
        if self.featureinfo and self.featureinfo.offered():
            return ("GetCapabilities", "GetTile", "GetFeatureInfo")
        return ("GetCapabilities", "GetTile")

    def _layer_xml(self, layer: TileLayer, base: str, restful: bool) -> str:
        tilesets = [
            ts for ts in layer.tilesets if (layer.name, ts.grid.name) in self.tilesets
        ]
        fmt = offered_format(tilesets[0].format)
        wgs84 = _wgs84_bbox(tilesets[0].grid)
        links = "".join(
            f"      <TileMatrixSetLink><TileMatrixSet>{escape(ts.grid.name)}</TileMatrixSet></TileMatrixSetLink>\n"
            for ts in tilesets
        )
        template = layer.wmts_legends[1 if restful else 0]
        legend = (
            ""
            if template is None
            else f'<LegendURL format="image/png" xlink:href={quoteattr(legend_url(template, base, layer.name))}/>'
        )
        resource = ""
        if restful:
            template = (
                base
                + "/wmts"
                + self.template.replace("{Layer}", layer.name)
                .replace("{Format}", fmt.ext)
                .replace("{Style}", "default")
            )
            resource = f'      <ResourceURL format="{fmt.mime}" resourceType="tile" template={quoteattr(template)}/>\n'
            if self.featureinfo:
                resource += self.featureinfo.resource_urls(layer.name, base)
        return (
            "    <Layer>\n"
            f"      <ows:Title>{escape(layer.title)}</ows:Title>\n"
            f"      <ows:Abstract>{escape(str(layer.md.get('abstract', '')))}</ows:Abstract>\n"
            "      <ows:WGS84BoundingBox>\n"
            f"        <ows:LowerCorner>{wgs84.minx!r} {wgs84.miny!r}</ows:LowerCorner>\n"
            f"        <ows:UpperCorner>{wgs84.maxx!r} {wgs84.maxy!r}</ows:UpperCorner>\n"
            "      </ows:WGS84BoundingBox>\n"
            f"      <ows:Identifier>{escape(layer.name)}</ows:Identifier>\n"
            f'      <Style isDefault="true"><ows:Identifier>default</ows:Identifier>{legend}</Style>\n'
            f"      <Format>{fmt.mime}</Format>\n"
            f"{self.featureinfo.info_formats_xml(layer.name) if self.featureinfo else ''}"
            f"{self._dimensions_xml(layer, restful)}{links}{resource}"
            "    </Layer>\n"
        )

    def _dimensions_xml(self, layer: TileLayer, restful: bool) -> str:
        if layer.dimensions is None:
            return ""
        # RESTful clients fill the template's {Name}: the identifier is spelled as there.
        spelled = self.template_dimensions() if restful else {}
        return "".join(
            "      <Dimension>\n"
            f"        <ows:Identifier>{escape(spelled.get(d.key, d.name))}</ows:Identifier>\n"
            f"        <Default>{escape(d.default)}</Default>\n"
            + "".join(f"        <Value>{escape(v)}</Value>\n" for v in d.values)
            + "      </Dimension>\n"
            for d in layer.dimensions.dimensions
        )

    def _matrix_set_xml(self, name: str, grid: Grid) -> str:
        tw, th = grid.tile_size
        matrices = []
        for z, res in enumerate(grid.res):
            nx, ny = grid.sizes[z]
            top = (
                grid.bbox.maxy
                if grid.origin == "ul"
                else grid.bbox.miny + ny * th * res
            )
            left, top_ne = grid.bbox.minx, top
            corner = (
                f"{top_ne!r} {left!r}"
                if grid.srs.is_axis_order_ne
                else f"{left!r} {top_ne!r}"
            )
            matrices.append(
                "      <TileMatrix>\n"
                f"        <ows:Identifier>{z:02d}</ows:Identifier>\n"
                f"        <ScaleDenominator>{scale_denominator(grid, res)!r}</ScaleDenominator>\n"
                f"        <TopLeftCorner>{corner}</TopLeftCorner>\n"
                f"        <TileWidth>{tw}</TileWidth>\n        <TileHeight>{th}</TileHeight>\n"
                f"        <MatrixWidth>{nx}</MatrixWidth>\n        <MatrixHeight>{ny}</MatrixHeight>\n"
                "      </TileMatrix>\n"
            )
        crs = (
            grid.srs.code.replace(":", "::") if ":" in grid.srs.code else grid.srs.code
        )
        return (
            "    <TileMatrixSet>\n"
            f"      <ows:Identifier>{escape(name)}</ows:Identifier>\n"
            f"      <ows:SupportedCRS>urn:ogc:def:crs:{escape(crs)}</ows:SupportedCRS>\n"
            + "".join(matrices)
            + "    </TileMatrixSet>\n"
        )


def _wgs84_bbox(grid: Grid) -> Bbox:
    return transform_bbox(grid.bbox, grid.srs, srs("EPSG:4326"))


def _int(value: str, param: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise RequestError(
            f"{param.upper()} must be an integer, got {value!r}", param=param
        ) from None


def _out_of_range(coord: TileCoord, grid: Grid) -> RequestError:
    if not 0 <= coord.z < grid.num_levels:
        return RequestError(f"TILEMATRIX {coord.z} does not exist", param="tilematrix")
    param = "tilecol" if not 0 <= coord.x < grid.sizes[coord.z][0] else "tilerow"
    return RequestError(
        f"{param.upper()} is out of range for this tile matrix",
        param=param,
        code="TileOutOfRange",
    )
