"""WMTS 1.0.0: the service, its RESTful and KVP routing and GetTile (capabilities in
`entrypoints/wmts_capabilities.py`, GetFeatureInfo in `entrypoints/wmts_featureinfo.py`)."""

from __future__ import annotations

import math
import re

import attrs

from domain.errors import RequestError
from domain.formats import offered_format
from domain.grid import Grid, TileCoord
from domain.tiles import TileSet
from entrypoints.auth import tile_coord_access
from entrypoints.bootstrap import AppState, TileLayer
from entrypoints.decorate import tile_decoration
from entrypoints.http import Request, Response
from entrypoints.ogc import unknown_operation
from entrypoints.tile_answer import serve_tile
from entrypoints.wmts_capabilities import capabilities
from entrypoints.wmts_featureinfo import WMTSFeatureInfo
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
    featureinfo: WMTSFeatureInfo
    # The layers whose grids WMTS can serve, those grids, and each pair's tiles.
    layers: dict[str, TileLayer]
    matrix_sets: dict[str, Grid]
    tilesets: dict[tuple[str, str], TileSet]
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
        layers: dict[str, TileLayer] = {}
        matrix_sets: dict[str, Grid] = {}
        tilesets: dict[tuple[str, str], TileSet] = {}
        for layer in state.layers.values():
            for tileset in layer.tilesets:
                if not wmts_compatible(tileset.grid):
                    continue
                layers.setdefault(layer.name, layer)
                matrix_sets.setdefault(tileset.grid.name, tileset.grid)
                tilesets[(layer.name, tileset.grid.name)] = tileset
        template = conf.restful_template
        info = WMTSFeatureInfo.build(state, tilesets, template)
        return cls(
            state, template, conf.restful, conf.kvp, info, layers, matrix_sets, tilesets
        )

    def handle_rest(self, request: Request, rest: str) -> Response:
        """rest: the path after `/wmts`."""
        if rest == "/1.0.0/WMTSCapabilities.xml":
            return capabilities(self, request, restful=True)
        match = self.route.match(rest)
        # A cached tile's URL is matched once, as before feature info: the feature info
        # route is tried only where the tile route fails or both can match one URL.
        fi = self.featureinfo
        if self.restful and (match is None or fi.shaped_as_tiles):
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
            return capabilities(self, request, restful=False)
        if operation.lower() == "getfeatureinfo":
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
