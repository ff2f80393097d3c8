"""WMS 1.0.0 and 1.1.0 as MapProxy 7 serves them, version negotiation, and `bbox_srs` with bboxes."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from adapters.config import parse_config
from domain.errors import ConfigError
from entrypoints.app import TilegateApp
from tests.integration.test_app import make_app
from tests.integration.test_wms_service import parse_xml, wms

WMS = "{http://www.opengis.net/wms}"
UTM = [100000.0, 5000000.0, 900000.0, 6500000.0]


def conf(**wms_conf: object) -> dict[str, Any]:
    return {
        "services": {
            "wms": {
                "srs": ["EPSG:4326", "EPSG:3857", "EPSG:25832"],
                "md": {
                    "title": "Old <&> new",
                    "keyword_list": [{"keywords": ["a&b", "c"]}],
                },
                **wms_conf,
            }
        },
        "layers": [
            {"name": "world", "title": "World & co", "sources": ["dbg"]},
            {"name": "cached", "title": "Cached", "sources": ["c"]},
            {"name": "local", "title": "Local", "sources": ["near"]},
        ],
        "caches": {
            "c": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["dbg"]},
            "near": {"grids": ["near"], "sources": ["dbg"]},
        },
        "grids": {"near": {"srs": "EPSG:4326", "bbox": [9, 50, 10, 51]}},
        "sources": {"dbg": {"type": "debug"}},
    }


@pytest.fixture
def app(tmp_path: Path) -> TilegateApp:
    return make_app(tmp_path, conf())


def getmap_100(app: TilegateApp, **params: object) -> tuple[int, dict[str, str], bytes]:
    base: dict[str, object] = {
        "wmtver": "1.0.0",
        "request": "map",
        "layers": "world",
        "srs": "EPSG:4326",
        "bbox": "-10,40,10,60",
        "width": 100,
        "height": 80,
        "format": "PNG",
    }
    return wms(app, "/service", **(base | params))


def bboxes(layer: ET.Element, ns: str = "") -> dict[str, list[float]]:
    attr = "CRS" if ns else "SRS"
    return {
        b.get(attr, ""): [
            float(b.get(k, "nan")) for k in ("minx", "miny", "maxx", "maxy")
        ]
        for b in layer.findall(f"{ns}BoundingBox")
    }


def named(root: ET.Element, ns: str = "") -> dict[str, ET.Element]:
    return {
        layer.findtext(f"{ns}Name", ""): layer
        for layer in root.iter(f"{ns}Layer")
        if layer.find(f"{ns}Name") is not None
    }


# 1.0.0


def test_capabilities_100_name_formats_as_empty_elements(app: TilegateApp) -> None:
    status, headers, body = wms(app, wmtver="1.0.0", request="capabilities")
    assert status == 200
    assert headers["Content-Type"] == "text/xml; charset=utf-8"
    root = parse_xml(body)
    assert root.tag == "WMT_MS_Capabilities"
    assert root.get("version") == "1.0.0"
    assert root.findtext("Service/Title") == "Old <&> new"
    assert root.findtext("Service/Keywords") == "a&b c"
    assert root.findtext("Service/OnlineResource") == "http://localhost:80/service"
    request = root.find("Capability/Request")
    assert request is not None
    assert [e.tag for e in request.findall("Map/Format/*")] == [
        "PNG",
        "JPEG",
        "GIF",
        "TIFF",
    ]
    assert [e.tag for e in request.findall("Capabilities/Format/*")] == ["WMS_XML"]
    get = request.find("Map/DCPType/HTTP/Get")
    assert get is not None
    assert get.get("onlineResource") == "http://localhost:80/service?"
    assert [e.tag for e in root.findall("Capability/Exception/Format/*")] == [
        "WMS_XML",
        "INIMAGE",
        "BLANK",
    ]
    layers = named(root)
    assert set(layers) == {"world", "cached", "local"}
    assert layers["world"].findtext("Title") == "World & co"
    # one space-separated SRS list on every layer, as MapProxy writes 1.0.0
    assert layers["cached"].findtext("SRS") == "EPSG:4326 EPSG:3857 EPSG:25832"
    latlon = layers["local"].find("LatLonBoundingBox")
    assert latlon is not None
    assert [
        round(float(latlon.get(k, "nan")), 6) for k in ("minx", "miny", "maxx", "maxy")
    ] == [9, 50, 10, 51]
    assert bboxes(layers["cached"])["EPSG:3857"] == pytest.approx(
        [
            -20037508.342789244,
            -20037508.342789244,
            20037508.342789244,
            20037508.342789244,
        ]
    )


def test_getmap_100_with_wmtver_and_format_names(app: TilegateApp) -> None:
    for name, mime, pil in (
        ("PNG", "image/png", "PNG"),
        ("JPEG", "image/jpeg", "JPEG"),
    ):
        status, headers, body = getmap_100(app, format=name)
        assert status == 200
        assert headers["Content-Type"] == mime
        image = Image.open(io.BytesIO(body))
        assert (image.format, image.size) == (pil, (100, 80))
    # the 1.1.1 request name and VERSION work for a 1.0.0 map too
    status, headers, _ = getmap_100(app, wmtver="", version="1.0.0", request="GetMap")
    assert (status, headers["Content-Type"]) == (200, "image/png")


def test_errors_100_are_wmt_exceptions_with_status_400(app: TilegateApp) -> None:
    for params, words in (
        ({"layers": "nope"}, "unknown layer 'nope'"),
        ({"format": "FOO"}, "unsupported format 'FOO'"),
        ({"srs": "EPSG:31467"}, "not offered"),
        ({"request": "bogus"}, "unknown request 'bogus'"),
        ({"layers": "<script>"}, "unknown layer '<script>'"),
    ):
        status, headers, body = getmap_100(app, **params)
        assert status == 400, params
        assert headers["Content-Type"] == "text/xml; charset=utf-8"
        assert b"<script>" not in body
        root = parse_xml(body)
        assert (root.tag, root.get("version")) == ("WMTException", "1.0.0")
        assert words in (root.text or "")


def test_image_exceptions_100(app: TilegateApp) -> None:
    status, headers, body = getmap_100(app, layers="nope", exceptions="INIMAGE")
    assert (status, headers["Content-Type"]) == (400, "image/png")
    assert Image.open(io.BytesIO(body)).size == (100, 80)
    status, headers, body = getmap_100(app, layers="nope", exceptions="BLANK")
    assert status == 400
    assert Image.open(io.BytesIO(body)).getextrema() == ((255, 255),) * 3


# 1.1.0


def test_capabilities_110(app: TilegateApp) -> None:
    status, headers, body = wms(
        app, service="WMS", request="GetCapabilities", version="1.1.0"
    )
    assert status == 200
    assert headers["Content-Type"] == "application/vnd.ogc.wms_xml"
    assert b"http://schemas.opengis.net/wms/1.1.0/capabilities_1_1_0.dtd" in body
    root = parse_xml(body)
    assert (root.tag, root.get("version")) == ("WMT_MS_Capabilities", "1.1.0")
    assert (
        root.findtext("Capability/Request/GetCapabilities/Format")
        == "application/vnd.ogc.wms_xml"
    )
    assert [f.text for f in root.findall("Capability/Request/GetMap/Format")] == [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/tiff",
    ]
    top = root.find("Capability/Layer")
    assert top is not None
    # 1.1.0: one SRS element with the space-separated list, inherited by the children
    assert [s.text for s in top.findall("SRS")] == ["EPSG:4326 EPSG:3857 EPSG:25832"]
    assert set(named(root)) == {"world", "cached", "local"}
    assert named(root)["local"].find("SRS") is None


def test_errors_110_use_the_110_dtd(app: TilegateApp) -> None:
    status, headers, body = wms(
        app,
        service="WMS",
        request="GetMap",
        version="1.1.0",
        layers="nope",
        srs="EPSG:4326",
        bbox="0,0,1,1",
        width=10,
        height=10,
        format="image/png",
    )
    assert status == 400
    assert headers["Content-Type"] == "application/vnd.ogc.se_xml"
    assert b"http://schemas.opengis.net/wms/1.1.0/exception_1_1_0.dtd" in body
    root = parse_xml(body)
    assert root.get("version") == "1.1.0"
    element = root.find("ServiceException")
    assert element is not None
    assert element.get("code") == "LayerNotDefined"


def test_owslib_reads_the_110_capabilities(app: TilegateApp) -> None:
    # OWSLib's factory offers 1.1.1 and 1.3.0 only; its 1.1.1 reader takes 1.1.0 documents.
    from owslib.map.wms111 import WebMapService_1_1_1

    body = wms(app, service="WMS", request="GetCapabilities", version="1.1.0")[2]
    service = WebMapService_1_1_1(
        "http://localhost:80/service", version="1.1.0", xml=body
    )
    assert service.identification.title == "Old <&> new"
    assert sorted(service.contents) == ["cached", "local", "world"]
    assert set(service["world"].crsOptions) == {"EPSG:4326", "EPSG:3857", "EPSG:25832"}
    assert [round(v, 6) for v in service["local"].boundingBoxWGS84] == [9, 50, 10, 51]


# negotiation


def version_of(app: TilegateApp, **params: str) -> tuple[str, str | None]:
    root = parse_xml(wms(app, request="GetCapabilities", **params)[2])
    return root.tag.removeprefix(WMS), root.get("version")


def test_version_negotiation_over_all_four_versions(tmp_path: Path) -> None:
    app = make_app(tmp_path, conf())
    assert version_of(app) == ("WMS_Capabilities", "1.3.0")
    assert version_of(app, version="1.0.0") == ("WMT_MS_Capabilities", "1.0.0")
    assert version_of(app, version="1.0.5") == ("WMT_MS_Capabilities", "1.0.0")
    assert version_of(app, version="1.1.0") == ("WMT_MS_Capabilities", "1.1.0")
    assert version_of(app, version="1.1.1") == ("WMT_MS_Capabilities", "1.1.1")
    assert version_of(app, version="1.2.0") == ("WMT_MS_Capabilities", "1.1.1")
    assert version_of(app, version="0.9.0") == ("WMT_MS_Capabilities", "1.0.0")
    assert version_of(app, wmtver="1.0.0") == ("WMT_MS_Capabilities", "1.0.0")
    # VERSION wins over WMTVER
    assert version_of(app, wmtver="1.0.0", version="1.3.0")[1] == "1.3.0"
    limited = make_app(tmp_path, conf(versions=["1.1.0", "1.3.0"]))
    assert version_of(limited, version="1.0.0")[1] == "1.1.0"
    assert version_of(limited, version="1.1.1")[1] == "1.1.0"
    status, _, body = wms(limited, request="GetMap", srs="EPSG:4326", layers="nope")
    assert status == 400
    assert (
        parse_xml(body).get("version") == "1.1.0"
    )  # SRS, no version: the newest before 1.3.0


# bbox_srs with bboxes


def test_bbox_srs_with_a_bbox_is_advertised_for_layers_that_cover_it(
    tmp_path: Path,
) -> None:
    app = make_app(
        tmp_path,
        conf(bbox_srs=["EPSG:4326", {"srs": "EPSG:25832", "bbox": UTM}, "EPSG:3857"]),
    )
    for version, ns in (("1.1.1", ""), ("1.3.0", WMS)):
        root = parse_xml(
            wms(app, service="WMS", request="GetCapabilities", version=version)[2]
        )
        layers = named(root, ns)
        for name in ("world", "cached"):
            found = bboxes(layers[name], ns)
            assert list(found) == ["EPSG:4326", "EPSG:25832", "EPSG:3857"]
            # the configured bbox as it is, also in 1.3.0 (EPSG:25832 is east/north)
            assert found["EPSG:25832"] == UTM
        local = bboxes(layers["local"], ns)["EPSG:25832"]
        # the local layer (9-10°E, 50-51°N) lies inside the configured bbox: its own extent
        assert 100000 < local[0] < local[2] < 900000
        assert 5000000 < local[1] < local[3] < 6500000
        assert local[2] - local[0] == pytest.approx(72000, rel=0.05)


def test_bbox_srs_bbox_is_cut_to_a_layer_partly_inside(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        conf(bbox_srs=[{"srs": "EPSG:4326", "bbox": [9.5, 40, 20, 50.5]}]),
    )
    root = parse_xml(
        wms(app, service="WMS", request="GetCapabilities", version="1.1.1")[2]
    )
    layers = named(root)
    assert bboxes(layers["world"]) == {"EPSG:4326": [9.5, 40, 20, 50.5]}
    assert bboxes(layers["local"])["EPSG:4326"] == pytest.approx([9.5, 50, 10, 50.5])
    root = parse_xml(
        wms(app, service="WMS", request="GetCapabilities", version="1.3.0")[2]
    )
    assert bboxes(named(root, WMS)["local"], WMS)["EPSG:4326"] == pytest.approx(
        [50, 9.5, 50.5, 10]
    )


def test_bbox_srs_bbox_outside_a_layer_leaves_its_bounding_box_out(
    tmp_path: Path,
) -> None:
    app = make_app(
        tmp_path, conf(bbox_srs=[{"srs": "EPSG:4326", "bbox": [-20, -20, -10, -10]}])
    )
    root = parse_xml(
        wms(app, service="WMS", request="GetCapabilities", version="1.1.1")[2]
    )
    assert bboxes(named(root)["local"]) == {}
    assert bboxes(named(root)["world"]) == {"EPSG:4326": [-20, -20, -10, -10]}


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            {"srs": "EPSG:25832"},
            "required field missing @ $.services.wms.bbox_srs[0].bbox",
        ),
        ({"srs": "EPSG:25832", "bbox": [1, 2, 3]}, "@ $.services.wms.bbox_srs[0].bbox"),
        ({"srs": "EPSG:nope", "bbox": [1, 2, 3, 4]}, "@ $.services.wms.bbox_srs[0]"),
    ],
)
def test_bad_bbox_srs_entries_are_config_errors(entry: object, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(conf(bbox_srs=[entry]), "mapproxy.yaml")
    assert any(p.endswith(problem) or problem in p for p in caught.value.problems)
