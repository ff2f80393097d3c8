"""The /demo/ page: what it lists, that nothing from a request or the config is reflected raw,
that its static files cannot be walked out of, and (in headless Chromium) that maps show tiles."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from PIL import Image

from adapters.config import parse_config
from entrypoints import demo
from entrypoints.app import TilegateApp
from entrypoints.bootstrap import bootstrap
from entrypoints.demo_config import DEMO_DATA
from tests.e2e.conftest import serve_develop, stop

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE = '</script><script>alert("title")</script><!--'
PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'-alert(1)-'",
    "</script><script>alert(1)</script>",
    "javascript:alert(1)",
    "\u2028alert(1)\u2029",
    "{{7*7}}&amp;<svg/onload=alert(1)>",
]
UTM_BBOX = [280000.0, 5200000.0, 920000.0, 6100000.0]
UTM_RES = [2000.0, 1000.0, 500.0, 250.0, 125.0]


def config_dict() -> dict[str, Any]:
    return {
        "services": {"demo": None, "tms": None, "wmts": None},
        "grids": {
            "utm32": {
                "srs": "EPSG:25832",
                "bbox": UTM_BBOX,
                "res": UTM_RES,
                "origin": "ul",
            },
            "utm32_sw": {
                "srs": "EPSG:25832",
                "bbox": UTM_BBOX,
                "res": UTM_RES,
                "origin": "sw",
            },
        },
        "layers": [
            {"name": "countries", "title": "Countries", "sources": ["countries_cache"]},
            {"name": "debug", "title": HOSTILE, "sources": ["debug_cache"]},
        ],
        "caches": {
            "countries_cache": {
                "grids": ["GLOBAL_WEBMERCATOR", "GLOBAL_GEODETIC", "utm32"],
                "sources": ["countries"],
            },
            "debug_cache": {
                "grids": ["utm32_sw"],
                "sources": ["debug"],
                "disable_storage": True,
            },
        },
        "sources": {
            "countries": {
                "type": "geojson",
                "file": str(DEMO_DATA / "countries.geojson"),
            },
            "debug": {"type": "debug"},
        },
    }


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TilegateApp:
    monkeypatch.chdir(tmp_path)  # the cache of a config without a file lands in the cwd
    return TilegateApp.from_state(
        bootstrap(parse_config(config_dict(), "<test>"), None)
    )


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def call(
    app: TilegateApp,
    path: str,
    query: dict[str, str] | str = "",
    method: str = "GET",
    **headers: str,
) -> Answer:
    """One request through the WSGI app; `path` is PATH_INFO as a server hands it over (decoded)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": query if isinstance(query, str) else urlencode(query),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8080",
        "SCRIPT_NAME": "",
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "localhost:8080",
    }
    environ.update({"HTTP_" + k.upper(): v for k, v in headers.items()})
    status: list[str] = []
    response_headers: dict[str, str] = {}

    def start_response(line: str, pairs: list[tuple[str, str]]) -> None:
        status.append(line)
        response_headers.update(pairs)

    body = b"".join(app(environ, start_response))
    return Answer(int(status[0].split()[0]), response_headers, body)


class PageParser(HTMLParser):
    """Collects the links, scripts and the map's JSON configuration of a demo page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.json_blocks: list[str] = []
        self._in_json = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "a" and attributes.get("href"):
            self.links.append(str(attributes["href"]))
        if tag == "script":
            self.scripts.append(attributes)
            self._in_json = attributes.get("type") == "application/json"
            if self._in_json:
                self.json_blocks.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_json = False

    def handle_data(self, data: str) -> None:
        if self._in_json:
            self.json_blocks[-1] += data


def parse(answer: Answer) -> PageParser:
    parser = PageParser()
    parser.feed(answer.text)
    return parser


def map_config(answer: Answer) -> dict[str, Any]:
    blocks = parse(answer).json_blocks
    assert len(blocks) == 1
    config: dict[str, Any] = json.loads(blocks[0])
    return config


def tile_path(config: dict[str, Any], z: int, x: int, y: int) -> tuple[str, str]:
    url = (
        config["url"]
        .replace("{z}", config["levels"][z])
        .replace("{x}", str(x))
        .replace("{y}", str(y))
    )
    path, _, query = url.removeprefix("http://localhost:8080").partition("?")
    return path, query


def assert_page_headers(answer: Answer) -> None:
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Content-Security-Policy"] == demo.CSP
    assert "script-src 'self';" in demo.CSP
    assert "unsafe-inline" not in demo.CSP
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_index_lists_every_layer_with_a_view_per_service_and_grid(
    app: TilegateApp,
) -> None:
    answer = call(app, "/demo/")
    assert answer.status == 200
    assert_page_headers(answer)
    links = parse(answer).links
    base = "http://localhost:8080"
    assert f"{base}/tms/1.0.0/" in links
    assert f"{base}/wmts/1.0.0/WMTSCapabilities.xml" in links
    assert f"{base}/service?REQUEST=GetCapabilities&SERVICE=WMTS" in links
    views = sorted(
        link.removeprefix(f"{base}/demo/?")
        for link in links
        if link.startswith(f"{base}/demo/?")
    )
    assert views == sorted(
        [
            "tms_layer=countries&grid=GLOBAL_WEBMERCATOR",
            "tms_layer=countries&grid=GLOBAL_GEODETIC",
            "tms_layer=countries&grid=utm32",
            "tms_layer=debug&grid=utm32_sw",
            "wmts_layer=countries&grid=GLOBAL_WEBMERCATOR",
            "wmts_layer=countries&grid=utm32",
        ]
    )
    # GLOBAL_GEODETIC and utm32_sw: their top tile rows reach past the bbox.
    assert answer.text.count("not WMTS compatible") == 2


def test_every_link_on_the_index_answers(app: TilegateApp) -> None:
    for link in parse(call(app, "/demo/")).links:
        path, _, query = link.removeprefix("http://localhost:8080").partition("?")
        assert call(app, path, query).status == 200, link


def test_index_without_trailing_slash_and_head_work(app: TilegateApp) -> None:
    assert call(app, "/demo").status == 200
    head = call(app, "/demo/static/ol.css", method="HEAD")
    assert head.status == 200
    assert head.body == b""
    assert int(head.headers["Content-Length"]) > 0


@pytest.mark.parametrize(
    ("query", "grid", "srs"),
    [
        (
            {"tms_layer": "countries", "grid": "GLOBAL_WEBMERCATOR"},
            "GLOBAL_WEBMERCATOR",
            "EPSG:3857",
        ),
        (
            {"tms_layer": "countries", "grid": "GLOBAL_GEODETIC"},
            "GLOBAL_GEODETIC",
            "EPSG:4326",
        ),
        ({"wmts_layer": "countries", "grid": "utm32"}, "utm32", "EPSG:25832"),
        # MapProxy's demo links pick the grid by SRS; they keep working.
        (
            {"tms_layer": "countries", "format": "png", "srs": "EPSG:4326"},
            "GLOBAL_GEODETIC",
            "EPSG:4326",
        ),
        (
            {"wmts_layer": "countries", "format": "png", "srs": "EPSG:3857"},
            "GLOBAL_WEBMERCATOR",
            "EPSG:3857",
        ),
    ],
)
def test_map_view_names_layer_and_grid(
    app: TilegateApp, query: dict[str, str], grid: str, srs: str
) -> None:
    answer = call(app, "/demo/", query)
    assert answer.status == 200
    assert_page_headers(answer)
    assert f"{grid} ({srs})" in answer.text


def test_map_view_needs_no_inline_script(app: TilegateApp) -> None:
    answer = call(app, "/demo/", {"tms_layer": "countries", "grid": "utm32"})
    scripts = parse(answer).scripts
    assert [s.get("src") for s in scripts] == [
        None,
        "http://localhost:8080/demo/static/ol.js",
        "http://localhost:8080/demo/static/demo.js",
    ]
    assert scripts[0]["type"] == "application/json"
    assert "style=" not in answer.text
    assert "<style" not in answer.text


def test_custom_projection_map_uses_the_grids_own_tile_grid(app: TilegateApp) -> None:
    config = map_config(
        call(app, "/demo/", {"tms_layer": "countries", "grid": "utm32"})
    )
    assert config["projection"] == {
        "code": "EPSG:25832",
        "builtin": False,
        "units": "m",
        "extent": UTM_BBOX,
    }
    assert config["tileGrid"] == {
        "origin": [UTM_BBOX[0], UTM_BBOX[3]],
        "resolutions": UTM_RES,
        "tileSize": [256, 256],
        "extent": UTM_BBOX,
    }
    assert config["rowsFromTop"] is True
    assert (
        config["url"]
        == "http://localhost:8080/tiles/countries/EPSG25832/{z}/{x}/{y}.png?origin=nw"
    )


@pytest.mark.parametrize(
    "query",
    [
        {"tms_layer": "countries", "grid": "GLOBAL_WEBMERCATOR"},
        {"tms_layer": "countries", "grid": "GLOBAL_GEODETIC"},
        {"tms_layer": "countries", "grid": "utm32"},
        {"tms_layer": "debug", "grid": "utm32_sw"},
        {"wmts_layer": "countries", "grid": "GLOBAL_WEBMERCATOR"},
        {"wmts_layer": "countries", "grid": "utm32"},
    ],
)
def test_tile_urls_of_a_map_view_serve_tiles(
    app: TilegateApp, query: dict[str, str]
) -> None:
    config = map_config(call(app, "/demo/", query))
    # Level 1, column 0, and the row the page asks for first: from the top, or from the south.
    path, tile_query = tile_path(config, 1, 0, 0)
    answer = call(app, path, tile_query)
    assert answer.status == 200, answer.body
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.body.startswith(b"\x89PNG")


def test_sw_grid_rows_count_from_the_south(app: TilegateApp) -> None:
    config = map_config(
        call(app, "/demo/", {"tms_layer": "countries", "grid": "GLOBAL_GEODETIC"})
    )
    assert config["rowsFromTop"] is False
    assert config["tileGrid"]["origin"] == [-180.0, -90.0]
    assert config["url"].endswith("/tiles/countries/EPSG4326/{z}/{x}/{y}.png?origin=sw")


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize(
    "param", ["tms_layer", "wmts_layer", "grid", "srs", "format", "layer", "x"]
)
def test_no_query_parameter_is_reflected(
    app: TilegateApp, param: str, payload: str
) -> None:
    for query in (
        {param: payload},
        {"tms_layer": "countries", param: payload},
        {"wmts_layer": "countries", param: payload},
    ):
        answer = call(app, "/demo/", query)
        assert payload not in answer.text
        assert (
            escape(payload) not in answer.text
        )  # not even escaped: unknown values are never echoed
        # The first of tms_layer, wmts_layer names the view; grid (or else srs) picks among its grids.
        chosen = next(
            (query[k] for k in ("tms_layer", "wmts_layer") if k in query), None
        )
        picks = query.get("grid", query.get("srs"))
        if payload in (chosen, picks) and chosen is not None:
            assert answer.status == 404
            assert "no such layer, grid or page" in answer.text
        else:
            assert answer.status == 200
        assert_page_headers(answer)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_path_is_reflected(app: TilegateApp, payload: str) -> None:
    for path in (
        f"/demo/{payload}",
        f"/demo/static/{payload}",
        f"/demo/static/ol.js/{payload}",
    ):
        answer = call(app, path)
        assert answer.status == 404
        assert payload not in answer.text
        assert escape(payload) not in answer.text


@pytest.mark.parametrize(
    "host", ['evil"><script>alert(1)</script>', "evil.example/</script>"]
)
def test_proxy_headers_are_escaped(app: TilegateApp, host: str) -> None:
    for query in ("", "tms_layer=countries"):
        answer = call(
            app, "/demo/", query, X_FORWARDED_HOST=host, X_SCRIPT_NAME="/<script>"
        )
        assert answer.status == 200
        assert "<script>alert" not in answer.text
        assert "</script>/" not in answer.text
        assert "/<script>" not in answer.text
        assert (
            answer.headers["Vary"]
            == "Host, X-Script-Name, X-Forwarded-Host, X-Forwarded-Proto"
        )


def test_hostile_layer_title_from_the_config_is_escaped(app: TilegateApp) -> None:
    index = call(app, "/demo/")
    assert HOSTILE not in index.text
    assert (
        "&lt;/script&gt;&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt;&lt;!--"
        in index.text
    )
    answer = call(app, "/demo/", {"tms_layer": "debug"})
    assert answer.status == 200
    assert HOSTILE not in answer.text
    assert (
        answer.text.count("</script>") == 3
    )  # the JSON block and the two script elements
    assert map_config(answer)["title"] == HOSTILE


def test_script_json_cannot_end_its_script_element() -> None:
    value = {"t": "</script><!-- & \u2028\u2029 >"}
    text = demo.script_json(value)
    assert re.fullmatch(r"[\x20-\x7e]*", text)
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in text
    assert json.loads(text) == value


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("ol.js", "text/javascript; charset=utf-8"),
        ("demo.js", "text/javascript; charset=utf-8"),
        ("ol.css", "text/css; charset=utf-8"),
        ("demo.css", "text/css; charset=utf-8"),
        ("ol-LICENSE.md", "text/plain; charset=utf-8"),
    ],
)
def test_static_files_have_types_and_caching_headers(
    app: TilegateApp, name: str, content_type: str
) -> None:
    answer = call(app, f"/demo/static/{name}")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == content_type
    assert answer.headers["Cache-Control"] == f"public, max-age={demo.STATIC_MAX_AGE}"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.body == (Path(demo.__file__).parent / "static" / name).read_bytes()
    again = call(app, f"/demo/static/{name}", IF_NONE_MATCH=answer.headers["ETag"])
    assert again.status == 304
    assert again.body == b""


@pytest.mark.parametrize(
    "path",
    [
        "/demo/static/../../pyproject.toml",
        "/demo/static/../demo.py",
        "/demo/static/../static/ol.js",
        "/demo/static/..%2fdemo.py",
        "/demo/static/%2e%2e/demo.py",
        "/demo/static//etc/passwd",
        "/demo/static/..\\demo.py",
        "/demo/static/",
        "/demo/static",
        "/demo/static/ol.js/",
        "/demo/static/OL.JS",
        "/demo/static/ol.js.map",
        "/demo/static/./ol.js",
        "/demo/static/ol.js\x00.png",
        "/demo/static/__init__.py",
        "/demo/static/demo_data/countries.geojson",
        "/demo/../entrypoints/demo.py",
    ],
)
def test_static_paths_outside_the_fixed_set_are_not_found(
    app: TilegateApp, path: str
) -> None:
    answer = call(app, path)
    assert answer.status == 404
    assert b"import " not in answer.body
    assert b"root:" not in answer.body


def test_unknown_layer_grid_or_page_is_not_found(app: TilegateApp) -> None:
    for path, query in [
        ("/demo/", {"tms_layer": "nope"}),
        ("/demo/", {"wmts_layer": "nope", "grid": "utm32"}),
        ("/demo/", {"tms_layer": "countries", "grid": "nope"}),
        ("/demo/", {"tms_layer": "countries", "srs": "EPSG:31467"}),
        # GLOBAL_GEODETIC's top tile reaches past 90°: no WMTS for it.
        ("/demo/", {"wmts_layer": "countries", "grid": "GLOBAL_GEODETIC"}),
        ("/demo/", {"wmts_layer": "debug", "grid": "utm32_sw"}),
        ("/demo/index.html", {}),
    ]:
        answer = call(app, path, query)
        assert answer.status == 404, (path, query)
        assert_page_headers(answer)


def test_views_follow_the_configured_services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    raw = config_dict()
    raw["services"] = {"demo": None, "tms": {"use_grid_names": True}}
    app = TilegateApp.from_state(bootstrap(parse_config(raw, "<test>"), None))
    answer = call(app, "/demo/")
    assert "WMTS" not in answer.text
    assert call(app, "/demo/", {"wmts_layer": "countries"}).status == 404
    config = map_config(
        call(app, "/demo/", {"tms_layer": "countries", "grid": "utm32"})
    )
    assert (
        config["url"]
        == "http://localhost:8080/tiles/countries/utm32/{z}/{x}/{y}.png?origin=nw"
    )


# --- a real browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev_server() -> Iterator[str]:
    """`tilegate serve-develop` on the test configuration, in a scratch directory."""
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "mapproxy.yaml"
        config.write_text(yaml.safe_dump(config_dict()), encoding="utf-8")
        proc, url = serve_develop(Path(scratch), str(config))
        try:
            yield url
        finally:
            stop(proc)


def chromium(url: str, profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing (Debian package chromium, see .ci/install-system-packages)"
        )
    command = [
        str(CHROMIUM),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1024,768",
        "--virtual-time-budget=10000",
        *args,
        url,
    ]
    return subprocess.run(command, capture_output=True, timeout=120, check=True)


@pytest.mark.parametrize(
    "query",
    [
        "tms_layer=countries&grid=GLOBAL_WEBMERCATOR",
        "wmts_layer=countries&grid=GLOBAL_WEBMERCATOR",
        "tms_layer=countries&grid=GLOBAL_GEODETIC",
        "tms_layer=countries&grid=utm32",
        "wmts_layer=countries&grid=utm32",
        "tms_layer=debug&grid=utm32_sw",
    ],
)
def test_map_view_loads_tiles_in_a_browser(
    dev_server: str, tmp_path: Path, query: str
) -> None:
    dom = chromium(
        f"{dev_server}/demo/?{query}", tmp_path / "profile", "--dump-dom"
    ).stdout.decode()
    found = re.search(
        r'<div id="map"[^>]*data-tiles-loaded="(\d+)" data-tiles-failed="(\d+)"', dom
    )
    assert found is not None, dom[:2000]
    loaded, failed = int(found[1]), int(found[2])
    assert loaded > 0
    assert failed == 0
    assert "ol-layer" in dom  # OpenLayers built its map


def test_map_view_screenshot_shows_a_map(dev_server: str, tmp_path: Path) -> None:
    shot = tmp_path / "map.png"
    chromium(
        f"{dev_server}/demo/?tms_layer=countries&grid=GLOBAL_WEBMERCATOR",
        tmp_path / "profile",
        f"--screenshot={shot}",
    )
    with Image.open(io.BytesIO(shot.read_bytes())) as image:
        middle = image.convert("RGB").crop((200, 200, 824, 600))
        colours = middle.getcolors(maxcolors=1 << 16) or []
    # Sea, land and borders at least; an empty map would be one grey.
    assert len(colours) > 3
    if (keep := os.environ.get("TILEGATE_KEEP_SCREENSHOT")) is not None:
        shutil.copy(shot, keep)
