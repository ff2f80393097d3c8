"""What the OGC API sources share: the server's JSON documents, their links, CRS URIs, and
discovery done once, on first use.

Discovery is lazy, as in MapProxy: a server whose upstream is down at start still starts, and
each request that needs the upstream then answers 502/504 until it is back. Unlike MapProxy,
a failed discovery is tried again by the next request (MapProxy keeps its first failure until
restarted), but requests that waited for a failing attempt share its error instead of each
trying again behind the others.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import attrs
import structlog

from adapters.http_client import HttpClient, describe_url
from domain.errors import ConfigValueError, SourceError
from domain.srs import SRS, same_srs, srs

T = TypeVar("T")

ACCEPT_JSON = {"Accept": "application/json"}
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_WGS84 = srs("EPSG:4326")
# http://www.opengis.net/def/crs/EPSG/0/3857, urn:ogc:def:crs:EPSG::3857, [EPSG:3857], EPSG:3857
_CRS_PATTERNS = (
    re.compile(r"/def/crs/(EPSG|OGC)/[^/]*/([^/]+)/?$", re.IGNORECASE),
    re.compile(r"^urn:ogc:def:crs:(EPSG|OGC):[^:]*:([^:]+)$", re.IGNORECASE),
    re.compile(r"^\[?(EPSG|OGC):([^\]]+)\]?$", re.IGNORECASE),
)


def ogc_rel(name: str) -> tuple[str, str]:
    """A link relation of OGC's register, as URI and as the `[ogc-rel:...]` CURIE."""
    return f"http://www.opengis.net/def/rel/ogc/1.0/{name}", f"[ogc-rel:{name}]"


def get_json(
    http: HttpClient,
    url: str,
    what: str,
    concurrent_requests: int,
    log: structlog.stdlib.BoundLogger,
) -> dict[str, object]:
    """The JSON object at url; SourceError for any other answer (`what` names it), logged on
    the source's logger."""
    try:
        return _json_object(http, url, what, concurrent_requests)
    except SourceError as exc:
        log.warning("ogcapi discovery failed", error=str(exc))
        raise


def _json_object(
    http: HttpClient, url: str, what: str, concurrent_requests: int
) -> dict[str, object]:
    resp = http.get(url, headers=ACCEPT_JSON, concurrent_requests=concurrent_requests)
    where = f"{what} {describe_url(url)}"
    if resp.status != 200:
        raise SourceError(f"{where} answered HTTP {resp.status}")
    try:
        doc = json.loads(resp.data)
    except (ValueError, UnicodeDecodeError):
        raise SourceError(f"{where} returned no JSON document") from None
    if not isinstance(doc, dict):
        raise SourceError(f"{where} returned no JSON object")
    return doc


def entry_page(
    http: HttpClient,
    landing_page: str,
    collection: str | None,
    concurrent_requests: int,
    log: structlog.stdlib.BoundLogger,
) -> tuple[str, dict[str, object]]:
    """Where discovery starts, and its document: the landing page, or the page of the
    configured collection below it."""
    if collection is None:
        what, url = "OGC API landing page", landing_page
    else:
        what, url = "OGC API collection", f"{landing_page}/collections/{collection}"
    return url, get_json(http, url, what, concurrent_requests, log)


def find_link(
    doc: dict[str, object],
    rels: Iterable[str],
    types: Iterable[str | None],
    doc_url: str,
) -> str | None:
    """The absolute href of doc's first link of one of `rels`, by preference of `types`
    (None: a link of any type)."""
    links = doc.get("links")
    if not isinstance(links, list):
        return None
    wanted = set(rels)
    candidates = [
        link
        for link in links
        if isinstance(link, dict)
        and link.get("rel") in wanted
        and isinstance(link.get("href"), str)
    ]
    for kind in types:
        for link in candidates:
            if kind is None or _media_type(link.get("type")) == kind:
                return absolute(doc_url, str(link["href"]))
    return None


def _media_type(value: object) -> str:
    return value.split(";")[0].strip().lower() if isinstance(value, str) else ""


def absolute(doc_url: str, href: str) -> str:
    """href as an absolute URL. A relative one is taken below the document's path, as
    MapProxy takes it below the landing page (`collections` of `.../ogcapi`)."""
    parts = urlsplit(doc_url)
    base = urlunsplit(
        (parts.scheme, parts.netloc, parts.path.rstrip("/") + "/", "", "")
    )
    # Templates keep their braces: urljoin leaves them alone, quoting is the server's business.
    return urljoin(base, href)


def crs_srs(value: object) -> SRS | None:
    """The SRS a CRS reference (URI, URN, CURIE or `{"uri": ...}`) names; None if unknown.
    CRS84 is EPSG:4326 in east/north order, as Tilegate's EPSG:4326 coordinates are."""
    if isinstance(value, dict):
        value = value.get("uri")
    if not isinstance(value, str):
        return None
    for pattern in _CRS_PATTERNS:
        if match := pattern.search(value.strip()):
            authority, code = match.group(1).upper(), match.group(2)
            if authority == "OGC":
                return _WGS84 if code.upper() in ("CRS84", "CRS:84") else None
            try:
                return srs(f"EPSG:{code}")
            except ConfigValueError:
                return None
    return None


def crs_uri(target: SRS) -> str:
    """The OGC URI of an SRS (EPSG:4326 as CRS84: Tilegate sends its coordinates lon/lat)."""
    if same_srs(target, _WGS84):
        return CRS84
    if same_srs(target, srs("EPSG:3857")):
        return "http://www.opengis.net/def/crs/EPSG/0/3857"
    authority, _, code = target.code.partition(":")
    return f"http://www.opengis.net/def/crs/{authority}/0/{code}"


@attrs.define
class Discovered(Generic[T]):
    """What `load` finds out from the server, loaded on first use and then kept."""

    load: Callable[[], T]
    _value: T | None = attrs.field(init=False, default=None)
    _failed: tuple[float, SourceError] | None = attrs.field(init=False, default=None)
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)

    def get(self) -> T:
        asked = time.monotonic()
        with self._lock:
            if self._value is not None:
                return self._value
            if self._failed is not None and self._failed[0] >= asked:
                # This request waited for an attempt that failed: its answer is ours too.
                raise type(self._failed[1])(str(self._failed[1]))
            try:
                self._value = self.load()
            except SourceError as exc:
                self._failed = (time.monotonic(), exc)
                raise
            return self._value
