"""WMS 1.0.0, 1.1.0, 1.1.1 and 1.3.0: GetCapabilities, GetMap, GetFeatureInfo and GetLegendGraphic, with exceptions as xml, in-image or blank."""

from __future__ import annotations

import math

import attrs

from adapters import logs
from domain import imaging
from domain.bbox import Bbox
from domain.config import BboxSrsEntry, WMSServiceConf
from domain.dimension_tiles import DimensionTileSets
from domain.errors import ConfigValueError, RequestError, TilegateError
from domain.formats import ImageFormat
from domain.image_options import encode_options, format_conf, resolve_format
from domain.layer_md import LayerMd
from domain.ports import MapQuery
from domain.srs import SRS, same_srs, srs
from domain.wms_map import MapLayer, parse_color
from entrypoints.auth import (
    authorize,
    extent,
    guarded,
    permitted_map_layers,
    visible_layers,
)
from entrypoints.bootstrap import AppState
from entrypoints.http import Request, Response
from entrypoints.map_answer import MapStyle, check_layer_work, draw_map
from entrypoints.ogc import AccessDeniedError, positive_int, unknown_operation
from entrypoints.wms_capabilities import capabilities
from entrypoints.wms_dimensions import dimension_layers
from entrypoints.wms_exceptions import (
    FALLBACK_SIZE,
    PNG,
    ErrorStyle,
    ExceptionKind,
    exception,
)
from entrypoints.wms_featureinfo import get_feature_info, get_legend_graphic
from entrypoints.wms_layers import WMSLayer, group_layer, layer_tree


@attrs.define
class WMSService:
    state: AppState
    conf: WMSServiceConf
    srs: tuple[SRS, ...]
    # The SRS of the layers' BoundingBoxes, each with the bbox configured for it, if any.
    bbox_srs: tuple[tuple[SRS, Bbox | None], ...]
    versions: tuple[str, ...]
    root: WMSLayer
    named: dict[str, WMSLayer]
    max_pixels: int
    # Legend sizes for capabilities' LegendURLs, by layer name, once fetched.
    legend_sizes: dict[str, tuple[int, int]] = attrs.Factory(dict)
    # When fetching a layer's legend last failed: capabilities do not wait on it again for a while.
    legend_failures: dict[str, float] = attrs.Factory(dict)
    # The tile sets of caches for each combination of dimension values, made as maps ask.
    variants: DimensionTileSets = attrs.Factory(DimensionTileSets)

    @classmethod
    def build(cls, state: AppState) -> WMSService:
        conf = state.conf.services.wms
        assert conf is not None  # noqa: S101 - only built when the service is on
        listed = tuple(srs(code) for code in conf.srs)
        named: dict[str, WMSLayer] = {}
        tops = tuple(layer_tree(layer, state, named) for layer in state.conf.layers)
        title = str((conf.md or {}).get("title", "Tilegate WMS"))
        root = tops[0] if len(tops) == 1 else group_layer(None, title, LayerMd(), tops)
        limit = conf.max_output_pixels
        versions = tuple(sorted(set(conf.versions), key=_key))
        return cls(
            state,
            conf,
            listed,
            _bbox_srs(conf.bbox_srs)
            if conf.bbox_srs
            else tuple((s, None) for s in listed),
            versions,
            root,
            named,
            limit[0] * limit[1] if isinstance(limit, tuple) else limit,
        )

    def handle(self, request: Request) -> Response:
        args = request.args
        operation = args.get("request", "").lower()
        version = self.negotiate(args.get("version") or args.get("wmtver"), args)
        is_map = operation in ("getmap", "map")
        style = self._error_style(args, version) if is_map else None
        try:
            if operation in ("getcapabilities", "capabilities"):
                return capabilities(self.as_seen_by(request), request, version)
            if is_map:
                return self.get_map(args, version, request)
            if operation in ("getfeatureinfo", "feature_info"):
                return get_feature_info(
                    self, args, version, self.map_query(args, version), request
                )
            if operation == "getlegendgraphic":
                return get_legend_graphic(self, args, request)
            raise unknown_operation(operation)
        except TilegateError as error:
            if not isinstance(error, RequestError):
                logs.get_logger(logs.SYSTEM).warning(
                    "wms request failed", error=str(error)
                )
            shown = self.state.error_details.public(error)
            return exception(shown, style or ErrorStyle(version))

    def negotiate(self, wanted: str | None, args: dict[str, str]) -> str:
        """The version to answer: the highest offered one not above `wanted`, else the lowest."""
        if not wanted:
            if "srs" in args and "crs" not in args:
                # An SRS parameter: a client of the versions before 1.3.0.
                older = [v for v in self.versions if v != "1.3.0"]
                return older[-1] if older else self.versions[0]
            return self.versions[-1]
        try:
            key = _key(wanted)
        except ValueError:
            return self.versions[-1]
        lower = [v for v in self.versions if _key(v) <= key]
        return lower[-1] if lower else self.versions[0]

    def as_seen_by(self, request: Request) -> WMSService:
        """The service with only the layers the request's auth callback lets it see."""
        if not guarded(request):
            return self
        grant = authorize(request, "wms.capabilities", list(self.named))
        root = visible_layers(self.root, grant)
        if root is None:
            raise AccessDeniedError()
        return attrs.evolve(self, root=root)

    def get_map(self, args: dict[str, str], version: str, request: Request) -> Response:
        names = [n.strip() for n in _required(args, "layers").split(",") if n.strip()]
        if not names:
            raise RequestError(
                "missing parameter LAYERS", param="layers", code="MissingParameterValue"
            )
        layers: list[MapLayer] = []
        for name in names:
            if name not in self.named:
                raise RequestError(
                    f"unknown layer {name!r}", param="layers", code="LayerNotDefined"
                )
            layers.extend(self.named[name].map_layers)
        self._check_styles(args)
        query = self.map_query(args, version)
        check_layer_work(len(layers), query.size, self.max_pixels, "layers")
        limit = None
        if guarded(request):
            grant = authorize(
                request,
                "wms.map",
                [m.name for m in layers],
                query_extent=extent(query.srs, query.bbox),
            )
            drawn = {name: self.named[name].map_layers for name in names}
            layers = permitted_map_layers(grant, names, drawn)
            limit = grant.limit
        fmt, options = self._format(_required(args, "format"))
        transparent = args.get("transparent", "false").strip().lower() == "true"
        bgcolor = args.get("bgcolor", "0xFFFFFF")
        parse_color(bgcolor)  # a bad colour is a bad request before any rendering
        layers = dimension_layers(layers, args, self.variants)
        data, fmt = draw_map(
            request,
            self.state,
            query,
            layers,
            MapStyle(fmt, options, transparent, bgcolor),
            "wms.map",
            limit=limit,
            on_source_errors=self.conf.on_source_errors,
            attribution=self.conf.attribution,
        )
        return Response(200, data, fmt.mime)

    def map_query(self, args: dict[str, str], version: str) -> MapQuery:
        """The map a GetMap or GetFeatureInfo refers to: its SRS, bbox (x/y order) and size."""
        request_srs = self._srs(args, version)
        bbox = _bbox(_required(args, "bbox"))
        if version == "1.3.0" and request_srs.is_axis_order_ne:
            bbox = Bbox(bbox.miny, bbox.minx, bbox.maxy, bbox.maxx)
        # The request's own parameters go along for sources that forward some of them.
        params = tuple(args.items())
        return MapQuery(bbox, self._size(args), request_srs, "image/png", params)

    def image_format(self, name: str) -> tuple[ImageFormat, imaging.EncodeOptions]:
        return self._format(name)

    def _check_styles(self, args: dict[str, str]) -> None:
        if "styles" not in args:
            if self.conf.strict:
                raise RequestError(
                    "missing parameter STYLES",
                    param="styles",
                    code="MissingParameterValue",
                )
            return
        for style in args["styles"].split(","):
            if style.strip() not in ("", "default"):
                raise RequestError(
                    f"unknown style {style.strip()!r}",
                    param="styles",
                    code="StyleNotDefined",
                )

    def _srs(self, args: dict[str, str], version: str) -> SRS:
        key = "crs" if version == "1.3.0" else "srs"
        code = args.get(key) or args.get("srs" if key == "crs" else "crs")
        if not code:
            raise RequestError(
                f"missing parameter {key.upper()}",
                param=key,
                code="MissingParameterValue",
            )
        invalid = "InvalidCRS" if version == "1.3.0" else "InvalidSRS"
        try:
            wanted = srs(code)
        except ConfigValueError:
            raise RequestError(
                f"unknown {key.upper()} {code!r}", param=key, code=invalid
            ) from None
        if not any(same_srs(wanted, s) for s in self.srs):
            raise RequestError(
                f"{key.upper()} {code!r} is not offered by this service",
                param=key,
                code=invalid,
            )
        return wanted

    def _size(self, args: dict[str, str]) -> tuple[int, int]:
        width = positive_int(_required(args, "width"), "width")
        height = positive_int(_required(args, "height"), "height")
        if width * height > self.max_pixels:
            raise RequestError(
                f"image size {width}x{height} is larger than max_output_pixels",
                param="width",
            )
        return width, height

    def _format(self, name: str) -> tuple[ImageFormat, imaging.EncodeOptions]:
        """The output format and how to encode it (`mode=8bit` or `png8` is paletted PNG)."""
        image = self.state.conf.globals.image
        lowered = name.strip().lower().replace(" ", "")
        custom = format_conf(name, image) is not None
        eight_bit = not custom and (
            lowered in ("png8", "image/png8") or lowered.endswith("mode=8bit")
        )
        fmt = PNG if eight_bit else resolve_format(name, image)
        offered = {resolve_format(f, image) for f in self.conf.image_formats} - {None}
        if fmt is None or (self.conf.strict and fmt not in offered):
            raise RequestError(
                f"unsupported format {name!r}", param="format", code="InvalidFormat"
            )
        options = encode_options(name, image)
        if eight_bit:
            options = attrs.evolve(options, paletted=True)
        elif "mode=" in lowered and not custom:
            options = attrs.evolve(options, paletted=False)  # mode=24bit or 32bit
        return fmt, options

    def _error_style(self, args: dict[str, str], version: str) -> ErrorStyle:
        """What the request asks for its errors, read without failing on bad values."""
        wanted = args.get("exceptions", "").lower()
        kind: ExceptionKind = (
            "inimage"
            if wanted.endswith("inimage")
            else "blank"
            if wanted.endswith("blank")
            else "xml"
        )
        if kind == "xml":
            return ErrorStyle(version)
        try:
            size = self._size(args)
        except RequestError:
            size = FALLBACK_SIZE
        try:
            fmt = self._format(args.get("format", ""))[0]
        except RequestError:
            fmt = PNG
        bgcolor = args.get("bgcolor", "0xFFFFFF")
        try:
            parse_color(bgcolor)
        except RequestError:
            bgcolor = "0xFFFFFF"
        transparent = args.get("transparent", "").lower() == "true"
        font = self.state.fonts.mono
        return ErrorStyle(version, kind, size, fmt, bgcolor, transparent, font)


def _bbox_srs(entries: tuple[BboxSrsEntry, ...]) -> tuple[tuple[SRS, Bbox | None], ...]:
    return tuple(
        (srs(e), None) if isinstance(e, str) else (srs(e.srs), Bbox(*e.bbox))
        for e in entries
    )


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _required(args: dict[str, str], name: str) -> str:
    value = args.get(name, "").strip()
    if not value:
        raise RequestError(
            f"missing parameter {name.upper()}",
            param=name,
            code="MissingParameterValue",
        )
    return value


def _bbox(value: str) -> Bbox:
    parts = value.split(",")
    try:
        if len(parts) != 4:
            raise ValueError(f"BBOX needs 4 numbers, got {len(parts)}")
        numbers = [float(p) for p in parts]
        if not all(math.isfinite(n) for n in numbers):
            raise ValueError("BBOX values must be finite")
        return Bbox(*numbers)
    except ValueError as exc:
        raise RequestError(f"invalid BBOX {value!r}: {exc}", param="bbox") from None
