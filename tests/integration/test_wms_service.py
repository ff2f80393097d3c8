"""The WMS service in-process against the real map server: capabilities, GetMap, exceptions."""

from __future__ import annotations

import io
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pytest
from PIL import Image

from domain.srs import srs, transform_points
from entrypoints.app import TilegateApp
from tests.integration.test_app import get, make_app
from tests.mapserver import WEBMERCATOR_EXTENT, MapServer, render

WMS = "{http://www.opengis.net/wms}"
OGC = "{http://www.opengis.net/ogc}"


def wms_conf(server: MapServer, **wms: object) -> dict[str, Any]:
    upstream = {
        "type": "wms",
        "req": {"url": f"{server.url}/service", "layers": "x"},
        "supported_srs": ["EPSG:3857"],
    }
    return {
        "services": {"wms": {"md": {"title": "Maps <&> co"}, **wms}},
        "globals": {"image": {"paletted": False}},
        "layers": [
            {"name": "cached", "title": "Cached", "sources": ["c"]},
            {"name": "direct", "title": "Direct", "sources": ["w"]},
            {
                "name": "group",
                "title": "Group",
                "layers": [{"name": "g1", "title": "G1", "sources": ["c"]}],
            },
            {
                "title": "Unnamed",
                "layers": [{"name": "u1", "title": "U1", "sources": ["w"]}],
            },
        ],
        "caches": {
            "c": {
                "grids": ["GLOBAL_WEBMERCATOR"],
                "sources": ["w"],
                "meta_size": [2, 2],
                "meta_buffer": 0,
            }
        },
        "sources": {"w": upstream},
    }


@pytest.fixture
def app(tmp_path: Path, map_server: MapServer) -> TilegateApp:
    return make_app(tmp_path, wms_conf(map_server))


def wms(
    app: TilegateApp, path: str = "/service", **params: object
) -> tuple[int, dict[str, str], bytes]:
    return get(app, path, urlencode({k.upper(): str(v) for k, v in params.items()}))


def getmap(app: TilegateApp, **params: object) -> tuple[int, dict[str, str], bytes]:
    base: dict[str, object] = {
        "service": "WMS",
        "request": "GetMap",
        "version": "1.1.1",
        "layers": "cached",
        "styles": "",
        "srs": "EPSG:3857",
        "bbox": "-10000000,-5000000,10000000,5000000",
        "width": 400,
        "height": 200,
        "format": "image/png",
    }
    return wms(app, "/service", **(base | params))


def truth(
    bbox: tuple[float, float, float, float], code: str, size: tuple[int, int]
) -> np.ndarray:
    """The map server's web mercator pixels, seen at the pixel centres of bbox in code."""
    minx, miny, maxx, maxy = bbox
    xs = minx + (np.arange(size[0]) + 0.5) / size[0] * (maxx - minx)
    ys = maxy - (np.arange(size[1]) + 0.5) / size[1] * (maxy - miny)
    gx, gy = np.meshgrid(xs, ys)
    points = transform_points(
        list(zip(gx.ravel(), gy.ravel(), strict=True)), srs(code), srs("EPSG:3857")
    )
    merc = np.array(points).reshape(size[1], size[0], 2)
    span = 2 * WEBMERCATOR_EXTENT
    red = np.clip(np.floor(256 * (merc[..., 0] + WEBMERCATOR_EXTENT) / span), 0, 255)
    green = np.clip(np.floor(256 * (merc[..., 1] + WEBMERCATOR_EXTENT) / span), 0, 255)
    return np.stack([red, green, np.full_like(red, 128)], -1)


def psnr(data: bytes, expected: np.ndarray) -> float:
    got = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(float)
    mse = float(((got - expected) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def parse_xml(body: bytes) -> ET.Element:
    return ET.fromstring(body)  # noqa: S314 - our own answer, in a test


def exception_code(body: bytes) -> str | None:
    root = parse_xml(body)
    element = root.find(f"{OGC}ServiceException")
    if element is None:
        element = root.find("ServiceException")
    assert element is not None
    return element.get("code")


# Capabilities


def test_capabilities_111_list_the_layer_tree_with_escaped_metadata(
    app: TilegateApp,
) -> None:
    status, headers, body = wms(
        app, service="WMS", request="GetCapabilities", version="1.1.1"
    )
    assert status == 200
    assert headers["Content-Type"] == "application/vnd.ogc.wms_xml"
    assert "X-Forwarded-Host" in headers["Vary"]
    assert b"Maps &lt;&amp;&gt; co" in body
    root = parse_xml(body)
    assert root.get("version") == "1.1.1"
    top = root.find("Capability/Layer")
    assert top is not None
    assert [e.text for e in top.findall("SRS")] == [
        "EPSG:4326",
        "EPSG:4258",
        "CRS:84",
        "EPSG:900913",
        "EPSG:3857",
    ]
    names = [e.text for e in root.iter("Name")]
    assert names == ["OGC:WMS", "cached", "direct", "group", "g1", "u1"]
    unnamed = [layer for layer in top.findall("Layer") if layer.find("Name") is None]
    assert [u.findtext("Title") for u in unnamed] == ["Unnamed"]
    cached = next(
        layer for layer in root.iter("Layer") if layer.findtext("Name") == "cached"
    )
    latlon = cached.find("LatLonBoundingBox")
    assert latlon is not None
    assert float(latlon.get("minx", "0")) == pytest.approx(-180)
    assert float(latlon.get("maxy", "0")) == pytest.approx(85.0511, abs=1e-3)
    merc = cached.find("BoundingBox[@SRS='EPSG:3857']")
    assert merc is not None
    assert float(merc.get("maxx", "0")) == pytest.approx(WEBMERCATOR_EXTENT)
    formats = [e.text for e in root.findall("Capability/Request/GetMap/Format")]
    assert formats == ["image/png", "image/jpeg", "image/gif", "image/tiff"]


def test_capabilities_130_use_lat_lon_order_for_epsg_4326(app: TilegateApp) -> None:
    status, _, body = wms(
        app, service="WMS", request="GetCapabilities", version="1.3.0"
    )
    assert status == 200
    root = parse_xml(body)
    assert root.tag == f"{WMS}WMS_Capabilities"
    cached = next(
        layer
        for layer in root.iter(f"{WMS}Layer")
        if layer.findtext(f"{WMS}Name") == "cached"
    )
    geo = cached.find(f"{WMS}BoundingBox[@CRS='EPSG:4326']")
    assert geo is not None
    # minx is the latitude in 1.3.0
    assert float(geo.get("minx", "0")) == pytest.approx(-85.0511, abs=1e-3)
    assert float(geo.get("miny", "0")) == pytest.approx(-180)
    assert root.findtext(f"{WMS}Service/{WMS}MaxWidth") == "4000"
    assert cached.find(f"{WMS}EX_GeographicBoundingBox") is not None


def test_version_negotiation_answers_the_highest_version_not_above_the_asked_one(
    app: TilegateApp,
) -> None:
    def version(asked: str | None) -> str | None:
        params = {"service": "WMS", "request": "GetCapabilities"}
        if asked:
            params["version"] = asked
        return parse_xml(wms(app, **params)[2]).get("version")

    assert version(None) == "1.3.0"
    assert version("1.3.0") == "1.3.0"
    assert version("1.2.0") == "1.1.1"
    assert version("2.0.0") == "1.3.0"
    assert version("0.9.0") == "1.0.0"  # below all: the lowest offered


def test_capabilities_urls_follow_the_proxy_headers(app: TilegateApp) -> None:
    environ_query = urlencode(
        {"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.1.1"}
    )
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"] = status

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/service",
        "QUERY_STRING": environ_query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "HTTP_X_FORWARDED_HOST": "maps.example.org",
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_X_SCRIPT_NAME": "/proxy",
    }
    body = b"".join(app(environ, start_response))
    hrefs = {
        e.get("{http://www.w3.org/1999/xlink}href")
        for e in parse_xml(body).iter("OnlineResource")
    }
    assert hrefs == {
        "https://maps.example.org/proxy/service",
        "https://maps.example.org/proxy/service?",
    }


def test_wms_requests_without_service_and_the_wms_path_reach_the_wms(
    app: TilegateApp,
) -> None:
    assert wms(app, request="GetCapabilities")[0] == 200
    status, _, body = wms(app, "/wms", request="GetCapabilities", version="1.1.1")
    assert status == 200
    assert b"WMT_MS_Capabilities" in body


# GetMap


def test_getmap_from_the_cache_in_its_own_srs_matches_the_source(
    app: TilegateApp,
) -> None:
    bbox = (-10e6, -5e6, 10e6, 5e6)
    status, headers, body = getmap(app)
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert psnr(body, truth(bbox, "EPSG:3857", (400, 200))) > 25


@pytest.mark.parametrize(
    ("version", "bbox_param"),
    [("1.1.1", "-60,-40,60,40"), ("1.3.0", "-40,-60,40,60")],
)
def test_getmap_reprojected_to_epsg_4326_matches_ground_truth(
    app: TilegateApp, version: str, bbox_param: str
) -> None:
    key = "crs" if version == "1.3.0" else "srs"
    status, _, body = getmap(
        app,
        version=version,
        bbox=bbox_param,
        width=300,
        height=200,
        **{key: "EPSG:4326"},
    )
    assert status == 200, body
    assert psnr(body, truth((-60, -40, 60, 40), "EPSG:4326", (300, 200))) > 25


def test_a_direct_source_is_asked_in_its_supported_srs_and_warped(
    app: TilegateApp, map_server: MapServer
) -> None:
    status, _, body = getmap(
        app,
        layers="direct",
        srs="EPSG:4326",
        bbox="-60,-40,60,40",
        width=300,
        height=200,
    )
    assert status == 200
    assert [r.params["SRS"] for r in map_server.requests] == ["EPSG:3857"]
    assert psnr(body, truth((-60, -40, 60, 40), "EPSG:4326", (300, 200))) > 25


def test_a_direct_source_in_the_requested_srs_is_passed_through(
    app: TilegateApp, map_server: MapServer
) -> None:
    status, _, body = getmap(app, layers="direct")
    assert status == 200
    (asked,) = map_server.requests
    assert asked.params["BBOX"] == "-10000000.0,-5000000.0,10000000.0,5000000.0"
    expected = np.asarray(render((-10e6, -5e6, 10e6, 5e6), (400, 200), "EPSG:3857"))
    assert psnr(body, expected.astype(float)) == math.inf


def test_a_group_draws_its_named_children(app: TilegateApp) -> None:
    assert getmap(app, layers="group")[2] == getmap(app, layers="g1")[2]


@pytest.mark.parametrize(
    ("fmt", "mime", "mode"),
    [
        ("image/png", "image/png", "RGB"),
        ("image/png; mode=8bit", "image/png", "P"),
        ("png8", "image/png", "P"),
        ("image/jpeg", "image/jpeg", "RGB"),
        ("image/gif", "image/gif", "P"),
        ("image/tiff", "image/tiff", "RGB"),
    ],
)
def test_getmap_formats(app: TilegateApp, fmt: str, mime: str, mode: str) -> None:
    status, headers, body = getmap(app, format=fmt)
    assert status == 200
    assert headers["Content-Type"] == mime
    image = Image.open(io.BytesIO(body))
    assert image.size == (400, 200)
    assert image.mode == mode


def test_transparent_keeps_alpha_outside_the_data_and_bgcolor_fills_it(
    app: TilegateApp,
) -> None:
    # The cache's grid ends at 85.05° north: the top of this bbox has no data.
    args = {"srs": "EPSG:4326", "bbox": "0,80,10,90", "width": 100, "height": 100}
    _, _, body = getmap(app, transparent="TRUE", **args)
    assert Image.open(io.BytesIO(body)).convert("RGBA").getpixel((50, 2)) == (
        0,
        0,
        0,
        0,
    )
    _, _, body = getmap(app, bgcolor="0x102030", **args)
    assert Image.open(io.BytesIO(body)).convert("RGBA").getpixel((50, 2)) == (
        16,
        32,
        48,
        255,
    )


# Bad input


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"width": 5000, "height": 5000}, "InvalidParameterValue"),
        ({"width": 0}, "InvalidParameterValue"),
        ({"height": -3}, "InvalidParameterValue"),
        ({"width": "abc"}, "InvalidParameterValue"),
        ({"bbox": "10,0,-10,5"}, "InvalidParameterValue"),
        ({"bbox": "nan,0,1,1"}, "InvalidParameterValue"),
        ({"bbox": "-inf,0,1,1"}, "InvalidParameterValue"),
        ({"bbox": "1,2,3"}, "InvalidParameterValue"),
        ({"bbox": "%ZZ,1,2,3"}, "InvalidParameterValue"),
        ({"srs": "EPSG:999999"}, "InvalidSRS"),
        ({"srs": "EPSG:25832"}, "InvalidSRS"),
        ({"layers": "nope"}, "LayerNotDefined"),
        ({"styles": "fancy"}, "StyleNotDefined"),
        ({"format": "image/bmp"}, "InvalidFormat"),
        ({"bgcolor": "red"}, "InvalidParameterValue"),
        ({"layers": ""}, "MissingParameterValue"),
        ({"bbox": ""}, "MissingParameterValue"),
        ({"format": ""}, "MissingParameterValue"),
    ],
)
def test_bad_getmap_input_is_a_400_with_its_ogc_code(
    app: TilegateApp, params: dict[str, object], code: str
) -> None:
    status, headers, body = getmap(app, **params)
    assert status == 400
    assert headers["Content-Type"] == "application/vnd.ogc.se_xml"
    assert exception_code(body) == code


def test_130_exceptions_use_the_130_schema_and_invalid_crs(app: TilegateApp) -> None:
    status, headers, body = getmap(app, version="1.3.0", crs="EPSG:999999")
    assert status == 400
    assert headers["Content-Type"].startswith("text/xml")
    root = parse_xml(body)
    assert root.tag == f"{OGC}ServiceExceptionReport"
    assert root.get("version") == "1.3.0"
    assert exception_code(body) == "InvalidCRS"


@pytest.mark.parametrize(
    ("layers", "bbox", "code"),
    [
        ("%FF%FE", "0,0,1,1", "LayerNotDefined"),
        ("cached", "%ZZ,0,1,1", "InvalidParameterValue"),
        ("cached", "0%2C0%2C1%2C%FF", "InvalidParameterValue"),
    ],
)
def test_undecodable_percent_escapes_are_a_400(
    app: TilegateApp, layers: str, bbox: str, code: str
) -> None:
    status, _, body = get(
        app,
        "/service",
        f"SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&LAYERS={layers}&STYLES=&SRS=EPSG:3857"
        f"&BBOX={bbox}&WIDTH=10&HEIGHT=10&FORMAT=image/png",
    )
    assert status == 400
    assert exception_code(body) == code


def test_reflected_values_are_escaped(app: TilegateApp) -> None:
    status, _, body = getmap(app, layers="<script>alert(1)</script>")
    assert status == 400
    assert b"<script>" not in body
    assert b"&lt;script&gt;" in body


def test_missing_request_and_unknown_operations(app: TilegateApp) -> None:
    status, _, body = wms(app, service="WMS")
    assert (status, exception_code(body)) == (400, "MissingParameterValue")
    status, _, body = wms(app, service="WMS", request="GetCoffee")
    assert (status, exception_code(body)) == (400, "OperationNotSupported")


@pytest.mark.parametrize(
    ("exceptions", "transparent", "pixel"),
    [
        ("application/vnd.ogc.se_blank", "FALSE", (255, 255, 255, 255)),
        ("BLANK", "TRUE", (0, 0, 0, 0)),
    ],
)
def test_blank_exceptions_are_images_of_the_requested_size(
    app: TilegateApp, exceptions: str, transparent: str, pixel: tuple[int, ...]
) -> None:
    status, headers, body = getmap(
        app, layers="nope", exceptions=exceptions, transparent=transparent
    )
    assert status == 400
    assert headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(body)).convert("RGBA")
    assert image.size == (400, 200)
    assert image.getpixel((200, 100)) == pixel


def test_inimage_exceptions_draw_the_message_and_stay_bounded(app: TilegateApp) -> None:
    status, headers, body = getmap(
        app, width=100000, height=100000, exceptions="application/vnd.ogc.se_inimage"
    )
    assert status == 400
    assert headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(body)).convert("RGB")
    assert image.size == (256, 256)  # not the huge size asked for
    assert len(image.getcolors(256 * 256) or []) > 1  # the message is drawn


# Upstream failures


def test_a_failing_source_is_a_502_and_nothing_is_cached(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, wms_conf(map_server, on_source_errors="raise"))
    map_server.add_fault("error")
    status, _, body = getmap(app)
    assert status == 502
    assert exception_code(body) is None  # NoApplicableCode has no code attribute
    assert not list((tmp_path / "cache_data").rglob("*.png"))


def test_notify_draws_the_error_when_other_sources_answered(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = wms_conf(map_server)
    conf["sources"]["dbg"] = {"type": "debug"}
    conf["layers"].append({"name": "dbg", "title": "Debug", "sources": ["dbg"]})
    app = make_app(tmp_path, conf)
    map_server.add_fault("garbage")
    status, headers, _ = getmap(app, layers="direct,dbg")
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    # Everything failed: an exception even when notifying.
    status, _, _ = getmap(app, layers="direct")
    assert status == 502


def test_a_group_over_a_utm_cache_and_a_world_wide_one_covers_the_world(
    tmp_path: Path,
) -> None:
    # The world in a UTM zone's coordinates does not exist: the group's area is worked out
    # on the globe (this configuration stopped the start with "coverage is empty").
    utm = [-46133.17, 5048875.26857567, 1206211.10142433, 6301219.54]
    conf = {
        "services": {"wms": {"srs": ["EPSG:4326", "EPSG:25832"]}},
        "grids": {"utm": {"srs": "EPSG:25832", "bbox": utm, "bbox_srs": "EPSG:25832"}},
        "sources": {"d": {"type": "debug"}},
        "caches": {
            "a": {"sources": ["d"], "grids": ["utm"]},
            "b": {"sources": ["d"], "grids": ["GLOBAL_GEODETIC"]},
        },
        "layers": [
            {
                "name": "root",
                "title": "Root",
                "layers": [
                    {"name": "a", "title": "A", "sources": ["a"]},
                    {"name": "b", "title": "B", "sources": ["b"]},
                ],
            }
        ],
    }
    app = make_app(tmp_path, conf)
    status, _, body = get(
        app, "/service", "SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.1.1"
    )
    assert status == 200
    root = parse_xml(body).find("Capability/Layer/LatLonBoundingBox")
    assert root is not None
    assert [
        round(float(root.get(k, "nan"))) for k in ("minx", "miny", "maxx", "maxy")
    ] == [
        -180,
        -90,
        180,
        90,
    ]
