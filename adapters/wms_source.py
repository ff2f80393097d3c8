"""A `type: wms` source: GetMap requests as MapProxy sends them."""

from __future__ import annotations

import io
from pathlib import Path
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
from domain import imaging
from domain.config import ScalarParam, WMSSourceConf, parse_color
from domain.errors import ConfigValueError, SourceError
from domain.featureinfo import (
    FeatureInfo,
    InfoQuery,
    InfoTransform,
    info_type,
    merge_legends,
)
from domain.formats import image_format, upstream_format
from domain.on_error import OnError
from domain.ports import MapQuery, SourceImage
from domain.source_config import SourceImageConf
from domain.srs import SRS, same_srs, srs
from domain.transparent_color import DEFAULT_TOLERANCE, make_transparent

_VERSIONS = ("1.0.0", "1.1.0", "1.1.1", "1.3.0")
# Parameters every GetMap sets itself; a `req` or URL value for them is replaced, not sent twice.
_OWN = frozenset(
    {"SERVICE", "REQUEST", "VERSION", "SRS", "CRS", "BBOX", "WIDTH", "HEIGHT", "FORMAT"}
)
_URL_SAFE = ",:/"

_log = get_logger(source_logger_name("wms"))


def param_value(value: ScalarParam) -> str:
    """A `req` value as sent: YAML booleans become the WMS spelling TRUE/FALSE."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def _truthy(value: ScalarParam | None) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


@attrs.define
class WMSSource:
    """Renders maps with GetMap requests to one WMS; `req.url` may carry its own query parameters."""

    conf: WMSSourceConf
    http: HttpClient
    # `wms_opts.featureinfo_xslt`, applied to every feature info answer.
    info_transform: InfoTransform | None = None
    version: str = attrs.field(init=False)
    supported_srs: tuple[SRS, ...] | None = attrs.field(init=False)
    _base_url: str = attrs.field(init=False)
    _fixed: list[tuple[str, str]] = attrs.field(init=False)
    _on_error: OnError | None = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.version = str((self.conf.wms_opts or {}).get("version", "1.1.1"))
        if self.version not in _VERSIONS:
            raise ConfigValueError(
                f"wms_opts.version must be one of {', '.join(_VERSIONS)}, got {self.version!r}"
            )
        self.supported_srs = (
            tuple(srs(code) for code in self.conf.supported_srs)
            if self.conf.supported_srs
            else None
        )
        for fmt in self.conf.supported_formats or ():
            image_format(fmt)
        parts = urlsplit(str(self.conf.req["url"]))
        self._base_url = urlunsplit(parts._replace(query="", fragment=""))
        req = {
            k.upper(): param_value(v)
            for k, v in self.conf.req.items()
            if k.lower() != "url"
        }
        req.setdefault("STYLES", "")
        kept = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k.upper() not in _OWN and k.upper() not in req
        ]
        self._fixed = kept + [(k, v) for k, v in req.items() if k not in _OWN]
        self._on_error = OnError.from_conf(self.conf.on_error)

    @property
    def supports_meta_tiles(self) -> bool:
        return True

    @property
    def transparent(self) -> bool:
        if self.conf.transparent is not None:
            return self.conf.transparent
        return _truthy(self.conf.req.get("transparent"))

    def request_params(self, query: MapQuery) -> list[tuple[str, str]]:
        """The GetMap parameters for query, after the URL's and `req`'s own."""
        request_srs = query.srs
        if self.supported_srs is not None:
            # The source's own code for the same CRS (EPSG:3857 for a cache in EPSG:900913).
            matching = [s for s in self.supported_srs if same_srs(query.srs, s)]
            if not matching:
                # Callers needing another SRS ask through a ReprojectingSource.
                raise SourceError(
                    f"{query.srs} is not in supported_srs ({', '.join(map(str, self.supported_srs))})"
                )
            request_srs = matching[0]
        bbox = query.bbox.as_tuple()
        if self.version == "1.3.0" and query.srs.is_axis_order_ne:
            bbox = (bbox[1], bbox[0], bbox[3], bbox[2])
        return [
            *self._fixed,
            *self._forwarded(query),
            ("SERVICE", "WMS"),
            ("REQUEST", "GetMap"),
            ("VERSION", self.version),
            ("CRS" if self.version == "1.3.0" else "SRS", request_srs.code),
            ("BBOX", ",".join(repr(v) for v in bbox)),
            ("WIDTH", str(query.size[0])),
            ("HEIGHT", str(query.size[1])),
            ("FORMAT", self.request_format(query.format)),
        ]

    def _forwarded(self, query: MapQuery) -> list[tuple[str, str]]:
        """The client's parameters named in `forward_req_params`, as they are spelled there."""
        wanted = self.conf.forward_req_params
        if not wanted or not query.params:
            return []
        given = {k.upper(): v for k, v in query.params}
        return [(name, given[name.upper()]) for name in wanted if name.upper() in given]

    def request_format(self, wanted: str) -> str:
        """The FORMAT asked upstream for a map wanted in `wanted`: as MapProxy, the source's
        `image.format`, else its `req.format`, else `wanted`; one of `supported_formats`."""
        image = self.conf.image
        own = (image.format if image else None) or self.conf.req.get("format")
        return upstream_format(
            wanted, str(own) if own else None, self.conf.supported_formats
        )

    def request_url(self, query: MapQuery) -> str:
        return (
            f"{self._base_url}?{urlencode(self.request_params(query), safe=_URL_SAFE)}"
        )

    def get_map(self, query: MapQuery) -> SourceImage:
        conf_http = self.conf.http
        method = (
            (conf_http.method if conf_http and conf_http.method else None)
            or self.http.conf.method
            or "GET"
        )
        if method == "AUTO":
            method = (
                "POST" if any(k.lower() == "sld_body" for k in self.conf.req) else "GET"
            )
        if method == "POST":
            url = self._base_url
            body = urlencode(self.request_params(query)).encode()

            def send() -> Response:
                return self.http.request(
                    "POST",
                    url,
                    body=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                    http=conf_http,
                    concurrent_requests=self.conf.concurrent_requests,
                )
        else:
            url = self.request_url(query)

            def send() -> Response:
                return self.http.get(
                    url,
                    http=conf_http,
                    concurrent_requests=self.conf.concurrent_requests,
                )

        resp = fetch(send, self._on_error, query.size)
        if isinstance(resp, SourceImage):
            return resp
        try:
            image = image_from_response(resp, url, query.size, "WMS")
        except SourceError as exc:
            _log.warning("bad wms answer", error=str(exc))
            raise
        return with_transparent_color(image, self.conf.image, query.size)

    @property
    def featureinfo(self) -> bool:
        """Whether the source answers GetFeatureInfo (`wms_opts.featureinfo`)."""
        return _truthy((self.conf.wms_opts or {}).get("featureinfo"))

    @property
    def has_legend(self) -> bool:
        """Whether the source has a legend: `wms_opts.legendgraphic` or `legendurl`."""
        opts = self.conf.wms_opts or {}
        return _truthy(opts.get("legendgraphic")) or bool(opts.get("legendurl"))

    def info_format(self, query: InfoQuery) -> str:
        """The INFO_FORMAT asked upstream: `wms_opts.featureinfo_format`, else the client's."""
        return str(
            (self.conf.wms_opts or {}).get("featureinfo_format") or query.info_format
        )

    def info_params(self, query: InfoQuery) -> list[tuple[str, str]]:
        """The GetFeatureInfo parameters for the map of query at its pixel."""
        pixel = ("I", "J") if self.version == "1.3.0" else ("X", "Y")
        params = [
            ("REQUEST", "GetFeatureInfo") if key == "REQUEST" else (key, value)
            for key, value in self.request_params(
                MapQuery(query.bbox, query.size, query.srs)
            )
        ]
        params += [
            ("QUERY_LAYERS", str(self.conf.req.get("layers", ""))),
            ("INFO_FORMAT", self.info_format(query)),
            (pixel[0], str(query.pos[0])),
            (pixel[1], str(query.pos[1])),
        ]
        if query.feature_count is not None:
            params.append(("FEATURE_COUNT", str(query.feature_count)))
        return params

    def get_feature_info(self, query: InfoQuery) -> FeatureInfo:
        """The upstream's GetFeatureInfo answer for the map of query at its pixel."""
        url = f"{self._base_url}?{urlencode(self.info_params(query), safe=_URL_SAFE)}"
        resp = self.http.get(
            url, http=self.conf.http, concurrent_requests=self.conf.concurrent_requests
        )
        if resp.status != 200:
            raise SourceError(f"WMS {describe_url(url)} answered HTTP {resp.status}")
        return self.info_answer(resp, query)

    def info_answer(self, resp: Response, query: InfoQuery) -> FeatureInfo:
        """A GetFeatureInfo answer as the client gets it: through `featureinfo_xslt` if set."""
        content_type = resp.content_type or self.info_format(query)
        if self.info_transform is None:
            return FeatureInfo(resp.data, content_type)
        # As MapProxy: the result is of `featureinfo_out_format`, else of the format asked
        # upstream, else XML.
        out = (self.conf.wms_opts or {}).get("featureinfo_out_format")
        return FeatureInfo(
            self.info_transform(resp.data, info_type(content_type)),
            str(
                out
                or (self.conf.wms_opts or {}).get("featureinfo_format")
                or "text/xml"
            ),
        )

    def get_legend(self) -> bytes:
        """The source's legend: its `legendurl`, else one GetLegendGraphic per layer, stacked."""
        legendurl = (self.conf.wms_opts or {}).get("legendurl")
        if legendurl:
            return fetch_legend(str(legendurl), self.http)
        images = []
        for layer in str(self.conf.req.get("layers", "")).split(","):
            params = [
                *((k, v) for k, v in self._fixed if k not in ("LAYERS", "STYLES")),
                ("SERVICE", "WMS"),
                ("REQUEST", "GetLegendGraphic"),
                ("VERSION", self.version),
                ("FORMAT", "image/png"),
                ("LAYER", layer),
            ]
            if self.version == "1.3.0":
                params.append(("SLD_VERSION", "1.1.0"))
            url = f"{self._base_url}?{urlencode(params, safe=_URL_SAFE)}"
            images.append(fetch_legend(url, self.http))
        if len(images) == 1:
            return images[0]
        return encode_png(merge_legends(images))


def with_transparent_color(
    image: SourceImage, opts: SourceImageConf | None, size: tuple[int, int]
) -> SourceImage:
    """image with `image.transparent_color` (within its tolerance) made transparent, as PNG."""
    if opts is None or opts.transparent_color is None:
        return image
    red, green, blue, _ = parse_color(opts.transparent_color)
    tolerance = opts.transparent_color_tolerance
    img = make_transparent(
        imaging.decode(image.data, size),
        (red, green, blue),
        DEFAULT_TOLERANCE if tolerance is None else tolerance,
    )
    return SourceImage(encode_png(img), "image/png")


def fetch_legend(url: str, http: HttpClient) -> bytes:
    """A legend image from an http(s) URL or a `file://` path; SourceError unless it is an image."""
    if url.startswith("file://"):
        try:
            data = Path(url[len("file://") :]).read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read legend {url}: {exc}") from exc
    else:
        resp = http.get(url)
        if resp.status != 200:
            raise SourceError(f"legend {describe_url(url)} answered HTTP {resp.status}")
        data = resp.data
    merge_legends([data])  # a legend that is no image fails here, not in a client
    return data


def encode_png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@attrs.frozen
class StaticLegend:
    """A layer's own `legendurl`."""

    url: str
    http: HttpClient

    def get_legend(self) -> bytes:
        return fetch_legend(self.url, self.http)
