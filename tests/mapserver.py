"""A real HTTP map server for tests: WMS GetMap and XYZ/TMS tiles whose pixels are a known function
of position, with request counting, concurrency tracking, basic auth and fault injection.

In-process: ``with MapServer() as server: ... server.url ...``. As a subprocess (gunicorn e2e
tests): ``python -m tests.mapserver --port 0`` prints ``listening on http://127.0.0.1:PORT``.

Pixel function (see `render`): red grows with x and green with y across the SRS's world extent
(floor(256 * (coordinate - world min) / world size) of each pixel centre), blue is 128; pixels
outside the world are white, or fully transparent when TRANSPARENT=TRUE. A GetMap with a TIME
parameter has the blue of `time_blue(TIME)` instead.

Fault injection, by query parameter on any map URL, or for later requests via
``/_fault?fault=...&delay=...&status=...&times=N&path=/prefix``:
  fault=error      HTTP 500 with a text body
  fault=exception  a WMS ServiceException XML document (HTTP 200)
  fault=garbage    HTTP 200, image/png content type, a body that is no image
  fault=wrongsize  a valid image one pixel wider and taller than asked for
  fault=empty      HTTP 200, image/png content type, no body
  fault=truncated  HTTP 200, the first half of the image (its header intact), Content-Length to match
  fault=drop       the connection is closed without any answer
  fault=trickle    the image's body sent in small pieces spread over `delay` seconds (every read
                   of the client gets data in time, yet the whole answer takes `delay`)
  fault=html       HTTP 200, text/html body
  fault=entities   HTTP 200, an XML document declaring entities (an entity-expansion attack)
  status=N         answer with HTTP status N
  delay=S          wait S seconds before answering
ArcGIS REST, under ``/arcgis/rest/services/NAME/``: ``MapServer/export`` and
``ImageServer/exportImage`` (f=image) render the same pixels for bbox, size and bboxSR
(imageSR must match), ``MapServer/identify`` answers JSON echoing what it was asked.
OGC API - Tiles and Maps under ``/ogcapi`` (tests/ogcapi_upstream.py), same pixels, same faults.
``/_stats`` returns JSON (counts per path, total, in_flight, max_in_flight, requests);
``/_reset`` clears stats and faults. Paths under ``/secure/`` need basic auth
(AUTH_USER / AUTH_PASSWORD) and are otherwise served like the path without the prefix.
"""

from __future__ import annotations

import argparse
import base64
import functools
import io
import json
import math
import re
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

import attrs
import pyproj
from PIL import Image, ImageChops

from tests import ogcapi_upstream

AUTH_USER = "tilegate"
AUTH_PASSWORD = "p@ss:word"  # noqa: S105 -- a test credential; reserved characters on purpose
SECURE_PREFIX = "/secure"
WEBMERCATOR_EXTENT = 20037508.342789244
MAX_SIZE = 4096
_WEBMERCATOR_CODES = ("EPSG:3857", "EPSG:900913", "EPSG:102100", "EPSG:102113")
_MIME = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
}
_PIL = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/tiff": "TIFF",
    "image/webp": "WEBP",
}
_TILE_PATH = re.compile(r"^/(tiles|tms)/(\d+)/(\d+)/(\d+)\.(\w+)$")
_QUADKEY_PATH = re.compile(r"^/quadkey/([0-3]+)\.(\w+)$")
_ARCGIS_PATH = re.compile(
    r"^/arcgis/rest/services/[\w/]+/(MapServer/export|ImageServer/exportImage|MapServer/identify)$"
)
_ARCGIS_FORMATS = {
    "png": "image/png",
    "png32": "image/png",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
}


class MapServerError(Exception):
    """A request the map server rejects with a ServiceException."""

    def __init__(
        self, message: str, code: str = "InvalidParameterValue", status: int = 200
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@functools.cache
def world_bbox(srs: str) -> tuple[float, float, float, float]:
    """The extent the pixel function spans in `srs`, east/north order."""
    code = srs.upper()
    if code in _WEBMERCATOR_CODES:
        return (
            -WEBMERCATOR_EXTENT,
            -WEBMERCATOR_EXTENT,
            WEBMERCATOR_EXTENT,
            WEBMERCATOR_EXTENT,
        )
    crs = _crs(code)
    if crs.is_geographic:
        return (-180.0, -90.0, 180.0, 90.0)
    area = crs.area_of_use
    if area is None:
        raise MapServerError(f"no extent known for {srs}", code="InvalidSRS")
    to_crs = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    minx, miny, maxx, maxy = to_crs.transform_bounds(*area.bounds, densify_pts=21)
    return (minx, miny, maxx, maxy)


@functools.cache
def _crs(code: str) -> pyproj.CRS:
    try:
        return pyproj.CRS.from_user_input("OGC:CRS84" if code == "CRS:84" else code)
    except pyproj.exceptions.CRSError:
        raise MapServerError(f"unknown SRS {code}", code="InvalidSRS") from None


def is_axis_order_ne(srs: str) -> bool:
    code = srs.upper()
    if code.startswith("CRS:") or code in _WEBMERCATOR_CODES:
        return False
    axes = _crs(code).axis_info
    return len(axes) >= 2 and axes[0].direction.lower() in ("north", "south")


def _channel(
    lo: float, hi: float, n: int, world_lo: float, world_hi: float, reverse: bool
) -> tuple[bytes, bytes]:
    """Channel values and inside-the-world mask of n pixel centres from lo to hi."""
    values, inside = bytearray(n), bytearray(n)
    step, span = (hi - lo) / n, world_hi - world_lo
    for i in range(n):
        c = hi - (i + 0.5) * step if reverse else lo + (i + 0.5) * step
        v = math.floor(256 * (c - world_lo) / span)
        values[i] = min(max(v, 0), 255)
        inside[i] = 255 if world_lo <= c <= world_hi else 0
    return bytes(values), bytes(inside)


def render(
    bbox: tuple[float, float, float, float],
    size: tuple[int, int],
    srs: str,
    transparent: bool = False,
    blue: int = 128,
) -> Image.Image:
    """The server's image of bbox (east/north order) in srs: RGBA if transparent, else RGB."""
    w, h = size
    wx0, wy0, wx1, wy1 = world_bbox(srs)
    red, inside_x = _channel(bbox[0], bbox[2], w, wx0, wx1, reverse=False)
    green, inside_y = _channel(bbox[1], bbox[3], h, wy0, wy1, reverse=True)

    def columns(data: bytes) -> Image.Image:
        return Image.frombytes("L", (w, 1), data).resize(size, Image.Resampling.NEAREST)

    def rows(data: bytes) -> Image.Image:
        return Image.frombytes("L", (1, h), data).resize(size, Image.Resampling.NEAREST)

    alpha = ImageChops.multiply(columns(inside_x), rows(inside_y))
    img = Image.merge(
        "RGBA", (columns(red), rows(green), Image.new("L", size, blue), alpha)
    )
    if transparent:
        return Image.composite(img, Image.new("RGBA", size, (0, 0, 0, 0)), alpha)
    return Image.composite(
        img, Image.new("RGBA", size, (255, 255, 255, 255)), alpha
    ).convert("RGB")


def encode(img: Image.Image, mime: str) -> bytes:
    fmt = _PIL.get(mime.split(";")[0].strip().lower())
    if fmt is None:
        raise MapServerError(f"unsupported format {mime}", code="InvalidFormat")
    if fmt == "JPEG":
        img = img.convert("RGB")
    out = io.BytesIO()
    img.save(out, fmt, **({"compress_level": 1} if fmt == "PNG" else {}))
    return out.getvalue()


def tile_bbox(
    z: int, x: int, y: int, origin: str = "nw"
) -> tuple[float, float, float, float]:
    """The EPSG:3857 bbox of an XYZ (origin nw) or TMS (origin sw) tile."""
    size = 2 * WEBMERCATOR_EXTENT / 2**z
    row_from_bottom = (2**z - 1 - y) if origin == "nw" else y
    minx = -WEBMERCATOR_EXTENT + x * size
    miny = -WEBMERCATOR_EXTENT + row_from_bottom * size
    return (
        minx,
        miny,
        -WEBMERCATOR_EXTENT + (x + 1) * size,
        -WEBMERCATOR_EXTENT + (row_from_bottom + 1) * size,
    )


def quadkey_tile(quadkey: str) -> tuple[int, int, int]:
    """(z, x, y) of a Bing quadkey, y counted from the top."""
    x = y = 0
    for digit in quadkey:
        x, y = 2 * x + (int(digit) & 1), 2 * y + (int(digit) >> 1)
    return len(quadkey), x, y


def service_exception(
    message: str, code: str, version: str = "1.1.1"
) -> tuple[str, bytes]:
    content_type = "text/xml" if version == "1.3.0" else "application/vnd.ogc.se_xml"
    body = (
        f'<?xml version="1.0"?>\n<ServiceExceptionReport version="{escape(version)}">\n'
        f'<ServiceException code="{escape(code)}">{escape(message)}</ServiceException>\n'
        "</ServiceExceptionReport>\n"
    )
    return content_type, body.encode()


@attrs.frozen
class RecordedRequest:
    """A request the server received: params have upper-case keys (query string and form body)."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    # The query string as sent, for servers whose parameter names are case sensitive.
    query: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "params": self.params,
            "headers": self.headers,
            "query": self.query,
        }


@attrs.define
class FaultRule:
    """A fault applied to the next `left` requests whose path starts with `path` (None: all)."""

    fault: str | None
    delay: float
    status: int | None
    path: str
    left: int | None


# fault=trickle: the pause between two pieces of a body.
_TRICKLE_PAUSE = 0.1
# The status of an answer that is no answer: the handler closes the connection instead.
DROP = 0


@attrs.define
class _Answer:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = attrs.Factory(dict)
    # Seconds over which the body is sent in pieces (fault=trickle); 0: at once.
    spread: float = 0.0


@attrs.define
class MapServer:
    """The map server in a background thread; port 0 lets the OS pick a free port."""

    host: str = "127.0.0.1"
    port: int = 0
    requests: list[RecordedRequest] = attrs.Factory(list)
    counts: Counter[str] = attrs.Factory(Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    _rules: list[FaultRule] = attrs.Factory(list)
    _lock: threading.Lock = attrs.Factory(threading.Lock)
    _stopping: threading.Event = attrs.Factory(threading.Event)
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def auth_url(self, user: str = AUTH_USER, password: str = AUTH_PASSWORD) -> str:
        """The base URL with percent-encoded credentials and the /secure prefix."""
        from urllib.parse import quote

        return f"http://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}{SECURE_PREFIX}"

    def start(self) -> MapServer:
        self._httpd = _HTTPServer((self.host, self.port), _Handler)
        self._httpd.app = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> MapServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.counts.clear()
            self._rules.clear()
            self.max_in_flight = self.in_flight

    def add_fault(
        self,
        fault: str | None = None,
        delay: float = 0.0,
        status: int | None = None,
        path: str = "/",
        times: int | None = None,
    ) -> None:
        """Inject a fault into later requests under `path` (all of them, or the next `times`)."""
        with self._lock:
            self._rules.append(FaultRule(fault, delay, status, path, times))

    def stopping(self, wait: float) -> bool:
        """Whether the server is closing, after waiting up to `wait` seconds for it."""
        return self._stopping.wait(wait)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "counts": dict(self.counts),
                "total": sum(self.counts.values()),
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "requests": [r.as_json() for r in self.requests],
            }

    def _begin(self, request: RecordedRequest) -> FaultRule | None:
        with self._lock:
            self.requests.append(request)
            self.counts[request.path] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            for rule in self._rules:
                if request.path.startswith(rule.path) and (
                    rule.left is None or rule.left > 0
                ):
                    if rule.left is not None:
                        rule.left -= 1
                    return rule
        return None

    def _end(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def answer(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        headers: dict[str, str],
        query: str = "",
    ) -> _Answer:
        if path == "/_stats":
            return _Answer(200, "application/json", json.dumps(self.stats()).encode())
        if path == "/_reset":
            self.reset()
            return _Answer(200, "text/plain", b"ok\n")
        if path == "/_fault":
            status = params.get("STATUS")
            times = params.get("TIMES")
            self.add_fault(
                params.get("FAULT"),
                float(params.get("DELAY", 0)),
                int(status) if status else None,
                params.get("PATH", "/"),
                int(times) if times else None,
            )
            return _Answer(200, "text/plain", b"ok\n")
        rule = self._begin(RecordedRequest(method, path, params, headers, query))
        try:
            return self._map_answer(path, params, headers, rule)
        finally:
            self._end()

    def _map_answer(
        self,
        path: str,
        params: dict[str, str],
        headers: dict[str, str],
        rule: FaultRule | None,
    ) -> _Answer:
        fault, status = params.get("FAULT"), params.get("STATUS")
        delay = float(params.get("DELAY", 0))
        if rule is not None:
            fault, delay = fault or rule.fault, delay or rule.delay
            status = status or (str(rule.status) if rule.status else None)
        if delay > 0 and fault != "trickle":
            self._stopping.wait(delay)
        if path == SECURE_PREFIX or path.startswith(SECURE_PREFIX + "/"):
            if not _authorized(headers.get("authorization", "")):
                return _Answer(
                    401,
                    "text/plain",
                    b"unauthorized\n",
                    {"WWW-Authenticate": 'Basic realm="mapserver"'},
                )
            path = path[len(SECURE_PREFIX) :] or "/"
        if status:
            return _Answer(
                int(status), "text/plain", f"injected status {status}\n".encode()
            )
        version = params.get("VERSION", "1.1.1")
        if fault == "error":
            return _Answer(500, "text/plain", b"internal server error\n")
        if fault == "exception":
            return _Answer(
                200, *service_exception("injected failure", "NoApplicableCode", version)
            )
        if fault == "html":
            return _Answer(200, "text/html", b"<html><body>maintenance</body></html>")
        if fault == "entities":
            return _Answer(200, "text/xml", ENTITY_BOMB)
        if fault == "garbage":
            return _Answer(200, "image/png", b"this is not a png at all" * 10)
        if fault == "empty":
            return _Answer(200, "image/png", b"")
        if fault == "drop":
            return _Answer(DROP, "", b"")
        if path == ogcapi_upstream.PREFIX or path.startswith(
            ogcapi_upstream.PREFIX + "/"
        ):
            host = headers.get("host", f"{self.host}:{self.port}")
            return _Answer(*ogcapi_upstream.answer(path, params, host, render, encode))
        if params.get("REQUEST", "").lower() == "getcapabilities":
            host = headers.get("host", f"{self.host}:{self.port}")
            return _Answer(*capabilities(f"http://{host}{path}", version))
        if path.endswith("/MapServer/identify") and _ARCGIS_PATH.match(path):
            return _Answer(200, "application/json", arcgis_identify(params))
        operation = params.get("REQUEST", "").lower()
        if operation == "getfeatureinfo":
            return _Answer(200, *feature_info(params))
        if operation == "getlegendgraphic":
            return _Answer(200, "image/png", encode(legend(params), "image/png"))
        try:
            img, mime = self._image(path, params)
        except MapServerError as exc:
            if exc.status != 200:
                return _Answer(exc.status, "text/plain", f"{exc}\n".encode())
            return _Answer(200, *service_exception(str(exc), exc.code, version))
        if fault == "wrongsize":
            img = img.resize((img.width + 1, img.height + 1))
        data = encode(img, mime)
        if fault == "truncated":
            data = data[: len(data) // 2]
        return _Answer(200, mime, data, spread=delay if fault == "trickle" else 0.0)

    def _image(self, path: str, params: dict[str, str]) -> tuple[Image.Image, str]:
        transparent = params.get("TRANSPARENT", "").lower() == "true"
        if match := _TILE_PATH.match(path):
            kind, z, x, y, ext = (
                match.group(1),
                *map(int, match.group(2, 3, 4)),
                match.group(5),
            )
            return self._tile(
                z, x, y, "nw" if kind == "tiles" else "sw", ext, transparent
            )
        if match := _QUADKEY_PATH.match(path):
            z, x, y = quadkey_tile(match.group(1))
            return self._tile(z, x, y, "nw", match.group(2), transparent)
        if params.get("REQUEST", "").lower() == "getmap":
            return _getmap(params)
        if _ARCGIS_PATH.match(path):
            return arcgis_export(params)
        raise MapServerError(f"nothing at {path}", status=404)

    def _tile(
        self, z: int, x: int, y: int, origin: str, ext: str, transparent: bool
    ) -> tuple[Image.Image, str]:
        if ext.lower() not in _MIME:
            raise MapServerError(f"unknown extension {ext}", status=404)
        if not (0 <= x < 2**z and 0 <= y < 2**z):
            raise MapServerError("tile outside the grid", status=404)
        mime = _MIME[ext.lower()]
        return render(
            tile_bbox(z, x, y, origin), (256, 256), "EPSG:3857", transparent
        ), mime


# GetLegendGraphic: a LEGEND_SIZE image in one colour per LAYER (grey for any other layer).
LEGEND_SIZE = (30, 12)
LEGEND_COLORS = {"a": (200, 0, 0), "b": (0, 0, 200), "x": (0, 150, 0)}


def legend(params: dict[str, str]) -> Image.Image:
    color = LEGEND_COLORS.get(params.get("LAYER", ""), (128, 128, 128))
    return Image.new("RGB", LEGEND_SIZE, color)


def feature_info(params: dict[str, str]) -> tuple[str, bytes]:
    """GetFeatureInfo: the queried layers, pixel (X/Y or I/J), SRS, bbox and size, in INFO_FORMAT."""
    pixel = ("I", "J") if params.get("VERSION") == "1.3.0" else ("X", "Y")
    fields = {
        "layers": params.get("QUERY_LAYERS", ""),
        "x": params.get(pixel[0], ""),
        "y": params.get(pixel[1], ""),
        "srs": params.get("CRS") or params.get("SRS", ""),
        "bbox": params.get("BBOX", ""),
        "size": f"{params.get('WIDTH', '')}x{params.get('HEIGHT', '')}",
        "count": params.get("FEATURE_COUNT", ""),
    }
    text = " ".join(f"{k}={v}" for k, v in fields.items())
    mime = params.get("INFO_FORMAT", "text/plain")
    if mime == "text/html":
        return (
            mime,
            f"<html><head></head><body><p>{escape(text)}</p></body></html>".encode(),
        )
    if mime in ("text/xml", "application/vnd.ogc.gml"):
        attrs_ = " ".join(f'{k}="{escape(v)}"' for k, v in fields.items())
        return (
            mime,
            f'<?xml version="1.0"?>\n<features><feature {attrs_}/></features>\n'.encode(),
        )
    return "text/plain", f"{text}\n".encode()


def arcgis_export(params: dict[str, str]) -> tuple[Image.Image, str]:
    """An ArcGIS REST export: the pixels of `render` for bbox and size in bboxSR."""
    try:
        minx, miny, maxx, maxy = (float(v) for v in params["BBOX"].split(","))
        width, height = (int(v) for v in params["SIZE"].split(","))
        srs = f"EPSG:{int(params['BBOXSR'])}"
    except (KeyError, ValueError):
        raise MapServerError("bad bbox, size or bboxSR", status=400) from None
    if (
        params.get("IMAGESR", params["BBOXSR"]) != params["BBOXSR"]
        or params.get("F") != "image"
    ):
        raise MapServerError(
            "imageSR must equal bboxSR and f must be image", status=400
        )
    mime = _ARCGIS_FORMATS.get(params.get("FORMAT", "png").lower())
    if mime is None or not (0 < width <= MAX_SIZE and 0 < height <= MAX_SIZE):
        raise MapServerError("bad format or size", status=400)
    transparent = params.get("TRANSPARENT", "").lower() == "true"
    return render((minx, miny, maxx, maxy), (width, height), srs, transparent), mime


def arcgis_identify(params: dict[str, str]) -> bytes:
    """An ArcGIS REST identify answer: one result echoing the query's parameters."""
    asked = {
        k: params.get(k.upper(), "") for k in ("geometry", "sr", "layers", "tolerance")
    }
    return json.dumps({"results": [{"layerId": 0, "attributes": asked}]}).encode()


def _getmap(params: dict[str, str]) -> tuple[Image.Image, str]:
    version = params.get("VERSION", "1.1.1")
    srs = params.get("CRS" if version == "1.3.0" else "SRS")
    if not srs:
        raise MapServerError("missing SRS/CRS", code="MissingParameterValue")
    try:
        values = [float(v) for v in params["BBOX"].split(",")]
        size = (int(params["WIDTH"]), int(params["HEIGHT"]))
    except (KeyError, ValueError):
        raise MapServerError(
            "BBOX, WIDTH and HEIGHT must be numbers", code="MissingParameterValue"
        ) from None
    if len(values) != 4 or not (0 < size[0] <= MAX_SIZE and 0 < size[1] <= MAX_SIZE):
        raise MapServerError("bad BBOX or size")
    if version == "1.3.0" and is_axis_order_ne(srs):
        values = [values[1], values[0], values[3], values[2]]
    minx, miny, maxx, maxy = values
    if minx >= maxx or miny >= maxy:
        raise MapServerError("empty BBOX")
    mime = params.get("FORMAT", "image/png")
    if mime.split(";")[0].strip().lower() not in _PIL:
        raise MapServerError(f"unsupported format {mime}", code="InvalidFormat")
    img = render(
        (minx, miny, maxx, maxy),
        size,
        srs,
        params.get("TRANSPARENT", "").lower() == "true",
        time_blue(params.get("TIME")),
    )
    return img, mime.split(";")[0].strip()


def time_blue(time: str | None) -> int:
    """The blue of a GetMap's pixels: 128, or with a TIME parameter a value that depends on it
    (tests of dimensions see in the pixels which time a source was asked for)."""
    if time is None:
        return 128
    return sum(time.encode()) % 256


# The layer tree of GetCapabilities: (name or None, title, children).
LAYER_TREE: tuple[str | None, str, tuple[Any, ...]] = (
    None,
    "Test map server",
    (
        ("base", "Base map", ()),
        (
            "overlays",
            "Overlays",
            (("roads", "Roads", ()), ("places", "Places & <names>", ())),
        ),
    ),
)
ENTITY_BOMB = (
    b'<?xml version="1.0"?>\n<!DOCTYPE WMT_MS_Capabilities [\n<!ENTITY a "aaaaaaaaaa">\n'
    + b"".join(
        b'<!ENTITY %c "%s">\n' % (98 + i, b"&%c;" % (97 + i) * 10) for i in range(8)
    )
    + b'<!ENTITY x "&i;">\n]>\n<WMT_MS_Capabilities version="1.1.1">&x;</WMT_MS_Capabilities>\n'
)
CAPABILITIES_SRS = ("EPSG:4326", "EPSG:3857", "EPSG:900913")
CAPABILITIES_FORMATS = ("image/png", "image/jpeg", "image/gif")


def capabilities(url: str, version: str) -> tuple[int, str, bytes]:
    """A GetCapabilities answer (1.3.0 if asked for, else 1.1.1) serving `LAYER_TREE` at `url`."""
    v13 = version == "1.3.0"
    href = f'<OnlineResource xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="{escape(url)}?"/>'
    formats = "".join(f"<Format>{f}</Format>" for f in CAPABILITIES_FORMATS)

    def layer(node: tuple[str | None, str, tuple[Any, ...]], root: bool) -> str:
        name, title, children = node
        parts = ['<Layer queryable="1">' if name == "base" else "<Layer>"]
        if name is not None:
            parts.append(f"<Name>{escape(name)}</Name>")
        parts.append(f"<Title>{escape(title)}</Title>")
        if root:
            srs_tag = "CRS" if v13 else "SRS"
            parts += [f"<{srs_tag}>{s}</{srs_tag}>" for s in CAPABILITIES_SRS]
            if v13:
                parts.append(
                    "<EX_GeographicBoundingBox><westBoundLongitude>-180</westBoundLongitude>"
                    "<eastBoundLongitude>180</eastBoundLongitude><southBoundLatitude>-85"
                    "</southBoundLatitude><northBoundLatitude>85</northBoundLatitude>"
                    "</EX_GeographicBoundingBox>"
                )
            else:
                parts.append(
                    '<LatLonBoundingBox minx="-180" miny="-85" maxx="180" maxy="85"/>'
                )
        elif name == "roads":
            # a child with a smaller extent of its own
            if v13:
                parts.append(
                    "<EX_GeographicBoundingBox><westBoundLongitude>5</westBoundLongitude>"
                    "<eastBoundLongitude>15</eastBoundLongitude><southBoundLatitude>45"
                    "</southBoundLatitude><northBoundLatitude>55</northBoundLatitude>"
                    "</EX_GeographicBoundingBox>"
                    # 1.3.0 writes EPSG:4326 bboxes latitude first
                    '<BoundingBox CRS="EPSG:4326" minx="45" miny="5" maxx="55" maxy="15"/>'
                )
            else:
                parts.append(
                    '<LatLonBoundingBox minx="5" miny="45" maxx="15" maxy="55"/>'
                    '<BoundingBox SRS="EPSG:4326" minx="5" miny="45" maxx="15" maxy="55"/>'
                )
        parts += [layer(child, False) for child in children]
        parts.append("</Layer>")
        return "".join(parts)

    root = "WMS_Capabilities" if v13 else "WMT_MS_Capabilities"
    # 1.1.1 servers name their DTD, as real ones do (a client must not fetch it)
    doctype = (
        ""
        if v13
        else f'<!DOCTYPE {root} SYSTEM "http://schemas.opengis.net/wms/1.1.1/WMS_MS_Capabilities.dtd">\n'
    )
    ns = ' xmlns="http://www.opengis.net/wms"' if v13 else ""
    get_map = (
        f"<GetMap>{formats}<DCPType><HTTP><Get>{href}</Get></HTTP></DCPType></GetMap>"
    )
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}<{root} version="{"1.3.0" if v13 else "1.1.1"}"{ns}>'
        "<Service><Name>WMS</Name><Title>Tilegate test map server</Title>"
        "<Abstract>Pixels that are a known function of position.</Abstract>"
        f"{href}</Service><Capability><Request>"
        f"<GetCapabilities><Format>{'text/xml' if v13 else 'application/vnd.ogc.wms_xml'}"
        f"</Format><DCPType><HTTP><Get>{href}</Get></HTTP></DCPType></GetCapabilities>"
        f"{get_map}</Request>{layer(LAYER_TREE, True)}</Capability></{root}>\n"
    )
    content_type = "text/xml" if v13 else "application/vnd.ogc.wms_xml"
    return 200, content_type, body.encode()


def _authorized(header: str) -> bool:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except ValueError:
        return False
    return (user, password) == (AUTH_USER, AUTH_PASSWORD)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    app: MapServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that timed out and hung up is expected here, not worth a traceback
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    timeout = 10  # an idle keep-alive connection ends by itself
    # Headers and body go out in separate writes: with Nagle's algorithm on, the body waits for
    # the client's delayed ACK of the headers (40 ms on Linux) on every keep-alive request, which
    # real map servers avoid and which would drown what the benchmark measures.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve("GET", b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._serve("POST", self.rfile.read(length))

    def _serve(self, method: str, body: bytes) -> None:
        parts = urlsplit(self.path)
        params = {
            k.upper(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)
        }
        if method == "POST" and "x-www-form-urlencoded" in self.headers.get(
            "Content-Type", ""
        ):
            params |= {
                k.upper(): v
                for k, v in parse_qsl(body.decode(), keep_blank_values=True)
            }
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.server.app.answer(
            method, parts.path, params, headers, parts.query
        )
        if answer.status == DROP:
            self.close_connection = True
            return
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if answer.spread <= 0:
            self.wfile.write(answer.body)
            return
        pieces = max(1, round(answer.spread / _TRICKLE_PAUSE))
        step = -(-len(answer.body) // pieces)
        for start in range(0, len(answer.body), step):
            if self.server.app.stopping(_TRICKLE_PAUSE):
                return
            self.wfile.write(answer.body[start : start + step])

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Tilegate test map server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = MapServer(args.host, args.port).start()
    print(f"listening on {server.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


if __name__ == "__main__":
    main()
