"""A `type: arcgis` source: ArcGIS REST `export` / `exportImage` maps and `identify` feature info."""

from __future__ import annotations

import io
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
from PIL import Image

from adapters.http_client import (
    HttpClient,
    Response,
    describe_url,
    image_from_response,
)
from adapters.logs import get_logger, source_logger_name
from adapters.source_fallback import fetch
from domain.config import ArcGISSourceConf
from domain.errors import SourceError
from domain.featureinfo import FeatureInfo, InfoQuery
from domain.formats import upstream_format
from domain.on_error import OnError
from domain.ports import MapQuery, SourceImage
from domain.srs import SRS, same_srs, srs

_URL_SAFE = ",:/"
# The resolution identify is told the map has; MapProxy sends the same.
_IDENTIFY_DPI = 96

_log = get_logger(source_logger_name("arcgis"))


@attrs.define
class ArcGISSource:
    """Renders maps with export requests (exportImage for an ImageServer) to one REST service."""

    conf: ArcGISSourceConf
    http: HttpClient
    supported_srs: tuple[SRS, ...] | None = attrs.field(init=False)
    _service_url: str = attrs.field(init=False)
    _operation: str = attrs.field(init=False)
    _fixed: list[tuple[str, str]] = attrs.field(init=False)
    _on_error: OnError | None = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._on_error = OnError.from_conf(self.conf.on_error)
        self.supported_srs = (
            tuple(srs(code) for code in self.conf.supported_srs)
            if self.conf.supported_srs
            else None
        )
        parts = urlsplit(self.conf.req.url)
        path = parts.path.rstrip("/")
        # `url` names the service; one that already ends in its operation is taken as well.
        for operation in ("/exportImage", "/export"):
            if path.endswith(operation):
                path = path[: -len(operation)]
        self._operation = (
            "exportImage" if path.lower().endswith("/imageserver") else "export"
        )
        self._service_url = urlunsplit(parts._replace(path=path, query="", fragment=""))
        req = self.conf.req
        own = [
            ("layers", req.layers),
            ("transparent", _flag(req.transparent)),
            ("dpi", None if req.dpi is None else str(req.dpi)),
            ("time", req.time),
        ]
        mine = {key for key, _ in own}
        self._fixed = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k not in mine
        ] + [(k, v) for k, v in own if v is not None]

    @property
    def supports_meta_tiles(self) -> bool:
        return True

    @property
    def transparent(self) -> bool:
        return bool(self.conf.req.transparent) or not self.conf.opts.map

    @property
    def featureinfo(self) -> bool:
        """Whether GetFeatureInfo asks this source (`opts.featureinfo`) with identify."""
        return self.conf.opts.featureinfo

    def request_format(self, wanted: str) -> str:
        """The export's format: `req.format`, else `wanted`; one of `supported_formats`."""
        return upstream_format(
            wanted, self.conf.req.format, self.conf.supported_formats
        )

    def request_url(self, query: MapQuery) -> str:
        code = self._srs_code(query.srs)
        params = [
            *self._fixed,
            ("format", _format_name(self.request_format(query.format))),
            ("bbox", ",".join(repr(v) for v in query.bbox.as_tuple())),
            ("size", f"{query.size[0]},{query.size[1]}"),
            ("bboxSR", code),
            ("imageSR", code),
            ("f", "image"),
        ]
        return (
            f"{self._service_url}/{self._operation}?{urlencode(params, safe=_URL_SAFE)}"
        )

    def get_map(self, query: MapQuery) -> SourceImage:
        if not self.conf.opts.map:
            # `opts.map: false`: a source for feature info only draws nothing.
            return _blank(query)
        url = self.request_url(query)

        def send() -> Response:
            return self.http.get(
                url,
                http=self.conf.http,
                concurrent_requests=self.conf.concurrent_requests,
            )

        # As MapProxy 7, whose schema gives arcgis sources `on_error` as wms and tile sources.
        resp = fetch(send, self._on_error, query.size)
        if isinstance(resp, SourceImage):
            return resp
        try:
            return image_from_response(resp, url, query.size, "ArcGIS REST")
        except SourceError as exc:
            _log.warning("bad arcgis answer", error=str(exc))
            raise

    def identify_url(self, query: InfoQuery) -> str:
        bbox = query.bbox
        res_x, res_y = bbox.width / query.size[0], bbox.height / query.size[1]
        # The queried pixel's top left corner, as MapProxy sends it.
        x, y = bbox.minx + query.pos[0] * res_x, bbox.maxy - query.pos[1] * res_y
        opts = self.conf.opts
        params = [
            *self._fixed,
            ("mapExtent", ",".join(repr(v) for v in bbox.as_tuple())),
            ("imageDisplay", f"{query.size[0]},{query.size[1]},{_IDENTIFY_DPI}"),
            ("geometry", f"{x:f},{y:f}"),
            ("sr", self._srs_code(query.srs)),
            ("f", "json"),
            ("tolerance", _number(opts.featureinfo_tolerance)),
            ("returnGeometry", _flag(opts.featureinfo_return_geometries)),
            ("geometryType", "esriGeometryPoint"),
        ]
        return f"{self._service_url}/identify?{urlencode(params, safe=_URL_SAFE)}"

    def get_feature_info(self, query: InfoQuery) -> FeatureInfo:
        """The service's identify answer (JSON, whatever INFO_FORMAT asked) at query's pixel."""
        url = self.identify_url(query)
        resp = self.http.get(
            url,
            http=self.conf.http,
            concurrent_requests=self.conf.concurrent_requests,
        )
        if resp.status != 200:
            raise SourceError(
                f"ArcGIS REST {describe_url(url)} answered HTTP {resp.status}"
            )
        return FeatureInfo(resp.data, "application/json")

    def _srs_code(self, wanted: SRS) -> str:
        request_srs = wanted
        if self.supported_srs is not None:
            matching = [s for s in self.supported_srs if same_srs(wanted, s)]
            if not matching:
                # Callers needing another SRS ask through a ReprojectingSource.
                raise SourceError(
                    f"{wanted} is not in supported_srs ({', '.join(map(str, self.supported_srs))})"
                )
            request_srs = matching[0]
        # ArcGIS names spatial references by their number alone (well-known IDs).
        return request_srs.code.rpartition(":")[2]


def _flag(value: bool | None) -> str | None:
    if value is None:
        return None
    return "true" if value else "false"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _format_name(mime: str) -> str:
    # ArcGIS takes the format's short name: image/png -> png, image/jpeg -> jpeg.
    return mime.split(";")[0].strip().rpartition("/")[2].lower()


def _blank(query: MapQuery) -> SourceImage:
    out = io.BytesIO()
    Image.new("RGBA", query.size, (255, 255, 255, 0)).save(out, "PNG")
    return SourceImage(out.getvalue(), "image/png")
