"""Dimensions of layers drawn from sources directly: uncached WMS sources, and caches that go
to their source for fine maps (`use_direct_from_level`). Through the WSGI app in-process,
against the real local map server, whose blue tells which TIME it was asked for."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from entrypoints.app import TilegateApp
from tests.integration.test_app import get, make_app
from tests.integration.test_dimensions import T1, T2, T3, blue, files, wms_query
from tests.mapserver import MapServer, time_blue

WMS = "{http://www.opengis.net/wms}"
MONTHLY = "2020-01-01T00:00:00Z/2021-01-01T00:00:00Z/P1M"
# GLOBAL_WEBMERCATOR's level 3 resolution; maps this fine or finer go to the source.
LEVEL_3_RES = 2 * 20037508.342789244 / 256 / 2**3


def conf(tmp_path: Path, server: MapServer) -> dict[str, Any]:
    return {
        "services": {"wms": {"md": {"title": "dims"}}},
        "globals": {"cache": {"base_dir": str(tmp_path / "cache")}},
        "sources": {
            "src": {
                "type": "wms",
                "req": {"url": f"{server.url}/service", "layers": "a"},
                "forward_req_params": ["TIME", "elevation", "dim_band"],
            }
        },
        "caches": {
            "c": {
                "grids": ["GLOBAL_WEBMERCATOR"],
                "sources": ["src"],
                "meta_size": [1, 1],
                "meta_buffer": 0,
                "use_direct_from_level": 3,
            }
        },
        "layers": [
            {
                "name": "direct",
                "title": "Uncached",
                "sources": ["src"],
                "dimensions": {
                    "time": {"values": [T1, T2, T3], "default": T2},
                    "elevation": {"values": [0, 1000]},
                    "band": {"values": ["red", "nir"], "default": "red"},
                },
            },
            {
                "name": "monthly",
                "title": "Monthly",
                "sources": ["src"],
                "dimensions": {"time": {"values": [MONTHLY]}},
            },
            {
                "name": "cached",
                "title": "Cached, direct when fine",
                "sources": ["c"],
                "dimensions": {"time": {"values": [T1, T2, T3], "default": T2}},
            },
        ],
    }


@pytest.fixture
def app(tmp_path: Path, map_server: MapServer) -> TilegateApp:
    return make_app(tmp_path, conf(tmp_path, map_server))


def asked(server: MapServer, *names: str) -> list[tuple[str | None, ...]]:
    return [tuple(r.params.get(n) for n in names) for r in server.requests]


def test_uncached_layers_advertise_their_dimensions(app: TilegateApp) -> None:
    body = get(app, "/service", "SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0")[2]
    layers = {
        lyr.findtext(f"{WMS}Name"): lyr
        for lyr in ET.fromstring(body).iter(f"{WMS}Layer")  # noqa: S314
    }
    dims = {
        d.get("name"): (d.get("default"), d.text)
        for d in layers["direct"].findall(f"{WMS}Dimension")
    }
    assert dims == {
        "time": (T2, f"{T1},{T2},{T3}"),
        "elevation": ("1000", "0,1000"),
        "band": ("red", "red,nir"),
    }
    (monthly,) = layers["monthly"].findall(f"{WMS}Dimension")
    months = [f"2020-{m:02}-01T00:00:00Z" for m in range(1, 13)]
    assert monthly.text == ",".join([*months, "2021-01-01T00:00:00Z"])
    assert monthly.get("default") == "2021-01-01T00:00:00Z"
    body = get(app, "/service", "SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.1.1")[2]
    layer = next(
        lyr
        for lyr in ET.fromstring(body).iter("Layer")  # noqa: S314
        if lyr.findtext("Name") == "direct"
    )
    assert [e.get("name") for e in layer.findall("Extent")] == [
        "time",
        "elevation",
        "band",
    ]


def test_an_uncached_source_is_asked_for_the_values_requested_or_the_defaults(
    app: TilegateApp, map_server: MapServer
) -> None:
    status, _, data = get(
        app, "/service", wms_query(LAYERS="direct", TIME=T1, DIM_BAND="nir")
    )
    assert status == 200, data
    assert blue(data) == time_blue(T1)
    status, _, data = get(app, "/service", wms_query(LAYERS="direct", ELEVATION="0"))
    assert status == 200, data
    assert blue(data) == time_blue(T2)
    # The values asked for, the defaults where the request has none.
    assert asked(map_server, "TIME", "ELEVATION", "DIM_BAND") == [
        (T1, "1000", "nir"),
        (T2, "0", "red"),
    ]
    month = "2020-07-01T00:00:00Z"
    data = get(app, "/service", wms_query(LAYERS="monthly", TIME=month))[2]
    assert blue(data) == time_blue(month)


@pytest.mark.parametrize(
    ("param", "value"),
    [("TIME", "1999"), ("ELEVATION", "5"), ("DIM_BAND", "../x"), ("TIME", "2020-02")],
)
def test_values_an_uncached_layer_does_not_offer_are_a_400(
    app: TilegateApp, map_server: MapServer, param: str, value: str
) -> None:
    status, _, body = get(app, "/service", wms_query(LAYERS="direct", **{param: value}))
    assert status == 400
    assert b'code="InvalidParameterValue"' in body
    assert map_server.requests == []


def test_direct_maps_of_a_cache_carry_the_values_and_defaults(
    app: TilegateApp, map_server: MapServer, tmp_path: Path
) -> None:
    fine = f"0,0,{LEVEL_3_RES * 256},{LEVEL_3_RES * 256}"
    status, _, data = get(app, "/service", wms_query(LAYERS="cached", BBOX=fine))
    assert status == 200, data
    assert blue(data) == time_blue(T2)
    data = get(app, "/service", wms_query(LAYERS="cached", BBOX=fine, TIME=T3))[2]
    assert blue(data) == time_blue(T3)
    assert asked(map_server, "TIME") == [(T2,), (T3,)]
    assert files(tmp_path / "cache") == []  # maps from the source are not stored
    # A coarse map comes from the cache, stored per value as WMTS stores it.
    data = get(app, "/service", wms_query(LAYERS="cached"))[2]
    assert blue(data) == time_blue(T2)
    assert files(tmp_path / "cache") == [
        f"c_EPSG3857/time-{T2}/01/000/000/001/000/000/000.png"
    ]


def test_a_bad_value_for_a_direct_map_of_a_cache_is_a_400(
    app: TilegateApp, map_server: MapServer
) -> None:
    fine = f"0,0,{LEVEL_3_RES * 256},{LEVEL_3_RES * 256}"
    status, _, body = get(
        app, "/service", wms_query(LAYERS="cached", BBOX=fine, TIME="..")
    )
    assert status == 400
    assert b"InvalidParameterValue" in body
    assert map_server.requests == []
