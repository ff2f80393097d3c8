"""Bad input, fuzzed: malformed WMS, WMTS (KVP and REST), TMS, KML and demo requests against the
WSGI app in-process (many) and through gunicorn (a sample), with a fixed seed.

Every answer must hold: no 500; a 4xx carries the service's OGC body (XML that parses) or, for
the demo, an HTML page; no injected markup comes back raw; `X-Content-Type-Options: nosniff`;
a Content-Length that is the body's; and no file outside the configuration and cache directory,
the package and Python's own libraries is opened while answering.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import pyproj
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import entrypoints
from entrypoints.app import TilegateApp
from entrypoints.wsgiapp import make_wsgi_app
from tests.mapserver import MapServer
from tests.reliability.conftest import amount
from tests.reliability.target import (
    CACHED_LAYER,
    DIRECT_LAYER,
    attack_config,
    get_request,
    raw_request,
)
from tests.reliability.tile_caches import Gunicorn

# Injected markup: none of it may come back raw, in any body.
MARKUP = (
    '<x y="z">',
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "'/><tg:mark/>",
    "</script><script>tg()</script>",
    "]]><!--",
)
RAW_MARKERS = (b'<x y="z">', b"<script>alert", b"<svg onload", b"<tg:mark", b"tg()</")
NASTY = (
    "",
    " ",
    "-1",
    "0",
    "-0",
    "00000000000000000000000000001",
    "1e309",
    "-1e309",
    "nan",
    "NaN",
    "inf",
    "-Infinity",
    "1e-320",
    "4.9e-324",
    "99999999999999999999",
    "2147483648",
    "-9223372036854775809",
    "100000",
    "0x10",
    "1_000",
    "٣",
    "\uff11\uff12",  # fullwidth digits
    " 1",
    "1 ",
    ",",
    ",,,",
    "1,2,3",
    "1,2,3,4,5",
    "nan,nan,nan,nan",
    "inf,-inf,1,2",
    "-180,-90,180,90",
    "1e308,1e308,1e308,1e308",
    "0,0,0,0",
    "10,10,0,0",
    "-20037508.34,-20037508.34,20037508.34,20037508.34",
    "%00",
    "%",
    "%zz",
    "%%",
    "%e2%82",
    "%C0%AE%C0%AE%C0%AF",
    "%ff%fe",
    "\x00",
    "\r\nX-Injected: 1",
    "ü",
    "\U0001d54f",
    "\u202e",
    "\ud7ff",
    "..",
    "../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "....//....//etc/passwd",
    "/etc/passwd",
    "C:\\Windows\\win.ini",
    "..\\..\\..\\windows",
    "file:///etc/passwd",
    "EPSG:999999",
    "EPSG:-1",
    "EPSG:4326:4326",
    "+proj=longlat",
    "image/png; mode=8bit",
    "image/",
    "image/svg+xml",
    "text/html",
    "application/json",
    *MARKUP,
)
LONG = ("9" * 5000, "A" * 70_000, "%41" * 3000, ",".join(["1"] * 2000))


def values(*valid: str) -> st.SearchStrategy[str]:
    """A parameter value: a valid one, a nasty one, either spliced into the other, or any text."""
    good = st.sampled_from(valid) if valid else st.just("")
    nasty = st.sampled_from(NASTY)
    return st.one_of(
        good,
        good,
        nasty,
        st.builds(lambda a, b: a + b, good, nasty),
        st.builds(lambda a, b: a + b, nasty, good),
        st.text(max_size=20),
        st.sampled_from(LONG),
    )


@st.composite
def encoded(draw: st.DrawFn, value: st.SearchStrategy[str], segment: bool) -> str:
    """value in a URL: percent-encoded, or with its `%` (and, in paths, `/`) left as they are,
    so that bad escapes, %00 and traversal reach the server undecoded."""
    text = draw(value)
    safe = draw(st.sampled_from(["", "%", "%/" if segment else "%,:"]))
    return quote(text, safe=safe)


@st.composite
def broken(draw: st.DrawFn, count: int) -> frozenset[int]:
    """Which of count parts of a request are wrong: a few, so the rest lets it get far."""
    return draw(st.frozensets(st.integers(0, count - 1), max_size=3))


@st.composite
def part(draw: st.DrawFn, valid: tuple[str, ...], wrong: bool, segment: bool) -> str:
    """One part of a request, encoded: valid, or (if wrong) anything."""
    if not wrong:
        return quote(draw(st.sampled_from(valid)), safe="/" if segment else ",:")
    return draw(encoded(values(*valid), segment))


@st.composite
def queries(draw: st.DrawFn, params: dict[str, tuple[str, ...]]) -> str:
    """A query string of params (names in any case), a few wrong, missing or repeated, maybe
    with an extra one."""
    names = sorted(params)
    wrong = draw(broken(len(names)))
    pairs = []
    for i, name in enumerate(names):
        if draw(st.integers(0, 5)) == 0:
            continue
        shown = name.upper() if draw(st.booleans()) else name
        for _ in range(2 if draw(st.integers(0, 20)) == 0 else 1):
            pairs.append(f"{shown}={draw(part(params[name], i in wrong, False))}")
    if draw(st.integers(0, 9)) == 0:
        pairs.append(draw(encoded(values(*MARKUP), segment=False)))
    return "&".join(pairs)


LAYERS = (CACHED_LAYER, DIRECT_LAYER, f"{CACHED_LAYER},{DIRECT_LAYER}")
GRID_NAMES = ("GLOBAL_WEBMERCATOR", "GLOBAL_GEODETIC")
TMS_GRIDS = ("EPSG3857", "EPSG4326", "EPSG900913")
GRIDS = GRID_NAMES + TMS_GRIDS
SRS = ("EPSG:3857", "EPSG:4326", "EPSG:900913", "CRS:84")
FORMATS = ("image/png", "image/jpeg", "png", "jpeg", "image/png8")
SMALL_INTS = ("1", "2", "3", "7", "64", "256")
WMS_PARAMS = {
    "service": ("WMS",),
    "request": (
        "GetMap",
        "GetCapabilities",
        "GetFeatureInfo",
        "GetLegendGraphic",
        "map",
    ),
    "version": (
        "1.1.1",
        "1.3.0",
        "1.0.0",
        "1.1.0",
    ),
    "wmtver": ("1.0.0",),
    "layers": LAYERS,
    "query_layers": LAYERS,
    "layer": LAYERS,
    "styles": (
        "",
        "default",
    ),
    "srs": SRS,
    "crs": SRS,
    "bbox": (
        "-180,-90,180,90",
        "0,0,1000000,1000000",
        "5,45,15,55",
    ),
    "width": SMALL_INTS,
    "height": SMALL_INTS,
    "format": FORMATS,
    "info_format": (
        "text/plain",
        "text/html",
        "text/xml",
    ),
    "transparent": (
        "true",
        "false",
        "TRUE",
    ),
    "bgcolor": (
        "0xFF0000",
        "#00ff00",
    ),
    "exceptions": (
        "application/vnd.ogc.se_xml",
        "application/vnd.ogc.se_inimage",
        "inimage",
        "blank",
        "XML",
    ),
    "x": SMALL_INTS,
    "y": SMALL_INTS,
    "i": SMALL_INTS,
    "j": SMALL_INTS,
    "feature_count": SMALL_INTS,
    "sld": ("http://localhost/x.sld",),
}
WMTS_PARAMS = {
    "service": ("WMTS",),
    "request": (
        "GetTile",
        "GetCapabilities",
        "GetFeatureInfo",
    ),
    "version": ("1.0.0",),
    "layer": (CACHED_LAYER,),
    "style": (
        "default",
        "",
    ),
    "format": FORMATS,
    "tilematrixset": GRIDS,
    "tilematrix": (
        "0",
        "1",
        "2",
        "02",
    ),
    "tilerow": (
        "0",
        "1",
        "3",
    ),
    "tilecol": (
        "0",
        "1",
        "3",
    ),
}


def segment(*valid: str) -> st.SearchStrategy[str]:
    return encoded(values(*valid), segment=True)


@st.composite
def tile_path(draw: st.DrawFn, grids: tuple[str, ...], exts: tuple[str, ...]) -> str:
    """layer/grid/z/x/y.ext with a few parts (or the number of parts) wrong."""
    valid = (
        (CACHED_LAYER,),
        grids,
        ("1", "2", "3"),
        ("0", "1"),
        ("0", "1"),
        exts,
    )
    wrong = draw(broken(len(valid)))
    parts = [draw(part(v, i in wrong, True)) for i, v in enumerate(valid)]
    ext = parts.pop()
    cut = draw(st.sampled_from([5, 5, 5, 5, 5, 4, 3, 2, 1, 0, 6]))
    parts = parts[:cut] + [draw(encoded(values(), True))] * (cut == 6)
    return "/".join(parts) + (f".{ext}" if draw(st.integers(0, 5)) else "")


def with_query(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


REQUESTS: dict[str, st.SearchStrategy[str]] = {
    "wms": st.builds(
        with_query,
        st.sampled_from(["/service", "/wms", "/ows"]),
        queries(WMS_PARAMS),
    ),
    "wmts": st.one_of(
        st.builds(with_query, st.just("/service"), queries(WMTS_PARAMS)),
        st.builds(
            lambda p: f"/wmts/{p}",
            st.one_of(tile_path(GRID_NAMES, ("png",)), segment("1.0.0")),
        ),
        st.builds(
            lambda p: f"/wmts/1.0.0/{p}", segment("WMTSCapabilities.xml", "x.xml")
        ),
    ),
    "tms": st.builds(
        with_query,
        st.builds(
            lambda root, p: root + p,
            st.sampled_from(["/tms/1.0.0/", "/tiles/", "/tms/"]),
            tile_path(TMS_GRIDS, ("png",)),
        ),
        queries({"origin": ("nw", "sw", "ul", "ll")}),
    ),
    "kml": st.builds(lambda p: f"/kml/{p}", tile_path(TMS_GRIDS, ("kml", "png"))),
    "demo": st.builds(
        with_query,
        st.one_of(
            st.just("/demo/"),
            st.builds(
                lambda p: f"/demo/static/{p}",
                segment("ol.js", "demo.css", "ol-LICENSE.md"),
            ),
            st.builds(lambda p: f"/demo/{p}", segment("static", "x.html")),
        ),
        queries(
            {
                "tms_layer": (CACHED_LAYER,),
                "wmts_layer": (CACHED_LAYER,),
                "grid": GRIDS,
                "srs": SRS,
                "format": FORMATS,
            }
        ),
    ),
}
# The root element of each service's error answer.
OGC_ROOTS = {
    "wms": ("ServiceExceptionReport", "ExceptionReport", "WMTException"),
    "wmts": ("ExceptionReport", "ServiceExceptionReport", "WMTException"),
    "tms": ("TileMapServerError",),
    "kml": ("TileMapServerError",),
}


def in_process(
    app: Callable[..., Any], target: str
) -> tuple[int, dict[str, str], bytes]:
    """target through the app as a WSGI server hands it over: PATH_INFO percent-decoded to
    latin-1 (PEP 3333), QUERY_STRING as sent."""
    path, _, query = target.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "wsgi.url_scheme": "http",
    }
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = {name.lower(): value for name, value in headers}

    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body


class _Markup(HTMLParser):
    """Elements and attributes an HTML page has that an injection would add."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("x", "svg", "tg:mark"):
            self.found.append(tag)
        self.found.extend(name for name, _ in attrs if name in ("y", "onload"))
        self.in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script and ("alert(" in data or "tg()" in data):
            self.found.append("script")


def check_answer(
    service: str, target: str, status: int, headers: dict[str, str], body: bytes
) -> None:
    """The properties every answer to a fuzzed request must have."""
    assert status != 500, f"{target} -> 500: {body[:300]!r}"
    assert headers.get("x-content-type-options") == "nosniff", target
    assert int(headers["content-length"]) == len(body), target
    for marker in RAW_MARKERS:
        assert marker not in body, f"{target} reflects {marker!r}: {body[:600]!r}"
    content_type = headers.get("content-type", "")
    if "html" in content_type:
        parser = _Markup()
        parser.feed(body.decode("utf-8"))
        assert parser.found == [], f"{target} injected {parser.found}"
    elif "xml" in content_type:
        # Well-formed, so every reflected value was escaped (our own answers: no XML attack).
        root = ET.fromstring(body)  # noqa: S314
        assert not [e.tag for e in root.iter() if e.tag.split("}")[-1] in ("x", "svg")]
    if 400 <= status < 500 and status != 414:
        if service == "demo":
            assert content_type.startswith("text/html"), target
        elif not content_type.startswith("image/"):
            assert ET.fromstring(body).tag.split("}")[-1] in OGC_ROOTS[service], (  # noqa: S314
                f"{target} -> {status} {body[:300]!r}"
            )


class OpenedFiles:
    """Files opened by this process while recording (an audit hook cannot be removed, so one is
    installed once and switched on and off)."""

    installed: OpenedFiles | None = None

    def __init__(self) -> None:
        self.recording = False
        self.paths: set[str] = set()
        self.lock = threading.Lock()
        sys.addaudithook(self._hook)

    @classmethod
    def get(cls) -> OpenedFiles:
        if cls.installed is None:
            cls.installed = cls()
        return cls.installed

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self.recording and event == "open" and isinstance(args[0], str | bytes):
            path = os.fsdecode(args[0])
            with self.lock:
                self.paths.add(os.path.realpath(path))


def allowed_roots(*directories: Path) -> tuple[str, ...]:
    """Where serving may read: the given directories, Tilegate's packages and Python's libraries
    (modules imported lazily, pyproj's database)."""
    packages = Path(entrypoints.__file__).parent.parent
    python = sysconfig.get_paths()
    roots = {
        *directories,
        *(packages / name for name in ("domain", "adapters", "entrypoints")),
        *(Path(python[key]) for key in ("stdlib", "platstdlib", "purelib", "platlib")),
        Path(pyproj.datadir.get_data_dir()),
    }
    return tuple(os.path.realpath(r) + os.sep for r in roots)


def outside(paths: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(p for p in paths if not (p + os.sep).startswith(roots))


@pytest.fixture(scope="module")
def upstream() -> Iterator[MapServer]:
    with MapServer() as server:
        yield server


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory, upstream: MapServer) -> Path:
    return attack_config(tmp_path_factory.mktemp("fuzz"), upstream.url)


@pytest.fixture(scope="module")
def app(config: Path) -> TilegateApp:
    made = make_wsgi_app(config)
    assert isinstance(made, TilegateApp)
    return made


# A failing example with a 70 kB value is still worth seeing.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
STATUSES: Counter[tuple[str, str, int]] = Counter()
FUZZ = settings(
    max_examples=amount(300, 5000),
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("service", sorted(REQUESTS))
def test_fuzzed_requests_in_process(
    service: str, app: TilegateApp, config: Path
) -> None:
    opened = OpenedFiles.get()
    roots = allowed_roots(config.parent)

    @FUZZ
    @given(REQUESTS[service])
    def attack(target: str) -> None:
        opened.paths.clear()
        opened.recording = True
        try:
            status, headers, body = in_process(app, target)
        finally:
            opened.recording = False
        STATUSES["in-process", service, status] += 1
        check_answer(service, target, status, headers, body)
        assert outside(opened.paths, roots) == [], target

    attack()
    counts = {
        s: n
        for (how, svc, s), n in STATUSES.items()
        if how == "in-process" and svc == service
    }
    print(f"\nin-process {service}: {sum(counts.values())} requests, {counts}")


# A gunicorn worker records every file it opens outside the allowed roots (its own audit hook).
GUNICORN_HOOK = """
import os, sys
ROOTS = {roots!r}
LOG = {log!r}
def post_worker_init(worker):
    def hook(event, args):
        if event == "open" and isinstance(args[0], (str, bytes)):
            path = os.path.realpath(os.fsdecode(args[0]))
            if not (path + os.sep).startswith(ROOTS):
                with open(LOG, "a") as log:
                    log.write(path + "\\n")
    sys.addaudithook(hook)
"""
# gunicorn's own limit on the request line; longer lines are answered (414) by gunicorn itself.
REQUEST_LINE_LIMIT = 4094


@pytest.fixture(scope="module")
def gunicorn(config: Path) -> Iterator[tuple[int, Path]]:
    log = config.parent / "opened-outside.log"
    hook = config.parent / "gunicorn_hook.py"
    hook.write_text(
        GUNICORN_HOOK.format(
            roots=allowed_roots(config.parent),
            log=str(log),
        )
    )
    # Gunicorn reads the server's output as it comes: a full pipe would stall the workers.
    server = Gunicorn(config, workers=2, extra=("--config", str(hook)))
    try:
        yield int(server.url.rsplit(":", 1)[1]), log
    finally:
        server.close()


@pytest.mark.parametrize("service", sorted(REQUESTS))
def test_fuzzed_requests_through_gunicorn(
    service: str, gunicorn: tuple[int, Path]
) -> None:
    port, log = gunicorn

    @settings(FUZZ, max_examples=amount(40, 500))
    @given(REQUESTS[service].filter(lambda t: len(t) < REQUEST_LINE_LIMIT - 20))
    def attack(target: str) -> None:
        answer = raw_request(port, get_request(target))
        STATUSES["gunicorn", service, answer.status] += 1
        check_answer(service, target, answer.status, answer.headers, answer.body)

    attack()
    opened = log.read_text().split() if log.exists() else []
    assert opened == []
    counts = {
        s: n
        for (how, svc, s), n in STATUSES.items()
        if how == "gunicorn" and svc == service
    }
    print(f"\ngunicorn {service}: {sum(counts.values())} requests, {counts}")
