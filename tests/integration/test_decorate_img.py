"""`mapproxy.decorate_img`: a middleware's callback changes each WMS map and tile per request,
called as MapProxy 7 calls it; the cache keeps the plain tiles."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from tests.integration.decorate_support import (
    Decorator,
    cache_files,
    config,
    make_app,
    mark,
    pixels,
    same,
)
from tests.mapserver import MapServer
from tests.wsgi_call import call

MAPPROXY_PYTHON = (
    Path(
        os.environ.get("TILEGATE_MAPPROXY_SEED", "/work/mpvenv/bin/mapproxy-seed")
    ).parent
    / "python"
)
PROBE = Path(__file__).with_name("mapproxy_decorate_probe.py")

TMS = "/tms/1.0.0/cached/EPSG3857/2/1/2.png"
TILES = "/tiles/cached/EPSG3857/2/1/2.png"
WMTS_REST = "/wmts/cached/GLOBAL_WEBMERCATOR/2/1/2.png"
WMTS_KVP = (
    "SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=cached&STYLE=&FORMAT=image/png"
    "&TILEMATRIXSET=GLOBAL_WEBMERCATOR&TILEMATRIX=2&TILEROW=1&TILECOL=2"
)
KML = "/kml/cached/EPSG3857/2/1/2.png"
GETMAP = "SERVICE=WMS&REQUEST=GetMap&STYLES=&FORMAT=image/png&WIDTH=200&HEIGHT=100"
# The requests MapProxy decorates, as (path, query): the same in both. Not `/tiles`: for a grid
# with origin nw MapProxy 7 counts its rows from the top there, Tilegate from the south (a
# difference of tile addressing, not of the callback).
REQUESTS = [
    (TMS, ""),
    (WMTS_REST, ""),
    ("/service", WMTS_KVP),
    (
        "/service",
        GETMAP + "&VERSION=1.1.1&LAYERS=grp&SRS=EPSG:3857"
        "&BBOX=-20037508.34,-10018754.17,20037508.34,10018754.17",
    ),
    (
        "/service",
        GETMAP + "&VERSION=1.3.0&LAYERS=cached&CRS=EPSG:4326&BBOX=-45,-90,45,90",
    ),
    (
        "/wms",
        GETMAP + "&VERSION=1.1.1&LAYERS=direct,cached&SRS=EPSG:3857"
        "&BBOX=0,0,2000000,1000000",
    ),
]


@pytest.mark.parametrize(
    ("path", "query", "service"),
    [
        (TMS, "", "tms"),
        (TILES, "", "tms"),
        (WMTS_REST, "", "wmts"),
        ("/service", WMTS_KVP, "wmts"),
        (KML, "", "kml"),
    ],
)
def test_a_tile_is_decorated_for_the_request_and_cached_plain(
    tmp_path: Path, map_server: MapServer, path: str, query: str, service: str
) -> None:
    app = make_app(tmp_path, config(map_server))
    decorated = Decorator(app)
    # A miss made through the callback: the tile is made, stored plain, answered decorated.
    status, headers, body = call(decorated, path, query)
    assert status == 200, body
    assert headers["Content-Type"] == "image/png"
    stored = cache_files(tmp_path / "cache_data")
    assert len(stored) == 16  # the tiles of one 4x4 meta-tile
    upstream = map_server.stats()["total"]
    plain_status, _, plain = call(app, path, query)
    assert plain_status == 200
    assert plain in stored.values()  # the plain answer is the stored file, unchanged
    assert same(pixels(body), mark(pixels(plain)))
    assert not same(pixels(body), pixels(plain))
    # Decorated again from the cache hit: the same image, nothing fetched, nothing rewritten.
    assert call(decorated, path, query)[2] == body
    assert cache_files(tmp_path / "cache_data") == stored
    assert map_server.stats()["total"] == upstream
    assert [c["service"] for c in decorated.calls] == [service, service]
    assert decorated.calls[0]["layers"] == ["cached"]
    assert decorated.calls[0]["size"] == (256, 256)
    assert decorated.calls[0]["keywords"] == ["environ", "query_extent"]


def test_a_decorated_tile_has_its_own_validators(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, config(map_server))
    decorated = Decorator(app)
    _, plain_headers, _ = call(app, TMS)
    status, headers, body = call(decorated, TMS)
    assert status == 200
    assert headers["ETag"] != plain_headers["ETag"]
    assert headers["Cache-Control"] == "private, no-cache"
    assert "Last-Modified" not in headers
    assert headers["Access-Control-Allow-Origin"] == "*"
    # The plain tile's validators do not stand for the decorated image.
    assert call(decorated, TMS, if_none_match=plain_headers["ETag"])[0] == 200
    since = "Fri, 01 Jan 2100 00:00:00 GMT"
    assert call(decorated, TMS, if_modified_since=since)[2] == body
    # Its own ETag does: 304, no body.
    status, again, empty = call(decorated, TMS, if_none_match=headers["ETag"])
    assert (status, empty, again["ETag"]) == (304, b"", headers["ETag"])
    # And the plain tile keeps its own, as before.
    assert call(app, TMS, if_none_match=plain_headers["ETag"])[0] == 304


def test_a_wms_map_is_decorated_before_encoding(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, config(map_server))
    decorated = Decorator(app)
    path, query = REQUESTS[3]
    status, headers, body = call(decorated, path, query)
    assert (status, headers["Content-Type"]) == (200, "image/png")
    plain = call(app, path, query)[2]
    assert same(pixels(body), mark(pixels(plain)))
    assert decorated.calls[0]["format"] == "image/png"
    assert decorated.calls[0]["size"] == (200, 100)
    # Feature info, legends and capabilities have no image to decorate.
    call(decorated, "/service", "SERVICE=WMS&REQUEST=GetCapabilities")
    assert len(decorated.calls) == 1


def test_a_callback_may_return_an_image_result_and_any_mode(
    tmp_path: Path, map_server: MapServer
) -> None:
    class Result:
        def __init__(self, image: Image.Image) -> None:
            self.image = image

        def as_image(self) -> Image.Image:
            return self.image

    app = make_app(tmp_path, config(map_server))
    plain = pixels(call(app, TMS)[2])
    greyed = Decorator(app, lambda image: Result(image.convert("L")))
    status, _, body = call(greyed, TMS)
    assert status == 200
    assert same(pixels(body), plain.convert("L").convert("RGB"))


def test_a_callback_may_draw_into_its_argument_and_return_it(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, config(map_server))
    plain = pixels(call(app, TMS)[2])

    def in_place(image: Any, service: str, layers: list[str], **kw: Any) -> Any:
        image.as_image().paste((255, 0, 255), (0, 0, 8, 8))
        return image  # as many MapProxy callbacks do

    def middleware(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ["mapproxy.decorate_img"] = in_place
        return app(environ, start_response)

    expected = plain.copy()
    expected.paste((255, 0, 255), (0, 0, 8, 8))
    assert same(pixels(call(middleware, TMS)[2]), expected)
    assert same(pixels(call(app, TMS)[2]), plain)  # the cached tile untouched


def test_mapproxy_makes_the_same_calls(tmp_path: Path, map_server: MapServer) -> None:
    if not MAPPROXY_PYTHON.exists():
        pytest.skip("MapProxy 7 not installed")
    conf = config(map_server)
    (tmp_path / "mp").mkdir()
    (tmp_path / "mp" / "mapproxy.yaml").write_text(yaml.safe_dump(conf))
    probe = subprocess.run(
        [str(MAPPROXY_PYTHON), str(PROBE), "mapproxy.yaml"],
        input=json.dumps(REQUESTS),
        cwd=tmp_path / "mp",
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    theirs = json.loads(probe.stdout)
    decorated = Decorator(make_app(tmp_path, conf), lambda image: image)
    for (path, query), mapproxy in zip(REQUESTS, theirs, strict=True):
        assert mapproxy["status"].startswith("200"), (path, query)
        decorated.calls.clear()
        assert call(decorated, path, query)[0] == 200
        assert len(mapproxy["calls"]) == len(decorated.calls) == 1, (path, query)
        ours, expected = decorated.calls[0], mapproxy["calls"][0]
        assert ours["service"] == expected["service"]
        assert ours["layers"] == expected["layers"]
        assert list(ours["size"]) == expected["size"]
        code, bbox = ours["query_extent"]
        assert code == expected["query_extent"][0]
        assert list(bbox) == pytest.approx(
            expected["query_extent"][1], rel=1e-12, abs=1e-6
        ), (path, query)


def test_a_broken_callback_is_a_server_error_with_an_ogc_body(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, config(map_server))

    def fail(image: Image.Image) -> Image.Image:
        raise RuntimeError("secret detail")

    status, _, body = call(Decorator(app, fail), TMS)
    assert status == 500
    assert b"<TileMapServerError>" in body
    assert b"the decorate_img callback failed" in body
    assert b"secret detail" not in body
    assert b"Traceback" not in body
    status, _, body = call(Decorator(app, lambda image: None), WMTS_REST)
    assert status == 500
    assert b"returned NoneType, not an image" in body
    small = Decorator(app, lambda image: image.resize((10, 10)))
    status, _, body = call(small, *REQUESTS[3])
    assert status == 500
    assert b"ServiceException" in body
    assert b"returned a 10x10 image for a 200x100 one" in body
    # The cache is not harmed: the plain tile is there and served.
    assert call(app, TMS)[0] == 200


def test_a_tile_is_decorated_before_an_access_limit_cuts_it(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, config(map_server))
    plain = pixels(call(app, TMS)[2])
    # The tile spans x -15028131..-10018754: the limit keeps its left half.
    limit = {"geometry": [-20037508.34, -20037508.34, -12523442.71, 20037508.34]}
    decorated = Decorator(app)

    def limited(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ["mapproxy.authorize"] = lambda *args, **kw: {
            "authorized": "full",
            "limited_to": {**limit, "srs": "EPSG:3857"},
        }
        return decorated(environ, start_response)

    status, headers, body = call(limited, TMS)
    assert status == 200
    assert headers["Cache-Control"].startswith("private")
    with Image.open(io.BytesIO(body)) as image:
        cut = image.convert("RGBA")
    expected = mark(plain).convert("RGBA")
    assert cut.getpixel((5, 5)) == expected.getpixel((5, 5))  # the mark, kept
    assert cut.getpixel((100, 200)) == expected.getpixel((100, 200))
    assert cut.getchannel("A").getpixel((200, 100)) == 0  # beyond the limit: cut away
    assert len(decorated.calls) == 1
