"""Access control: MapProxy's `mapproxy.authorize` callback, through a real auth middleware.

A denied layer (`classified`) must not leak through any service, capabilities document or
the demo: asked for by name it is 403 (401 without a user), as part of a group it is left out
and its source is never asked; `limited_to` cuts images to its geometry.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from tests.e2e.conftest import fetch, free_port, start_server, stop
from tests.mapserver import MapServer
from tests.reliability.auth_middleware import AuthMiddleware, make_app

WMS = "/service?SERVICE=WMS&VERSION=1.1.1&STYLES=&"
WORLD_MAP = "SRS=EPSG:4326&BBOX=-180,-90,180,90&WIDTH=360&HEIGHT=180&FORMAT=image/png"
INFO = "SRS=EPSG:4326&BBOX=-180,-90,180,90&WIDTH=360&HEIGHT=180&X=225&Y=60"


def secret_urls(layer: str) -> list[str]:
    """Every way a layer's pixels, features, legend or tiles can be asked for."""
    return [
        f"{WMS}REQUEST=GetMap&LAYERS={layer}&{WORLD_MAP}",
        f"{WMS}REQUEST=GetMap&LAYERS=pub,{layer}&{WORLD_MAP}",
        f"{WMS}REQUEST=GetFeatureInfo&LAYERS={layer}&QUERY_LAYERS={layer}&{INFO}",
        f"{WMS}REQUEST=GetLegendGraphic&LAYER={layer}&FORMAT=image/png",
        f"/tms/1.0.0/{layer}/EPSG3857",
        f"/tms/1.0.0/{layer}/EPSG3857/1/1/1.png",
        f"/tiles/{layer}/EPSG3857/1/1/1.png",
        f"/kml/{layer}/EPSG3857/1/1/1.kml",
        f"/kml/{layer}/EPSG3857/1/1/1.png",
        f"/wmts/{layer}/GLOBAL_WEBMERCATOR/1/1/0.png",
        "/service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&STYLE=default"
        f"&LAYER={layer}&TILEMATRIXSET=GLOBAL_WEBMERCATOR&TILEMATRIX=1&TILEROW=0"
        "&TILECOL=1&FORMAT=image/png",
    ]


CAPABILITIES = [
    f"{WMS}REQUEST=GetCapabilities",
    "/service?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0",
    "/service?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.1.0",
    "/wms?WMTVER=1.0.0&REQUEST=capabilities",
    "/tms/1.0.0/",
    "/wmts/1.0.0/WMTSCapabilities.xml",
    "/service?SERVICE=WMTS&REQUEST=GetCapabilities",
]


@pytest.fixture(scope="module")
def upstream() -> Iterator[MapServer]:
    with MapServer() as server:
        yield server


@pytest.fixture(scope="module")
def config(upstream: MapServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("auth")

    def source(layer: str) -> dict[str, Any]:
        return {
            "type": "wms",
            "wms_opts": {"featureinfo": True, "legendgraphic": True},
            "req": {
                "url": upstream.url + "/service",
                "layers": layer,
                "transparent": True,
            },
        }

    conf = {
        "services": {
            "demo": None,
            "tms": None,
            "kml": None,
            "wmts": None,
            "wms": {"srs": ["EPSG:4326", "EPSG:3857"]},
        },
        "layers": [
            {
                "name": "grp",
                "title": "Group",
                "layers": [
                    {"name": "pub", "title": "Public", "sources": ["pub_cache"]},
                    {
                        "name": "classified",
                        "title": "Classified Data",
                        "sources": ["classified_cache"],
                    },
                ],
            }
        ],
        "caches": {
            name: {"grids": ["GLOBAL_WEBMERCATOR"], "sources": [f"{name}_wms"]}
            for name in ("pub_cache", "classified_cache")
        },
        "sources": {
            "pub_cache_wms": source("up_pub"),
            "classified_cache_wms": source("up_classified"),
        },
        "globals": {
            "cache": {"base_dir": str(root / "cache")},
            "image": {"paletted": False},
        },
    }
    path = root / "mapproxy.yaml"
    path.write_text(yaml.safe_dump(conf))
    return path


@pytest.fixture(scope="module")
def app(config: Path) -> AuthMiddleware:
    return make_app(str(config))


def get(
    app: AuthMiddleware, url: str, user: str | None
) -> tuple[int, dict[str, str], bytes]:
    path, _, query = url.partition("?")
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
    }
    if user is not None:
        environ["HTTP_X_USER"] = user
    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body


def upstream_layers(server: MapServer) -> set[str]:
    """Every upstream layer the map server was asked to draw, query or explain."""
    return {
        name
        for r in server.requests
        for key in ("LAYERS", "QUERY_LAYERS", "LAYER")
        for name in r.params.get(key, "").split(",")
        if name
    }


def rgba(body: bytes) -> Image.Image:
    return Image.open(io.BytesIO(body)).convert("RGBA")


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int, int]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return (value[0], value[1], value[2], value[3])


def alpha(image: Image.Image, xy: tuple[int, int]) -> int:
    return pixel(image, xy)[3]


@pytest.mark.parametrize("url", secret_urls("classified"))
def test_a_denied_layer_asked_for_is_forbidden_and_its_source_never_asked(
    app: AuthMiddleware, upstream: MapServer, url: str
) -> None:
    upstream.reset()
    status, _, body = get(app, url, "alice")
    assert status == 403, body
    assert b"forbidden" in body
    assert b"lassified" not in body
    assert "up_classified" not in upstream_layers(upstream)


@pytest.mark.parametrize("url", secret_urls("pub"))
def test_the_permitted_layer_is_served_by_every_service(
    app: AuthMiddleware, url: str
) -> None:
    # The same URLs for `pub` answer: the 403s above are the callback's doing.
    status, headers, body = get(app, url.replace(",pub", ""), "alice")
    assert status == 200, body
    # Answers that depend on who asked are not for shared caches.
    assert headers["Cache-Control"].startswith("private")


@pytest.mark.parametrize("url", CAPABILITIES)
def test_capabilities_list_only_permitted_layers(app: AuthMiddleware, url: str) -> None:
    status, _, body = get(app, url, "alice")
    assert status == 200, body
    assert b"pub" in body
    assert b"lassified" not in body
    # The same document for a user who may see everything does list it.
    assert b"classified" in get(app, url, "admin")[2]


def test_capabilities_show_a_layer_without_featureinfo_as_not_queryable(
    app: AuthMiddleware,
) -> None:
    _, _, full = get(app, f"{WMS}REQUEST=GetCapabilities", "alice")
    _, _, maps_only = get(app, f"{WMS}REQUEST=GetCapabilities", "dave")
    assert b'queryable="1"' in full
    assert b'queryable="1"' not in maps_only
    assert b"lassified" not in maps_only


@pytest.mark.parametrize(
    "url",
    [
        f"{WMS}REQUEST=GetFeatureInfo&LAYERS=pub&QUERY_LAYERS=pub&{INFO}",
        f"{WMS}REQUEST=GetLegendGraphic&LAYER=pub&FORMAT=image/png",
    ],
)
def test_featureinfo_and_legends_need_their_own_permission(
    app: AuthMiddleware, url: str
) -> None:
    assert get(app, url, "dave")[0] == 403
    assert get(app, url, "alice")[0] == 200


def test_a_group_draws_only_its_permitted_layers(
    app: AuthMiddleware, upstream: MapServer
) -> None:
    # A region no other test asks for: nothing of it is cached yet.
    url = f"{WMS}REQUEST=GetMap&LAYERS=grp&SRS=EPSG:4326&BBOX=-60,-60,-50,-50&WIDTH=256&HEIGHT=256&FORMAT=image/png"
    upstream.reset()
    status, _, _ = get(app, url, "alice")
    assert status == 200
    assert upstream_layers(upstream) == {"up_pub"}
    upstream.reset()
    get(app, f"{WMS}REQUEST=GetFeatureInfo&LAYERS=grp&QUERY_LAYERS=grp&{INFO}", "alice")
    get(app, f"{WMS}REQUEST=GetLegendGraphic&LAYER=grp&FORMAT=image/png", "alice")
    assert upstream_layers(upstream) == {"up_pub"}
    # Without the callback's say the group draws, queries and explains both.
    upstream.reset()
    assert get(app, url, "admin")[0] == 200
    get(app, f"{WMS}REQUEST=GetFeatureInfo&LAYERS=grp&QUERY_LAYERS=grp&{INFO}", "admin")
    assert upstream_layers(upstream) == {"up_pub", "up_classified"}


def test_the_demo_needs_full_access(app: AuthMiddleware) -> None:
    assert get(app, "/demo/", "alice")[0] == 403
    assert (
        get(app, "/demo/?tms_layer=classified&grid=GLOBAL_WEBMERCATOR", "alice")[0]
        == 403
    )
    status, _, body = get(app, "/demo/", "admin")
    assert status == 200
    assert b"classified" in body


@pytest.mark.parametrize(
    "url", [*secret_urls("pub"), *CAPABILITIES, "/demo/", "/kml/pub/EPSG3857/0/0/0.kml"]
)
def test_none_is_forbidden_and_no_user_unauthenticated(
    app: AuthMiddleware, url: str
) -> None:
    status, _, body = get(app, url, "nobody")
    assert status == 403
    assert b"pub" not in body.replace(b"pub/", b"")
    status, _, _ = get(app, url, None)
    assert status == 401


@pytest.mark.parametrize("user", ["broken", "badgeom"])
@pytest.mark.parametrize(
    "url",
    ["/tiles/pub/EPSG3857/1/1/1.png", f"{WMS}REQUEST=GetMap&LAYERS=pub&{WORLD_MAP}"],
)
def test_an_answer_that_cannot_be_read_permits_nothing(
    app: AuthMiddleware, user: str, url: str
) -> None:
    status, _, body = get(app, url, user)
    assert status == 403, body


def test_the_callback_is_asked_as_mapproxy_asks_it(app: AuthMiddleware) -> None:
    app.calls.clear()
    get(app, f"{WMS}REQUEST=GetCapabilities", "alice")
    get(app, f"{WMS}REQUEST=GetMap&LAYERS=grp&{WORLD_MAP}", "alice")
    get(app, f"{WMS}REQUEST=GetFeatureInfo&LAYERS=pub&QUERY_LAYERS=pub&{INFO}", "alice")
    get(app, "/tms/1.0.0/", "alice")
    get(app, "/tiles/pub/EPSG3857/1/1/0.png", "alice")  # rows from the top: top right
    get(app, "/kml/pub/EPSG3857/1/1/1.kml", "alice")
    get(app, "/wmts/pub/GLOBAL_WEBMERCATOR/1/1/0.png", "alice")
    get(app, "/wmts/1.0.0/WMTSCapabilities.xml", "alice")
    get(app, "/demo/", "alice")
    world = ("EPSG:4326", (-180.0, -90.0, 180.0, 90.0))
    half = 20037508.342789244
    top_right = ("EPSG:3857", (0.0, 0.0, half, half))
    assert [(s, sorted(layers), kw) for s, layers, kw in app.calls] == [
        ("wms.capabilities", ["classified", "grp", "pub"], {}),
        ("wms.map", ["classified", "pub"], {"query_extent": world}),
        ("wms.featureinfo", ["pub"], {"query_extent": world}),
        ("tms", ["classified", "pub"], {"query_extent": None}),
        ("tms", ["pub"], {"query_extent": top_right}),
        ("kml", ["pub"], {"query_extent": top_right}),
        ("wmts", ["pub"], {"query_extent": top_right}),
        ("wmts", ["classified", "pub"], {"query_extent": None}),
        ("demo", [], {}),
    ]


@pytest.mark.parametrize("user", ["bob", "carol"])
def test_limited_to_clips_maps_outside_the_geometry(
    app: AuthMiddleware, user: str
) -> None:
    status, _, body = get(
        app, f"{WMS}REQUEST=GetMap&LAYERS=pub&TRANSPARENT=true&{WORLD_MAP}", user
    )
    assert status == 200
    image = rgba(body)
    # Pixel (x, y) shows lon -180 + x, lat 90 - y: inside the limit only at lon 0..90, lat 0..60.
    assert alpha(image, (225, 60)) == 255  # lon 45, lat 30
    for outside in [(90, 135), (280, 60), (225, 20), (170, 60)]:
        assert alpha(image, outside) == 0, outside
    status, _, body = get(app, f"{WMS}REQUEST=GetMap&LAYERS=pub&{WORLD_MAP}", user)
    opaque = rgba(body)
    assert pixel(opaque, (90, 135)) == (255, 255, 255, 255)  # the background colour
    assert pixel(opaque, (225, 60)) == pixel(image, (225, 60))


@pytest.mark.parametrize("user", ["bob", "carol"])
@pytest.mark.parametrize(
    "url",
    [
        "/tiles/pub/EPSG3857/1/1/0.png",  # rows from the top, as WMTS counts them
        "/wmts/pub/GLOBAL_WEBMERCATOR/1/1/0.png",
        "/kml/pub/EPSG3857/1/1/1.png",
    ],
)
def test_limited_to_clips_tiles_and_the_cache_keeps_the_whole_tile(
    app: AuthMiddleware, user: str, url: str
) -> None:
    status, headers, body = get(app, url, user)
    assert status == 200
    assert headers["Cache-Control"].startswith("private")
    tile = rgba(body)
    # The north-east tile of level 1: lon 0..180, lat 0..85. Pixel (64, 211) is lon 45, lat 30.
    assert alpha(tile, (64, 211)) == 255
    assert alpha(tile, (192, 211)) == 0  # lon 135
    assert alpha(tile, (64, 40)) == 0  # lat 75
    whole = rgba(get(app, url, "admin")[2])
    assert alpha(whole, (192, 211)) == 255
    assert pixel(whole, (64, 211)) == pixel(tile, (64, 211))
    # A tile wholly outside the limit is transparent, and its source is not even asked.
    outside = url.replace("1/1/1", "1/0/0").replace("1/1/0", "1/0/1")
    status, _, body = get(app, outside, user)
    assert status == 200
    assert rgba(body).getchannel("A").getextrema() == (0, 0)


def test_limited_to_leaves_out_featureinfo_outside_the_geometry(
    app: AuthMiddleware, upstream: MapServer
) -> None:
    inside = f"{WMS}REQUEST=GetFeatureInfo&LAYERS=pub&QUERY_LAYERS=pub&{INFO}"
    upstream.reset()
    assert get(app, inside, "bob")[0] == 200
    assert upstream_layers(upstream) == {"up_pub"}
    upstream.reset()
    status, _, body = get(app, inside.replace("X=225&Y=60", "X=90&Y=135"), "bob")
    assert status == 200
    assert b"up_pub" not in body
    assert upstream_layers(upstream) == set()


def test_under_gunicorn(config: Path) -> None:
    """The middleware and Tilegate as deployed: gunicorn loads them as one WSGI app."""
    port = free_port()
    repo = Path(__file__).resolve().parents[2]
    cmd = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "--pythonpath",
        str(repo),
        f"tests.reliability.auth_middleware:make_app({str(config)!r})",
    ]
    proc, url = start_server(cmd, config.parent, port)
    try:
        alice, nobody = {"X-User": "alice"}, {"X-User": "nobody"}
        for path in CAPABILITIES:
            status, _, body = fetch(url + path, alice)
            assert status == 200
            assert b"lassified" not in body
        for path in secret_urls("classified"):
            assert fetch(url + path, alice)[0] == 403, path
        assert fetch(url + "/demo/", alice)[0] == 403
        assert fetch(url + "/tms/1.0.0/", nobody)[0] == 403
        assert fetch(url + "/tms/1.0.0/")[0] == 401
        status, _, body = fetch(
            url + "/tiles/pub/EPSG3857/1/1/0.png", {"X-User": "bob"}
        )
        assert status == 200
        assert alpha(rgba(body), (192, 211)) == 0
        assert alpha(rgba(body), (64, 211)) == 255
    finally:
        stop(proc)
