"""OGC API bad requests (4xx with a JSON exception, never 500), access control, decoration."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from domain.errors import ConfigError
from entrypoints.app import TilegateApp
from tests.integration.ogcapi_support import ogcapi_app, ogcapi_conf
from tests.integration.test_app import make_app
from tests.mapserver import MapServer
from tests.wsgi_call import call

MAP = "/ogcapi/collections/osm/map"
TILE = "/ogcapi/collections/osm/map/tiles/WebMercatorQuad"


@pytest.fixture
def app(tmp_path: Path, map_server: MapServer) -> TilegateApp:
    return ogcapi_app(tmp_path, map_server)


@pytest.mark.parametrize(
    ("path", "query", "status", "code"),
    [
        (MAP, "bbox=a,b,c,d", 400, "InvalidParameterValue"),
        (MAP, "bbox=1,2,3", 400, "InvalidParameterValue"),
        (MAP, "bbox=10,0,0,10", 400, "InvalidParameterValue"),
        (MAP, "bbox=0,0,nan,10", 400, "InvalidParameterValue"),
        (MAP, "bbox=-1e308,-1e308,1e308,1e308", 400, "InvalidParameterValue"),
        (
            MAP,
            "bbox=0,90,10,95&crs=EPSG:3857",
            400,
            "InvalidParameterValue",
        ),
        (MAP, "crs=EPSG:999999", 400, "InvalidParameterValue"),
        (
            MAP,
            "crs=http://www.opengis.net/def/crs/EPSG/0/25832",
            400,
            "InvalidParameterValue",
        ),
        (MAP, "bbox=0,0,1,1&bbox-crs=EPSG:nope", 400, "InvalidParameterValue"),
        (MAP, "width=100000&height=100000", 400, "InvalidParameterValue"),
        (MAP, "width=0", 400, "InvalidParameterValue"),
        (MAP, "width=-5&height=x", 400, "InvalidParameterValue"),
        (MAP, "f=gif", 400, "InvalidParameterValue"),
        (MAP, "transparent=maybe", 400, "InvalidParameterValue"),
        (MAP, "bgcolor=red", 400, "InvalidParameterValue"),
        (MAP, "subset=Lat(0:10)", 400, "InvalidParameterValue"),
        ("/ogcapi/collections/nope/map", "", 404, "NotFound"),
        ("/ogcapi/collections/nope", "", 404, "NotFound"),
        ("/ogcapi/collections/nope/map/tiles", "", 404, "NotFound"),
        ("/ogcapi/map", "", 400, "MissingParameterValue"),
        ("/ogcapi/map", "collections=osm,nope", 404, "NotFound"),
        # As WMS GetMap: at most 100 layers, of at most 3 times max_output_pixels.
        (
            "/ogcapi/map",
            f"collections={',osm' * 101}&width=10",
            400,
            "InvalidParameterValue",
        ),
        (
            "/ogcapi/map",
            "collections=osm,geo,direct,osm&width=4000&height=4000",
            400,
            "InvalidParameterValue",
        ),
        (TILE + "/25/0/0.png", "", 404, "NotFound"),
        (TILE + "/1/2/0.png", "", 404, "NotFound"),
        (TILE + "/1/0/-1.png", "", 404, "NotFound"),
        (TILE + "/x/0/0.png", "", 400, "InvalidParameterValue"),
        (TILE + "/1/0/0.gif", "", 400, "InvalidParameterValue"),
        ("/ogcapi/collections/osm/map/tiles/Nope/0/0/0.png", "", 404, "NotFound"),
        ("/ogcapi/collections/osm/map/tiles/Nope", "", 404, "NotFound"),
        ("/ogcapi/tileMatrixSets/Nope", "", 404, "NotFound"),
        ("/ogcapi/collections", "f=xml", 400, "InvalidParameterValue"),
        ("/ogcapi/nothing/here", "", 404, "NotFound"),
    ],
)
def test_bad_requests_get_an_ogc_api_exception(
    app: TilegateApp, path: str, query: str, status: int, code: str
) -> None:
    answer = call(app, path, query)
    assert answer[0] == status, answer[2]
    assert answer[1]["Content-Type"] == "application/json"
    body = json.loads(answer[2])
    assert body["code"] == code
    assert body["description"]


def test_a_reflected_value_is_json_escaped(app: TilegateApp) -> None:
    status, _, body = call(app, '/ogcapi/collections/<script>"x', "")
    assert status == 404
    assert json.loads(body)["description"] == "unknown collection '<script>\"x'"


def test_an_unknown_map_srs_is_a_config_error(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = ogcapi_conf(map_server, map_srs=["EPSG:3857", "EPSG:nope"])
    with pytest.raises(ConfigError) as raised:
        make_app(tmp_path, conf)
    assert any("@ $.services.ogcapi.map_srs[1]" in p for p in raised.value.problems)


def test_default_dataset_layers_must_be_layers(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = ogcapi_conf(map_server, default_dataset_layers=["osm", "nope"])
    with pytest.raises(ConfigError) as raised:
        make_app(tmp_path, conf)
    assert any(
        "unknown layer 'nope' @ $.services.ogcapi.default_dataset_layers[1]" in p
        for p in raised.value.problems
    )


def guarded(
    app: TilegateApp, answer: dict[str, Any], calls: list[tuple[Any, ...]]
) -> Any:
    def callback(service: str, layers: list[str], **kw: Any) -> dict[str, Any]:
        calls.append((service, tuple(layers), kw.get("query_extent")))
        return answer

    def middleware(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ["mapproxy.authorize"] = callback
        return app(environ, start_response)

    return middleware


def test_the_authorize_callback_limits_collections_maps_and_tiles(
    app: TilegateApp,
) -> None:
    calls: list[tuple[Any, ...]] = []
    answer = {"authorized": "partial", "layers": {"osm": {"map": True, "tile": True}}}
    wrapped = guarded(app, answer, calls)
    body = json.loads(call(wrapped, "/ogcapi/collections")[2])
    assert [c["id"] for c in body["collections"]] == ["osm"]
    assert calls[0] == ("ogcapi", ("osm", "geo", "direct"), None)
    status, headers, _ = call(wrapped, "/ogcapi/collections/osm/map", "width=10")
    assert status == 200
    assert headers["Cache-Control"].startswith("private")
    assert calls[-1][0] == "ogcapi.map"
    assert call(wrapped, TILE + "/0/0/0.png")[0] == 200
    assert calls[-1][:2] == ("ogcapi.tile", ("osm",))
    assert calls[-1][2][0] == "EPSG:3857"
    for path in (
        "/ogcapi/collections/geo",
        "/ogcapi/collections/geo/map",
        "/ogcapi/collections/geo/map/tiles/GLOBAL_GEODETIC/0/0/0.png",
    ):
        status, _, body = call(wrapped, path)
        assert status == 403, path
        assert json.loads(body)["code"] == "Forbidden"
    assert call(wrapped, "/ogcapi/map", "collections=osm,geo&width=10")[0] == 403


def test_nobody_logged_in_is_a_401(app: TilegateApp) -> None:
    wrapped = guarded(app, {"authorized": "unauthenticated"}, [])
    status, _, body = call(wrapped, "/ogcapi/collections/osm/map")
    assert status == 401
    assert json.loads(body)["code"] == "Unauthorized"


def test_maps_and_tiles_are_decorated_by_decorate_img(app: TilegateApp) -> None:
    seen: list[tuple[str, list[str]]] = []

    def red(image: Any, service: str, layers: list[str], **kw: Any) -> Image.Image:
        seen.append((service, layers))
        return Image.new("RGBA", image.as_image().size, (255, 0, 0, 255))

    def middleware(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ["mapproxy.decorate_img"] = red
        return app(environ, start_response)

    for path, query in ((MAP, "width=20&height=10"), (TILE + "/1/0/0.png", "")):
        status, _, body = call(middleware, path, query)
        assert status == 200
        decoded = Image.open(io.BytesIO(body)).convert("RGBA")
        solid = Image.new("RGBA", decoded.size, (255, 0, 0, 255))
        assert ImageChops.difference(decoded, solid).getbbox() is None
    assert seen == [("ogcapi.map", ["osm"]), ("ogcapi.tile", ["osm"])]


def test_a_failing_upstream_is_a_502_exception_without_its_url(
    app: TilegateApp, map_server: MapServer
) -> None:
    map_server.add_fault("error")
    status, headers, body = call(app, TILE + "/2/1/1.png")
    assert status == 502, body
    assert headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert answer["code"] == "BadGateway"
    assert answer["description"]
    assert map_server.url.split("//")[1] not in answer["description"]
