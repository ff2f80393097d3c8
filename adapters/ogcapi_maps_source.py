"""A `type: ogcapimaps` source: maps from an OGC API - Maps server.

What MapProxy 7 asks the server, and so do we: the landing page (or `collections/{collection}`)
for its `map` link (PNG, else JPEG) and the CRSs it lists (`crs`, `storageCrs`; CRS84 if none);
then per map `bbox`, `bbox-crs` (not for EPSG:4326, whose bbox is CRS84's lon/lat), `crs`,
`width`, `height`, and `transparent`/`bgcolor` as configured. A query in an SRS the server
does not offer (or outside `supported_srs`) is asked in one it does and warped.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs

from adapters.http_client import HttpClient, describe_url, image_from_response
from adapters.logs import get_logger, source_logger_name
from adapters.ogcapi_links import (
    CRS84,
    Discovered,
    crs_srs,
    crs_uri,
    entry_page,
    find_link,
    ogc_rel,
)
from adapters.wms_source import with_transparent_color
from domain.config import OGCAPIMapsSourceConf, parse_color
from domain.errors import SourceError
from domain.formats import image_format
from domain.ports import MapQuery, SourceImage
from domain.reprojecting_source import ReprojectingSource
from domain.srs import SRS, same_srs, srs
from domain.warp import Resampling

_MAP_TYPES = ("image/png", "image/jpeg")
_WGS84 = srs("EPSG:4326")

_log = get_logger(source_logger_name("ogcapimaps"))


@attrs.frozen
class _Endpoint:
    """The server's map: its URL by media type and the CRSs it renders, with their URIs."""

    urls: dict[str, str]
    crs: tuple[tuple[SRS, str], ...]

    @property
    def supported(self) -> tuple[SRS, ...]:
        return tuple(target for target, _ in self.crs)

    def uri(self, target: SRS) -> str:
        return next(uri for known, uri in self.crs if same_srs(known, target))


@attrs.define
class OGCAPIMapsSource:
    """Maps of the server's map endpoint, found lazily (see `adapters/ogcapi_links.py`)."""

    conf: OGCAPIMapsSourceConf
    http: HttpClient
    # How a map asked in another SRS than the server's is warped.
    resampling: Resampling = "bicubic"
    _endpoint: Discovered[_Endpoint] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._endpoint = Discovered(self._load)

    @property
    def landing_page(self) -> str:
        return self.conf.landingpage_url.rstrip("/")

    @property
    def supports_meta_tiles(self) -> bool:
        return True

    @property
    def transparent(self) -> bool:
        return self.conf.transparent

    def get_map(self, query: MapQuery) -> SourceImage:
        endpoint = self._endpoint.get()
        if any(same_srs(query.srs, s) for s in endpoint.supported):
            return self._map(endpoint, query)
        return ReprojectingSource(
            _Direct(self, endpoint), endpoint.supported, self.resampling
        ).get_map(query)

    def request_params(
        self, endpoint: _Endpoint, query: MapQuery
    ) -> list[tuple[str, str]]:
        """The map's query parameters, after those of the map URL itself."""
        bbox = query.bbox.as_tuple()
        wgs84 = same_srs(query.srs, _WGS84)
        if not wgs84 and query.srs.is_axis_order_ne:
            bbox = (bbox[1], bbox[0], bbox[3], bbox[2])
        params = [("bbox", ",".join(repr(v) for v in bbox))]
        if not wgs84:
            params.append(("bbox-crs", endpoint.uri(query.srs)))
        # As MapProxy: a server that renders only CRS84 is not told the default.
        if not wgs84 or len(endpoint.crs) != 1:
            params.append(("crs", endpoint.uri(query.srs)))
        params += [("width", str(query.size[0])), ("height", str(query.size[1]))]
        if self.conf.transparent:
            params.append(("transparent", "true"))
        if self.conf.bgcolor is not None:
            params.append(("bgcolor", _bgcolor(self.conf.bgcolor)))
        return params

    def _map(self, endpoint: _Endpoint, query: MapQuery) -> SourceImage:
        mime = image_format(query.format).mime
        base = endpoint.urls.get(mime) or next(iter(endpoint.urls.values()))
        parts = urlsplit(base)
        own = parse_qsl(parts.query, keep_blank_values=True)
        url = urlunsplit(
            parts._replace(
                query=urlencode(own + self.request_params(endpoint, query), safe=",:/")
            )
        )
        resp = self.http.get(url, concurrent_requests=self.conf.concurrent_requests)
        try:
            image = image_from_response(resp, url, query.size, "OGC API map")
        except SourceError as exc:
            _log.warning("bad ogcapi map answer", error=str(exc))
            raise
        return with_transparent_color(image, self.conf.image, query.size)

    def _load(self) -> _Endpoint:
        url, page = entry_page(
            self.http,
            self.landing_page,
            self.conf.collection,
            self.conf.concurrent_requests,
            _log,
        )
        urls = {
            kind: href
            for kind in _MAP_TYPES
            if (href := find_link(page, ogc_rel("map"), (kind,), url)) is not None
        }
        if not urls:
            raise SourceError(f"{describe_url(url)} links no PNG or JPEG map (rel map)")
        return _Endpoint(urls, self._crs(page))

    def _crs(self, page: dict[str, object]) -> tuple[tuple[SRS, str], ...]:
        if self.conf.supported_srs:
            return tuple(
                (target, crs_uri(target))
                for target in (srs(code) for code in self.conf.supported_srs)
            )
        listed = page.get("crs")
        refs = [*(listed if isinstance(listed, list) else []), page.get("storageCrs")]
        found: dict[str, tuple[SRS, str]] = {}
        for ref in refs:
            target = crs_srs(ref)
            if target is None:
                continue
            uri = str(ref.get("uri") if isinstance(ref, dict) else ref)
            # Both CRS84 and EPSG:4326 are our EPSG:4326 (the bbox goes lon/lat, without
            # bbox-crs, either way): the EPSG URI is asked for where listed, as MapProxy asks,
            # and MapProxy 7's own OGC API refuses `crs=CRS84`.
            if target.code not in found or found[target.code][1] == CRS84:
                found[target.code] = (target, uri)
        return tuple(found.values()) or ((_WGS84, crs_uri(_WGS84)),)


@attrs.frozen
class _Direct:
    """The source asked only in the server's own CRSs (what a ReprojectingSource warps)."""

    source: OGCAPIMapsSource
    endpoint: _Endpoint

    @property
    def supports_meta_tiles(self) -> bool:
        return True

    @property
    def transparent(self) -> bool:
        return self.source.transparent

    def get_map(self, query: MapQuery) -> SourceImage:
        return self.source._map(self.endpoint, query)


def _bgcolor(value: str | tuple[int, ...]) -> str:
    """`0xRRGGBB`, or `0xAARRGGBB` for a colour that is not opaque (as MapProxy sends it)."""
    red, green, blue, alpha = parse_color(value)
    if alpha == 255:
        return f"0x{red:02X}{green:02X}{blue:02X}"
    return f"0x{alpha:02X}{red:02X}{green:02X}{blue:02X}"
