"""WMTS GetFeatureInfo (KVP and RESTful) in-process against the real map server: what reaches
the upstream WMS, the capabilities, bad requests, layers without feature info, authorize."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from adapters.config import parse_config
from domain.errors import ConfigError
from domain.grid import TileCoord
from domain.grids import resolve_grids
from entrypoints.app import TilegateApp
from tests.integration.test_app import get, make_app
from tests.integration.test_ogcapi_errors_auth import guarded
from tests.mapserver import MapServer
from tests.wsgi_call import call

WMTS = "{http://www.opengis.net/wmts/1.0}"
OWS = "{http://www.opengis.net/ows/1.1}"
FORMATS = [
    {"mimetype": "text/plain", "suffix": "txt"},
    {"mimetype": "text/html", "suffix": "html"},
    {"mimetype": "application/vnd.ogc.gml", "suffix": "gml"},
]
FI_TEMPLATE = "/fi/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileRow}/{TileCol}/{J}/{I}/{Time}.{InfoFormat}"
WEBMERCATOR = resolve_grids({})["GLOBAL_WEBMERCATOR"]
# Level 2 of GLOBAL_WEBMERCATOR, column 2 and row 1 from the top: the tile north-east of 0,0.
TILE_BBOX = (0.0, 0.0, 10018754.171394622, 10018754.171394622)


def wms_source(server: MapServer, layers: str, **opts: object) -> dict[str, Any]:
    return {
        "type": "wms",
        "req": {"url": f"{server.url}/service", "layers": layers},
        "supported_srs": ["EPSG:3857"],
        "wms_opts": opts,
    }


def conf(server: MapServer, **wmts: object) -> dict[str, Any]:
    return {
        "services": {"wmts": {"featureinfo_formats": FORMATS, **wmts}},
        "layers": [
            {"name": "q", "title": "Queryable", "sources": ["qc"]},
            {"name": "nq", "title": "Not queryable", "sources": ["nqc"]},
            {"name": "both", "title": "Two sources", "sources": ["bc"]},
            {
                "name": "t",
                "title": "Timed",
                "sources": ["qc"],
                "dimensions": {"time": {"values": ["2020", "2021"], "default": "2021"}},
            },
        ],
        "caches": {
            "qc": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["a"]},
            "nqc": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["n"]},
            # A cache whose source is another cache: asked through both, as MapProxy does.
            "bc": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["qc", "b"]},
        },
        "sources": {
            "a": wms_source(server, "a", featureinfo=True),
            "b": wms_source(server, "b", featureinfo=True, version="1.3.0"),
            "n": wms_source(server, "n"),
        },
    }


@pytest.fixture
def app(tmp_path: Path, map_server: MapServer) -> TilegateApp:
    return make_app(tmp_path, conf(map_server))


def kvp(**params: object) -> str:
    base: dict[str, object] = {
        "SERVICE": "WMTS",
        "REQUEST": "GetFeatureInfo",
        "VERSION": "1.0.0",
        "LAYER": "q",
        "STYLE": "default",
        "TILEMATRIXSET": "GLOBAL_WEBMERCATOR",
        "TILEMATRIX": "02",
        "TILEROW": "1",
        "TILECOL": "2",
        "FORMAT": "image/png",
        "I": "10",
        "J": "20",
        "INFOFORMAT": "text/plain",
    }
    merged = {k: v for k, v in (base | params).items() if v is not None}
    return urlencode(merged)


def bbox(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def fields(body: bytes) -> dict[str, str]:
    return dict(part.split("=", 1) for part in body.decode().split())


def parse(body: bytes) -> ET.Element:
    return ET.fromstring(body)  # noqa: S314 - our own answer, in a test


def ows_exception(body: bytes) -> tuple[str | None, str | None]:
    root = parse(body)
    assert root.tag == f"{OWS}ExceptionReport"
    exc = root.find(f"{OWS}Exception")
    assert exc is not None
    return exc.get("exceptionCode"), exc.get("locator")


def test_kvp_featureinfo_asks_the_source_for_the_tile_and_pixel(
    app: TilegateApp, map_server: MapServer
) -> None:
    status, headers, body = get(app, "/service", kvp(FEATURE_COUNT=3))
    assert status == 200, body
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    (sent,) = map_server.requests
    assert sent.params["REQUEST"] == "GetFeatureInfo"
    assert bbox(sent.params["BBOX"]) == pytest.approx(TILE_BBOX)
    assert (sent.params["WIDTH"], sent.params["HEIGHT"]) == ("256", "256")
    assert (sent.params["X"], sent.params["Y"]) == ("10", "20")
    assert sent.params["INFO_FORMAT"] == "text/plain"
    assert sent.params["FEATURE_COUNT"] == "3"
    assert sent.params["SRS"] == "EPSG:3857"
    # The upstream's answer, as it was.
    assert fields(body) == {
        "layers": "a",
        "x": "10",
        "y": "20",
        "srs": "EPSG:3857",
        "bbox": sent.params["BBOX"],
        "size": "256x256",
        "count": "3",
    }


def test_infoformat_may_be_a_mime_type_or_a_suffix(
    app: TilegateApp, map_server: MapServer
) -> None:
    status, headers, body = get(app, "/service", kvp(INFOFORMAT="html"))
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert body.startswith(b"<html>")
    status, _, body = get(app, "/service", kvp(INFOFORMAT="application/vnd.ogc.gml"))
    assert status == 200
    assert parse(body).tag == "features"
    assert [r.params["INFO_FORMAT"] for r in map_server.requests] == [
        "text/html",
        "application/vnd.ogc.gml",
    ]


def test_rest_featureinfo_asks_for_the_same_tile_and_pixel(
    app: TilegateApp, map_server: MapServer
) -> None:
    status, headers, body = get(app, "/wmts/q/GLOBAL_WEBMERCATOR/02/2/1/10/20.txt")
    assert status == 200, body
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    got = fields(body)
    assert bbox(got["bbox"]) == pytest.approx(TILE_BBOX)
    assert (got["x"], got["y"]) == ("10", "20")
    status, headers, body = get(app, "/wmts/q/GLOBAL_WEBMERCATOR/3/7/0/255/0.html")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    last = map_server.requests[-1].params
    # Level 3, column 7, row 0: the top right tile.
    coord = TileCoord(7, 0, 3)
    if WEBMERCATOR.origin == "ll":
        coord = WEBMERCATOR.flip_y(coord)
    expected = WEBMERCATOR.tile_bbox(coord).as_tuple()
    assert expected[0] > 15_000_000
    assert expected[3] > 20_000_000
    assert bbox(last["BBOX"]) == pytest.approx(expected)
    assert (last["X"], last["Y"], last["INFO_FORMAT"]) == ("255", "0", "text/html")


def test_sources_behind_cached_caches_answer_merged(
    app: TilegateApp, map_server: MapServer
) -> None:
    status, _, body = get(app, "/service", kvp(LAYER="both"))
    assert status == 200
    lines = body.decode().splitlines()
    assert [fields(line.encode())["layers"] for line in lines] == ["a", "b"]
    sent = {r.params["QUERY_LAYERS"]: r.params for r in map_server.requests}
    # b speaks WMS 1.3.0: the pixel goes as I/J.
    assert (sent["b"]["I"], sent["b"]["J"]) == ("10", "20")
    assert (sent["a"]["X"], sent["a"]["Y"]) == ("10", "20")


def capabilities(app: TilegateApp, path: str, query: str = "") -> ET.Element:
    status, _, body = get(app, path, query)
    assert status == 200, body
    return parse(body)


def layer_element(root: ET.Element, name: str) -> ET.Element:
    for layer in root.iter(f"{WMTS}Layer"):
        if layer.findtext(f"{OWS}Identifier") == name:
            return layer
    raise AssertionError(f"no layer {name}")


def operations(root: ET.Element) -> list[str | None]:
    return [op.get("name") for op in root.iter(f"{OWS}Operation")]


def test_capabilities_offer_featureinfo_for_queryable_layers_only(
    app: TilegateApp,
) -> None:
    rest = capabilities(app, "/wmts/1.0.0/WMTSCapabilities.xml")
    kvp_caps = capabilities(app, "/service", "SERVICE=WMTS&REQUEST=GetCapabilities")
    for root in (rest, kvp_caps):
        assert operations(root) == ["GetCapabilities", "GetTile", "GetFeatureInfo"]
        for name in ("q", "both", "t"):
            layer = layer_element(root, name)
            assert [f.text for f in layer.findall(f"{WMTS}InfoFormat")] == [
                "text/plain",
                "text/html",
                "application/vnd.ogc.gml",
            ]
        assert layer_element(root, "nq").findall(f"{WMTS}InfoFormat") == []
    resources = {
        (r.get("resourceType"), r.get("format")): r.get("template")
        for r in layer_element(rest, "q").findall(f"{WMTS}ResourceURL")
    }
    base = "http://localhost:80/wmts/q/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}"
    assert resources == {
        ("tile", "image/png"): base + ".png",
        ("FeatureInfo", "text/plain"): base + "/{I}/{J}.txt",
        ("FeatureInfo", "text/html"): base + "/{I}/{J}.html",
        ("FeatureInfo", "application/vnd.ogc.gml"): base + "/{I}/{J}.gml",
    }
    types = [
        r.get("resourceType")
        for r in layer_element(rest, "nq").findall(f"{WMTS}ResourceURL")
    ]
    assert types == ["tile"]
    # WMTS orders a layer's elements: Format, then InfoFormat, then TileMatrixSetLink.
    tags = [child.tag for child in layer_element(rest, "q")]
    assert tags.index(f"{WMTS}Format") < tags.index(f"{WMTS}InfoFormat")
    assert tags.index(f"{WMTS}InfoFormat") < tags.index(f"{WMTS}TileMatrixSetLink")


def test_without_featureinfo_formats_nothing_is_offered_and_requests_are_400(
    tmp_path: Path, map_server: MapServer
) -> None:
    plain = conf(map_server)
    del plain["services"]["wmts"]["featureinfo_formats"]
    app = make_app(tmp_path, plain)
    root = capabilities(app, "/wmts/1.0.0/WMTSCapabilities.xml")
    assert operations(root) == ["GetCapabilities", "GetTile"]
    assert not list(root.iter(f"{WMTS}InfoFormat"))
    types = {r.get("resourceType") for r in root.iter(f"{WMTS}ResourceURL")}
    assert types == {"tile"}
    status, _, body = get(app, "/service", kvp())
    assert status == 400
    assert ows_exception(body) == ("InvalidParameterValue", "infoformat")
    status, _, body = get(app, "/wmts/q/GLOBAL_WEBMERCATOR/02/2/1/10/20.txt")
    assert status == 400
    assert ows_exception(body)[0] == "InvalidParameterValue"
    assert map_server.requests == []


def test_restful_featureinfo_template_with_a_dimension(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, conf(map_server, restful_featureinfo_template=FI_TEMPLATE))
    rest = capabilities(app, "/wmts/1.0.0/WMTSCapabilities.xml")
    templates = [
        r.get("template")
        for r in layer_element(rest, "t").findall(f"{WMTS}ResourceURL")
        if r.get("resourceType") == "FeatureInfo"
    ]
    assert templates[0] == (
        "http://localhost:80/wmts/fi/t/{TileMatrixSet}/{TileMatrix}/{TileRow}/{TileCol}"
        "/{J}/{I}/{Time}.txt"
    )
    status, _, body = get(app, "/wmts/fi/t/GLOBAL_WEBMERCATOR/02/1/2/20/10/2020.gml")
    assert status == 200, body
    feature = parse(body).find("feature")
    assert feature is not None
    assert (feature.get("x"), feature.get("y")) == ("10", "20")
    assert bbox(feature.get("bbox") or "") == pytest.approx(TILE_BBOX)
    # A layer without the dimension takes `default` only, as for tiles; a value the
    # layer does not offer is a 400 too.
    assert get(app, "/wmts/fi/q/GLOBAL_WEBMERCATOR/02/1/2/20/10/default.txt")[0] == 200
    for path in (
        "/wmts/fi/q/GLOBAL_WEBMERCATOR/02/1/2/20/10/2020.txt",
        "/wmts/fi/t/GLOBAL_WEBMERCATOR/02/1/2/20/10/1999.txt",
    ):
        status, _, body = get(app, path)
        assert status == 400, path
        assert ows_exception(body)[0] == "InvalidParameterValue"
    assert len(map_server.requests) == 2
    # Tiles still come from the tile template.
    assert get(app, "/wmts/q/GLOBAL_WEBMERCATOR/0/0/0.png")[0] == 200


BAD_KVP = [
    ({"I": None}, 400, "MissingParameterValue", "i"),
    ({"STYLE": None}, 400, "MissingParameterValue", "style"),
    ({"FORMAT": None}, 400, "MissingParameterValue", "format"),
    ({"INFOFORMAT": None}, 400, "MissingParameterValue", "infoformat"),
    ({"INFOFORMAT": "text/xml"}, 400, "InvalidParameterValue", "infoformat"),
    ({"I": "256"}, 400, "PointIJOutOfRange", "i"),
    ({"J": "-1"}, 400, "PointIJOutOfRange", "j"),
    ({"I": "abc"}, 400, "InvalidParameterValue", "i"),
    ({"TILEMATRIX": "25"}, 400, "InvalidParameterValue", "tilematrix"),
    ({"TILECOL": "4"}, 400, "TileOutOfRange", "tilecol"),
    ({"TILEROW": "x"}, 400, "InvalidParameterValue", "tilerow"),
    ({"LAYER": "nope"}, 400, "InvalidParameterValue", "layer"),
    ({"TILEMATRIXSET": "nope"}, 400, "InvalidParameterValue", "tilematrixset"),
    ({"FEATURE_COUNT": "0"}, 400, "InvalidParameterValue", "feature_count"),
    ({"LAYER": "t", "TIME": "1999"}, 400, "InvalidParameterValue", "time"),
    ({"LAYER": "nq"}, 400, "OperationNotSupported", "layer"),
]


@pytest.mark.parametrize(("params", "status", "code", "locator"), BAD_KVP)
def test_bad_kvp_requests_are_400_with_an_ows_exception(
    app: TilegateApp,
    map_server: MapServer,
    params: dict[str, object],
    status: int,
    code: str,
    locator: str,
) -> None:
    got, headers, body = get(app, "/service", kvp(**params))
    assert got == status
    assert headers["Content-Type"] == "application/xml"
    assert ows_exception(body) == (code, locator)
    assert map_server.requests == []


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/wmts/q/GLOBAL_WEBMERCATOR/02/2/1/10/20.xml", "InvalidParameterValue"),
        ("/wmts/q/GLOBAL_WEBMERCATOR/02/2/1/300/20.txt", "PointIJOutOfRange"),
        ("/wmts/q/GLOBAL_WEBMERCATOR/02/2/1/x/20.txt", "InvalidParameterValue"),
        ("/wmts/q/GLOBAL_WEBMERCATOR/02/7/1/10/20.txt", "TileOutOfRange"),
        ("/wmts/zz/GLOBAL_WEBMERCATOR/02/2/1/10/20.txt", "InvalidParameterValue"),
        ("/wmts/nq/GLOBAL_WEBMERCATOR/02/2/1/10/20.txt", "OperationNotSupported"),
    ],
)
def test_bad_rest_requests_are_400_with_an_ows_exception(
    app: TilegateApp, map_server: MapServer, path: str, code: str
) -> None:
    status, _, body = get(app, path)
    assert status == 400
    assert ows_exception(body)[0] == code
    assert map_server.requests == []


def test_a_failing_upstream_is_a_502(app: TilegateApp, map_server: MapServer) -> None:
    map_server.add_fault(status=500)
    status, _, body = get(app, "/service", kvp())
    assert status == 502
    assert ows_exception(body)[0] == "NoApplicableCode"


def test_authorize_is_asked_about_wmts_featureinfo(
    app: TilegateApp, map_server: MapServer
) -> None:
    calls: list[Any] = []
    tiles_only = {"authorized": "partial", "layers": {"q": {"tile": True}}}
    wrapped = guarded(app, tiles_only, calls)
    status, _, body = call(wrapped, "/service", kvp())
    assert status == 403
    assert ows_exception(body)[0] == "NoApplicableCode"
    status, _, _ = call(wrapped, "/wmts/q/GLOBAL_WEBMERCATOR/02/2/1/10/20.txt")
    assert status == 403
    service, layers, (srs_code, extent) = calls[0]
    assert (service, layers, srs_code) == ("wmts.featureinfo", ("q",), "EPSG:3857")
    assert extent == pytest.approx(TILE_BBOX)
    assert map_server.requests == []
    allowed = {"authorized": "partial", "layers": {"q": {"featureinfo": True}}}
    assert call(guarded(app, allowed, calls), "/service", kvp())[0] == 200
    assert (
        call(guarded(app, {"authorized": "unauthenticated"}, calls), "/service", kvp())[
            0
        ]
        == 401
    )
    assert len(map_server.requests) == 1


def test_a_pixel_outside_limited_to_has_no_features(
    app: TilegateApp, map_server: MapServer
) -> None:
    # The tile spans 0..10018754 m both ways; the permitted area is its west half.
    limited = {
        "authorized": "partial",
        "layers": {
            "q": {
                "featureinfo": True,
                "limited_to": {
                    "geometry": [0, 0, 5009377, 10018754],
                    "srs": "EPSG:3857",
                },
            }
        },
    }
    wrapped = guarded(app, limited, [])
    status, _, body = call(wrapped, "/service", kvp(I="10"))
    assert status == 200
    assert fields(body)["x"] == "10"
    status, headers, body = call(wrapped, "/service", kvp(I="200"))
    assert status == 200
    assert body == b""
    assert headers["Content-Type"].startswith("text/plain")
    assert len(map_server.requests) == 1


@pytest.mark.parametrize(
    ("wmts", "problem"),
    [
        (
            {"featureinfo_formats": [{"mimetype": "text/plain"}]},
            "required field missing @ $.services.wmts.featureinfo_formats[0].suffix",
        ),
        (
            {"restful_featureinfo_template": "/{Layer}/{TileMatrixSet}.{InfoFormat}"},
            "restful_featureinfo_template must name {TileMatrix}, {TileCol}, {TileRow}, {I}, {J}",
        ),
    ],
)
def test_bad_featureinfo_keys_are_config_errors(
    tmp_path: Path, map_server: MapServer, wmts: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        make_app(tmp_path, conf(map_server, **wmts))
    assert any(problem in p for p in raised.value.problems), raised.value.problems


def test_the_keys_are_read_not_warned_about(map_server: MapServer) -> None:
    loaded = parse_config(
        conf(map_server, restful_featureinfo_template=FI_TEMPLATE), "mapproxy.yaml"
    )
    assert loaded.warnings == ()
    wmts = loaded.conf.services.wmts
    assert wmts is not None
    assert [(f.mimetype, f.suffix) for f in wmts.featureinfo_formats] == [
        (f["mimetype"], f["suffix"]) for f in FORMATS
    ]
    assert wmts.restful_featureinfo_template == FI_TEMPLATE


def test_a_tile_template_as_long_as_the_featureinfo_one_still_serves_tiles(
    tmp_path: Path, map_server: MapServer
) -> None:
    # Both templates have seven parts and an extension.
    tiles = (
        "/{Layer}/{TileMatrixSet}/{Time}/{TileMatrix}/{TileCol}/{TileRow}/x.{Format}"
    )
    app = make_app(tmp_path, conf(map_server, restful_template=tiles))
    status, headers, _ = get(app, "/wmts/t/GLOBAL_WEBMERCATOR/2020/02/2/1/x.png")
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    status, _, body = get(app, "/wmts/t/GLOBAL_WEBMERCATOR/02/2/1/10/20.txt")
    assert status == 200
    assert fields(body)["x"] == "10"
    assert [r.params["REQUEST"] for r in map_server.requests] == [
        "GetMap",
        "GetFeatureInfo",
    ]


def test_a_url_both_templates_match_is_feature_info_when_it_ends_in_an_info_suffix(
    tmp_path: Path, map_server: MapServer
) -> None:
    # Seven parts each: '/t/GLOBAL_WEBMERCATOR/02/2/1/10/20.txt' is a tile (Time 02,
    # Style 20, Format txt) and a feature info URL; the configured suffix decides.
    tiles = "/{Layer}/{TileMatrixSet}/{Time}/{TileMatrix}/{TileCol}/{TileRow}/{Style}.{Format}"
    app = make_app(tmp_path, conf(map_server, restful_template=tiles))
    status, _, body = get(app, "/wmts/t/GLOBAL_WEBMERCATOR/02/2/1/10/20.txt")
    assert status == 200, body
    assert (fields(body)["x"], fields(body)["y"]) == ("10", "20")
    status, headers, _ = get(app, "/wmts/t/GLOBAL_WEBMERCATOR/2020/02/2/1/default.png")
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert [r.params["REQUEST"] for r in map_server.requests] == [
        "GetFeatureInfo",
        "GetMap",
    ]


def test_a_featureinfo_template_without_infoformat_serves_the_first_format(
    tmp_path: Path, map_server: MapServer
) -> None:
    template = "/info/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}/{I}/{J}"
    app = make_app(tmp_path, conf(map_server, restful_featureinfo_template=template))
    status, headers, body = get(app, "/wmts/info/q/GLOBAL_WEBMERCATOR/02/2/1/10/20")
    assert status == 200, body
    assert headers["Content-Type"].startswith(FORMATS[0]["mimetype"])
    assert (fields(body)["x"], fields(body)["y"]) == ("10", "20")
    assert [r.params["INFO_FORMAT"] for r in map_server.requests] == ["text/plain"]
