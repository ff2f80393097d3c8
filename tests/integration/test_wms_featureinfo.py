"""WMS GetFeatureInfo and GetLegendGraphic in-process against the real map server."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from domain.srs import srs, transform_points
from entrypoints.app import TilegateApp
from tests.integration.test_app import make_app
from tests.integration.test_wms_service import exception_code, parse_xml, wms
from tests.mapserver import LEGEND_COLORS, LEGEND_SIZE, MapServer

WMS = "{http://www.opengis.net/wms}"
XLINK = "{http://www.w3.org/1999/xlink}href"
STATIC_COLOR = (250, 200, 0)


def source(server: MapServer, layers: str, supported: str, **opts: object) -> dict:
    return {
        "type": "wms",
        "req": {"url": f"{server.url}/service", "layers": layers},
        "supported_srs": [supported],
        "wms_opts": opts,
    }


def conf(server: MapServer, **wms_conf: object) -> dict[str, Any]:
    return {
        "services": {"wms": wms_conf},
        "layers": [
            {"name": "la", "title": "A", "sources": ["a"]},
            {"name": "lb", "title": "B (cached)", "sources": ["c"]},
            {"name": "both", "title": "Both", "sources": ["a", "c"]},
            {"name": "plain", "title": "Plain", "sources": ["p"]},
            {
                "name": "static",
                "title": "Static",
                "sources": ["a"],
                "legendurl": "file://legend.png",
            },
        ],
        "caches": {"c": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["b"]}},
        "sources": {
            "a": source(server, "a", "EPSG:4326", featureinfo=True, legendgraphic=True),
            "b": source(
                server,
                "b",
                "EPSG:3857",
                featureinfo=True,
                legendgraphic=True,
                version="1.3.0",
            ),
            "p": source(server, "x", "EPSG:3857"),
        },
    }


@pytest.fixture
def app(tmp_path: Path, map_server: MapServer) -> TilegateApp:
    Image.new("RGB", (8, 5), STATIC_COLOR).save(tmp_path / "legend.png")
    return make_app(tmp_path, conf(map_server))


def info(app: TilegateApp, **params: object) -> tuple[int, dict[str, str], bytes]:
    base: dict[str, object] = {
        "service": "WMS",
        "request": "GetFeatureInfo",
        "version": "1.1.1",
        "layers": "lb",
        "query_layers": "lb",
        "styles": "",
        "srs": "EPSG:3857",
        "bbox": "-10000000,-5000000,10000000,5000000",
        "width": 400,
        "height": 200,
        "format": "image/png",
        "x": 100,
        "y": 50,
    }
    return wms(app, "/service", **(base | params))


def fields(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split())


def test_featureinfo_is_forwarded_through_a_cache_with_the_source_version(
    app: TilegateApp, map_server: MapServer
) -> None:
    status, headers, body = info(app, feature_count=3)
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    got = fields(body.decode())
    assert got == {
        "layers": "b",
        "x": "100",
        "y": "50",
        "srs": "EPSG:3857",
        "bbox": "-10000000.0,-5000000.0,10000000.0,5000000.0",
        "size": "400x200",
        "count": "3",
    }
    (sent,) = map_server.requests
    # source b speaks 1.3.0: the pixel goes upstream as I/J
    assert sent.params["VERSION"] == "1.3.0"
    assert (sent.params["I"], sent.params["J"]) == ("100", "50")
    assert sent.params["INFO_FORMAT"] == "text/plain"


def test_featureinfo_130_reads_i_j_and_flips_lat_lon_bboxes(
    app: TilegateApp,
) -> None:
    status, _, body = info(
        app,
        version="1.3.0",
        query_layers="la",
        crs="EPSG:4326",
        bbox="-45,-90,45,90",
        width=200,
        height=100,
        i=150,
        j=20,
        x="",
        y="",
    )
    assert status == 200
    got = fields(body.decode())
    assert (got["x"], got["y"], got["srs"]) == ("150", "20", "EPSG:4326")
    assert got["bbox"] == "-90.0,-45.0,90.0,45.0"


def test_featureinfo_position_is_reprojected_into_the_source_srs(
    app: TilegateApp,
) -> None:
    # Layer la's source serves EPSG:4326 only; the request is in web mercator.
    bbox = (-2000000.0, 4000000.0, 3000000.0, 9000000.0)
    status, _, body = info(
        app,
        query_layers="la",
        bbox=",".join(map(str, bbox)),
        width=500,
        height=500,
        x=420,
        y=60,
    )
    assert status == 200
    got = fields(body.decode())
    assert got["srs"] == "EPSG:4326"
    assert got["size"] == "500x500"
    minx, miny, maxx, maxy = map(float, got["bbox"].split(","))
    assert miny < 4000000 / 111000 < maxy  # a geographic bbox around the request's
    # Where the queried pixel's centre lies, then which pixel of the forwarded map holds it.
    cx = bbox[0] + 420.5 * (bbox[2] - bbox[0]) / 500
    cy = bbox[3] - 60.5 * (bbox[3] - bbox[1]) / 500
    ((lon, lat),) = transform_points([(cx, cy)], srs("EPSG:3857"), srs("EPSG:4326"))
    expected = (
        int((lon - minx) / (maxx - minx) * 500),
        int((maxy - lat) / (maxy - miny) * 500),
    )
    assert (int(got["x"]), int(got["y"])) == expected
    assert expected[1] != 60  # the latitude stretch moved the row: the test can fail


def test_featureinfo_of_several_sources_is_merged_per_format(
    app: TilegateApp, map_server: MapServer
) -> None:
    status, _, body = info(app, query_layers="both")
    assert status == 200
    lines = body.decode().splitlines()
    assert [fields(line)["layers"] for line in lines] == ["a", "b"]
    status, headers, body = info(app, query_layers="la,lb", info_format="text/html")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert body.count(b"<body>") == 1
    assert body.count(b"<p>") == 2
    assert b"layers=a" in body
    assert b"layers=b" in body
    for fmt in ("text/xml", "application/vnd.ogc.gml"):
        status, _, body = info(app, query_layers="both", info_format=fmt)
        assert status == 200
        root = parse_xml(body)
        assert root.tag == "features"
        assert [f.get("layers") for f in root.findall("feature")] == ["a", "b"]
    assert len(map_server.requests) == 8


def test_capabilities_advertise_featureinfo_queryable_layers_and_legends(
    app: TilegateApp,
) -> None:
    status, _, body = wms(
        app, service="WMS", request="GetCapabilities", version="1.1.1"
    )
    assert status == 200
    root = parse_xml(body)
    formats = [f.text for f in root.findall("Capability/Request/GetFeatureInfo/Format")]
    assert formats == ["text/plain", "text/html", "text/xml", "application/vnd.ogc.gml"]
    layers = {
        layer.findtext("Name"): layer
        for layer in root.iter("Layer")
        if layer.findtext("Name")
    }
    assert {n for n, layer in layers.items() if layer.get("queryable") == "1"} == {
        "la",
        "lb",
        "both",
        "static",
    }
    legend = layers["both"].find("Style/LegendURL")
    assert legend is not None
    assert (legend.get("width"), legend.get("height")) == ("30", "24")
    resource = legend.find("OnlineResource")
    assert resource is not None
    href = resource.get(XLINK, "")
    assert "request=GetLegendGraphic" in href
    assert "layer=both" in href
    assert layers["plain"].find("Style") is None
    status, _, body = wms(
        app, service="WMS", request="GetCapabilities", version="1.3.0"
    )
    root = parse_xml(body)
    named = {layer.findtext(f"{WMS}Name"): layer for layer in root.iter(f"{WMS}Layer")}
    assert named["la"].get("queryable") == "1"
    assert named["plain"].get("queryable") is None
    assert root.find(f"{WMS}Capability/{WMS}Request/{WMS}GetFeatureInfo") is not None


def test_featureinfo_types_limit_the_offered_formats(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, conf(map_server, featureinfo_types=["html"]))
    status, headers, _ = info(app)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    status, _, body = info(app, info_format="text/plain")
    assert status == 400
    assert exception_code(body) == "InvalidFormat"


def legend(app: TilegateApp, **params: object) -> tuple[int, dict[str, str], bytes]:
    base: dict[str, object] = {
        "service": "WMS",
        "request": "GetLegendGraphic",
        "version": "1.1.1",
        "format": "image/png",
    }
    return wms(app, "/service", **(base | params))


def test_legends_of_a_layers_sources_are_stacked(
    app: TilegateApp, map_server: MapServer
) -> None:
    status, headers, body = legend(app, layer="both")
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(body)).convert("RGB")
    assert image.size == (LEGEND_SIZE[0], 2 * LEGEND_SIZE[1])
    assert image.getpixel((5, 5)) == LEGEND_COLORS["a"]
    assert image.getpixel((5, LEGEND_SIZE[1] + 5)) == LEGEND_COLORS["b"]
    sent = [r.params for r in map_server.requests]
    assert [(p["LAYER"], p["VERSION"]) for p in sent] == [
        ("a", "1.1.1"),
        ("b", "1.3.0"),
    ]
    assert "SLD_VERSION" in sent[1]


def test_a_layers_legendurl_replaces_its_sources_legends(
    app: TilegateApp, map_server: MapServer
) -> None:
    status, _, body = legend(app, layer="static", format="image/jpeg")
    assert status == 200
    image = Image.open(io.BytesIO(body))
    assert image.format == "JPEG"
    assert image.size == (8, 5)
    pixel = image.convert("RGB").getpixel((4, 2))
    assert isinstance(pixel, tuple)
    assert max(abs(a - b) for a, b in zip(pixel, STATIC_COLOR, strict=True)) < 8
    assert map_server.requests == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"x": ""}, "MissingParameterValue"),
        ({"x": 400}, "InvalidParameterValue"),
        ({"y": -1}, "InvalidParameterValue"),
        ({"y": "top"}, "InvalidParameterValue"),
        ({"version": "1.3.0", "crs": "EPSG:3857", "i": 5, "j": 200}, "InvalidPoint"),
        ({"query_layers": "plain"}, "LayerNotQueryable"),
        ({"query_layers": "nope"}, "LayerNotDefined"),
        ({"info_format": "image/png"}, "InvalidFormat"),
        ({"feature_count": "0"}, "InvalidParameterValue"),
        ({"bbox": "1,2,3"}, "InvalidParameterValue"),
    ],
)
def test_bad_featureinfo_requests_get_the_ogc_exception(
    app: TilegateApp, map_server: MapServer, params: dict[str, object], code: str
) -> None:
    status, _, body = info(app, **params)
    assert status == 400
    assert exception_code(body) == code
    assert map_server.requests == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"layer": "nope"}, "LayerNotDefined"),
        ({"layer": "plain"}, "LayerNotDefined"),
        ({"layer": ""}, "MissingParameterValue"),
        ({"layer": "la", "format": "image/bogus"}, "InvalidFormat"),
    ],
)
def test_bad_legend_requests_get_the_ogc_exception(
    app: TilegateApp, params: dict[str, object], code: str
) -> None:
    status, _, body = legend(app, **params)
    assert status == 400
    assert exception_code(body) == code


def test_legend_exception_in_130_format(app: TilegateApp) -> None:
    status, _, body = legend(app, version="1.3.0", layer="nope", sld_version="1.1.0")
    assert status == 400
    assert parse_xml(body).get("version") == "1.3.0"


def test_upstream_failures_are_502_and_not_cached(
    app: TilegateApp, map_server: MapServer
) -> None:
    map_server.add_fault(status=500, times=2)
    status, _, body = info(app)
    assert status == 502
    assert exception_code(body) is None
    status, _, _ = legend(app, layer="la")
    assert status == 502
    status, _, body = legend(app, layer="la")
    assert status == 200
    assert (
        Image.open(io.BytesIO(body)).convert("RGB").getpixel((1, 1))
        == LEGEND_COLORS["a"]
    )


def test_a_failing_legend_is_left_out_and_not_waited_for_again(
    app: TilegateApp, map_server: MapServer
) -> None:
    map_server.add_fault(status=500)
    _, _, body = wms(app, service="WMS", request="GetCapabilities", version="1.1.1")
    layers = {
        layer.findtext("Name"): layer
        for layer in parse_xml(body).iter("Layer")
        if layer.findtext("Name")
    }
    assert layers["both"].find("Style/LegendURL") is None
    asked = len(map_server.requests)
    assert asked > 0
    wms(app, service="WMS", request="GetCapabilities", version="1.1.1")
    assert len(map_server.requests) == asked  # the failure is remembered


def test_featureinfo_passes_through_a_cache_whose_source_is_a_cache(
    tmp_path: Path, map_server: MapServer
) -> None:
    # As MapProxy 7: the layer is queryable and the request reaches the WMS at the bottom.
    chained = conf(map_server)
    chained["layers"] = [{"name": "top", "title": "Top", "sources": ["upper"]}]
    chained["caches"] |= {
        "upper": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["middle"]},
        "middle": {"grids": ["GLOBAL_GEODETIC"], "sources": ["c"]},
    }
    app = make_app(tmp_path, chained)
    status, _, body = info(app, layers="top", query_layers="top")
    assert status == 200
    got = fields(body.decode())
    assert (got["layers"], got["srs"], got["x"], got["y"]) == (
        "b",
        "EPSG:3857",
        "100",
        "50",
    )
    (sent,) = map_server.requests
    assert sent.params["REQUEST"] == "GetFeatureInfo"
    capabilities = wms(app, service="WMS", request="GetCapabilities", version="1.1.1")
    queryable = {
        layer.findtext("Name"): layer.get("queryable")
        for layer in parse_xml(capabilities[2]).iter("Layer")
    }
    assert queryable["top"] == "1"
