"""`type: arcgis` sources against the test map server's ArcGIS REST export and identify."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from PIL import Image

from adapters.config import parse_config
from domain.errors import ConfigError
from tests.integration.test_app import get, make_app
from tests.integration.test_wms_service import exception_code, getmap, wms
from tests.mapserver import MapServer, render

SERVICE = "/arcgis/rest/services/World/MapServer"
BBOX = (0.0, 0.0, 1000000.0, 1000000.0)


def conf(server: MapServer, **arcgis: Any) -> dict[str, Any]:
    source = {
        "type": "arcgis",
        "req": {
            "url": f"{server.url}{SERVICE}",
            "layers": "show:0,1",
            "transparent": True,
        },
        "opts": {
            "featureinfo": True,
            "featureinfo_tolerance": 10,
            "featureinfo_return_geometries": True,
        },
        "supported_srs": ["EPSG:3857"],
    } | arcgis
    return {
        "services": {"wms": {"featureinfo_types": ["json", "text"]}, "tms": {}},
        "globals": {"image": {"paletted": False}},
        "layers": [
            {"name": "direct", "title": "Direct", "sources": ["arc"]},
            {"name": "cached", "title": "Cached", "sources": ["c"]},
            {"name": "img", "title": "Image", "sources": ["img"]},
        ],
        "caches": {"c": {"sources": ["arc"], "grids": ["GLOBAL_WEBMERCATOR"]}},
        "sources": {
            "arc": source,
            "img": {
                "type": "arcgis",
                "req": {"url": f"{server.url}/arcgis/rest/services/Img/ImageServer"},
            },
        },
    }


def sent(server: MapServer, path: str) -> list[list[tuple[str, str]]]:
    """The query parameters of each request to path, in order, with their names as sent."""
    return [parse_qsl(r.query) for r in server.requests if r.path == path]


def test_export_sends_what_mapproxy_sends_and_returns_the_servers_pixels(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, conf(map_server))
    status, _, body = getmap(
        app,
        layers="direct",
        bbox=",".join(str(int(v)) for v in BBOX),
        width=200,
        height=100,
        transparent="true",
    )
    assert status == 200, body
    # MapProxy 7 sends these names in this order (it spells the boolean "True").
    assert sent(map_server, f"{SERVICE}/export") == [
        [
            ("layers", "show:0,1"),
            ("transparent", "true"),
            ("format", "png"),
            ("bbox", "0.0,0.0,1000000.0,1000000.0"),
            ("size", "200,100"),
            ("bboxSR", "3857"),
            ("imageSR", "3857"),
            ("f", "image"),
        ]
    ]
    got = Image.open(io.BytesIO(body)).convert("RGBA")
    want = render(BBOX, (200, 100), "EPSG:3857", transparent=True).convert("RGBA")
    assert got.size == (200, 100)
    assert got.getpixel((5, 5)) == want.getpixel((5, 5))
    assert got.getpixel((195, 95)) == want.getpixel((195, 95))


def test_image_server_uses_export_image_in_the_asked_srs(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, conf(map_server))
    status, _, body = getmap(
        app,
        layers="img",
        srs="EPSG:4326",
        bbox="0,0,10,10",
        width=200,
        height=100,
        format="image/jpeg",
    )
    assert status == 200, body
    assert sent(map_server, "/arcgis/rest/services/Img/ImageServer/exportImage") == [
        [
            # Tilegate asks direct sources for PNG and encodes the answer itself.
            ("format", "png"),
            ("bbox", "0.0,0.0,10.0,10.0"),
            ("size", "200,100"),
            ("bboxSR", "4326"),
            ("imageSR", "4326"),
            ("f", "image"),
        ]
    ]


def test_cache_of_an_arcgis_source_stores_the_exported_tiles(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, conf(map_server))
    status, _, body = get(app, "/tms/1.0.0/cached/EPSG3857/1/0/0.png")
    assert status == 200, body
    assert len(sent(map_server, f"{SERVICE}/export")) == 1
    status, _, _ = get(app, "/tms/1.0.0/cached/EPSG3857/1/0/0.png")
    assert status == 200
    assert len(sent(map_server, f"{SERVICE}/export")) == 1


def test_featureinfo_asks_identify_at_the_pixel_and_answers_its_json(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, conf(map_server))
    status, headers, body = wms(
        app,
        service="WMS",
        request="GetFeatureInfo",
        version="1.1.1",
        layers="direct",
        query_layers="direct",
        styles="",
        srs="EPSG:3857",
        bbox="0,0,1000000,1000000",
        width=200,
        height=100,
        format="image/png",
        info_format="application/json",
        x=10,
        y=20,
    )
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["results"][0]["attributes"]["geometry"] == (
        "50000.000000,800000.000000"
    )
    assert sent(map_server, f"{SERVICE}/identify") == [
        [
            ("layers", "show:0,1"),
            ("transparent", "true"),
            ("mapExtent", "0.0,0.0,1000000.0,1000000.0"),
            ("imageDisplay", "200,100,96"),
            ("geometry", "50000.000000,800000.000000"),
            ("sr", "3857"),
            ("f", "json"),
            ("tolerance", "10"),
            ("returnGeometry", "true"),
            ("geometryType", "esriGeometryPoint"),
        ]
    ]


def test_a_source_without_featureinfo_is_not_queryable(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, conf(map_server, opts={"featureinfo": False}))
    status, _, body = wms(
        app,
        service="WMS",
        request="GetFeatureInfo",
        version="1.1.1",
        layers="direct",
        query_layers="direct",
        srs="EPSG:3857",
        bbox="0,0,1000000,1000000",
        width=200,
        height=100,
        x=10,
        y=20,
    )
    assert status == 400
    assert exception_code(body) == "LayerNotQueryable"
    assert sent(map_server, f"{SERVICE}/identify") == []


def test_opts_map_false_draws_nothing_and_asks_no_export(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, conf(map_server, opts={"featureinfo": True, "map": False}))
    status, _, body = getmap(
        app, layers="direct", bbox="0,0,1000000,1000000", transparent="true"
    )
    assert status == 200, body
    img = Image.open(io.BytesIO(body)).convert("RGBA")
    assert img.getchannel("A").getextrema() == (0, 0)
    assert sent(map_server, f"{SERVICE}/export") == []


def test_upstream_error_is_an_ogc_exception_and_not_cached(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, conf(map_server))
    map_server.add_fault(status=500, path=SERVICE, times=1)
    status, _, body = getmap(app, layers="direct", bbox="0,0,1000000,1000000")
    assert status == 502
    assert b"ServiceException" in body
    status, _, _ = getmap(app, layers="direct", bbox="0,0,1000000,1000000")
    assert status == 200


def test_on_error_answers_an_upstream_status_with_its_colour_and_stores_nothing(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, conf(map_server, on_error={500: {"response": "#ff0000"}}))
    map_server.add_fault(status=500, path=SERVICE)
    status, _, body = getmap(
        app, layers="direct", bbox="0,0,1000000,1000000", width=50, height=50
    )
    assert status == 200, body
    img = Image.open(io.BytesIO(body)).convert("RGBA")
    assert img.getcolors() == [(2500, (255, 0, 0, 255))]
    status, _, _ = get(app, "/tms/1.0.0/cached/EPSG3857/1/1/1.png")
    assert status == 200
    assert not list((tmp_path / "cache_data").rglob("*.png"))  # `cache` is false
    # a status without an entry is still an upstream error
    map_server.reset()
    map_server.add_fault(status=503, path=SERVICE)
    status, _, _ = getmap(app, layers="direct", bbox="0,0,1000000,1000000")
    assert status == 502


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            {"type": "arcgis", "req": {}},
            "required field missing @ $.sources['s'].req.url",
        ),
        (
            {"type": "arcgis", "req": {"url": "http://x/", "transparent": "yes"}},
            "invalid value for type, expected bool | None @ $.sources['s'].req.transparent",
        ),
        (
            {
                "type": "arcgis",
                "req": {"url": "http://x/"},
                "opts": {"featureinfo": "ja"},
            },
            "invalid value for type, expected bool @ $.sources['s'].opts.featureinfo",
        ),
        (
            {
                "type": "arcgis",
                "req": {"url": "http://x/"},
                "supported_srs": ["EPSG:0"],
            },
            "@ $.sources['s'].supported_srs[0]",
        ),
        (
            {
                "type": "arcgis",
                "req": {"url": "http://x/"},
                "opts": {"featureinfo_tolerance": "wide"},
            },
            "invalid value for type, expected float @ $.sources['s'].opts.featureinfo_tolerance",
        ),
        (
            {
                "type": "arcgis",
                "req": {"url": "http://x/"},
                "on_error": {"oops": {"response": "transparent"}},
            },
            "on_error keys must be HTTP status codes or 'other', got 'oops' @ $.sources['s']",
        ),
        (
            {
                "type": "arcgis",
                "req": {"url": "http://x/"},
                "on_error": {500: {"response": "#zz0000"}},
            },
            "response: expected a colour #rrggbb, got '#zz0000' @ $.sources['s'].on_error[500]",
        ),
    ],
)
def test_bad_arcgis_options_are_config_errors_with_key_paths(
    source: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"sources": {"s": source}}, "t.yaml")
    assert any(p.endswith(problem) for p in info.value.problems), info.value.problems


@pytest.mark.parametrize(
    ("options", "cache_format", "asked"),
    [
        ({}, "image/png", "png"),
        ({}, "image/jpeg", "jpeg"),
        ({"req_format": "image/jpeg"}, "image/png", "jpeg"),
        ({"supported_formats": ["png"]}, "image/jpeg", "png"),
        ({"supported_formats": ["image/jpeg", "image/png"]}, "image/png", "png"),
    ],
)
def test_req_format_and_supported_formats_pick_the_export_format_as_mapproxy_does(
    tmp_path: Path,
    map_server: MapServer,
    options: dict[str, Any],
    cache_format: str,
    asked: str,
) -> None:
    # Both keys are read by MapProxy 7 though its schema does not list them.
    source = conf(map_server)["sources"]["arc"]
    if "req_format" in options:
        source["req"]["format"] = options["req_format"]
    if "supported_formats" in options:
        source["supported_formats"] = options["supported_formats"]
    config = conf(map_server, **source)
    config["caches"]["c"]["format"] = cache_format
    app = make_app(tmp_path, config)
    ext = "jpeg" if cache_format == "image/jpeg" else "png"
    status, headers, _ = get(app, f"/tms/1.0.0/cached/EPSG3857/1/0/0.{ext}")
    assert (status, headers["Content-Type"]) == (200, cache_format)
    [params] = sent(map_server, f"{SERVICE}/export")
    assert dict(params)["format"] == asked
