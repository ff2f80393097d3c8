"""Layer dimensions (TIME, ELEVATION, DIM_*) through the WSGI app in-process, against the real
local map server, whose pixels' blue tells which TIME it was asked for."""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from PIL import Image

from adapters.config import parse_config
from domain.errors import ConfigError
from entrypoints.app import TilegateApp
from tests.integration.test_app import get, make_app
from tests.mapserver import MapServer, time_blue

T1, T2, T3 = "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z", "2020-01-03T00:00:00Z"
WMTS = "{http://www.opengis.net/wmts/1.0}"
OWS = "{http://www.opengis.net/ows/1.1}"
TEMPLATE = "/{Layer}/{TileMatrixSet}/{Time}/{Elevation}/{TileMatrix}/{TileCol}/{TileRow}.{Format}"
KVP = {
    "SERVICE": "WMTS",
    "REQUEST": "GetTile",
    "VERSION": "1.0.0",
    "LAYER": "temp",
    "STYLE": "default",
    "TILEMATRIXSET": "GLOBAL_WEBMERCATOR",
    "TILEMATRIX": "1",
    "TILEROW": "0",
    "TILECOL": "1",
    "FORMAT": "image/png",
}


def dim_conf(
    tmp_path: Path, server: MapServer, cache: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "services": {
            "wms": {"md": {"title": "dims"}},
            "wmts": {"restful_template": TEMPLATE, "kvp": True},
        },
        "globals": {"cache": {"base_dir": str(tmp_path / "cache")}},
        "sources": {
            "src": {
                "type": "wms",
                "req": {"url": f"{server.url}/service", "layers": "a"},
                "forward_req_params": ["time", "elevation"],
            }
        },
        "caches": {
            "c": {
                "grids": ["GLOBAL_WEBMERCATOR"],
                "sources": ["src"],
                "meta_size": [1, 1],
                "meta_buffer": 0,
                **({"cache": cache} if cache else {}),
            }
        },
        "layers": [
            {
                "name": "temp",
                "title": "Temperature",
                "sources": ["c"],
                "dimensions": {
                    "time": {"values": [T1, T2, T3], "default": T2},
                    "elevation": {"values": [0, 1000]},
                },
            }
        ],
    }


@pytest.fixture
def app(tmp_path: Path, map_server: MapServer) -> TilegateApp:
    return make_app(tmp_path, dim_conf(tmp_path, map_server))


def kvp(**extra: str) -> str:
    return urlencode({**KVP, **extra})


def blue(data: bytes) -> int:
    pixel = Image.open(io.BytesIO(data)).convert("RGB").getpixel((10, 10))
    assert isinstance(pixel, tuple)
    return int(pixel[2])


def upstream(server: MapServer) -> list[tuple[str | None, str | None]]:
    return [(r.params.get("TIME"), r.params.get("ELEVATION")) for r in server.requests]


def files(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.png")
        if ".tmp" not in p.parts and "tile_locks" not in p.parts
    )


def test_wmts_kvp_time_reaches_the_source_and_is_cached_apart(
    app: TilegateApp, map_server: MapServer, tmp_path: Path
) -> None:
    status, _, data = get(app, "/service", kvp(TIME=T1, ELEVATION="0"))
    assert status == 200, data
    assert blue(data) == time_blue(T1)
    status, _, data = get(app, "/service", kvp(TIME=T3, ELEVATION="0"))
    assert blue(data) == time_blue(T3)
    # No TIME, and TIME=default: the layer's default; no ELEVATION: the last value.
    assert blue(get(app, "/service", kvp())[2]) == time_blue(T2)
    assert blue(get(app, "/service", kvp(time="default"))[2]) == time_blue(T2)
    # Names are case-insensitive; a value asked for before is a cache hit.
    assert blue(get(app, "/service", kvp(time=T1, elevation="0"))[2]) == time_blue(T1)
    assert upstream(map_server) == [(T1, "0"), (T3, "0"), (T2, "1000")]
    # MapProxy's layout: <cache>/<dimension>-<value>/..., elevation before time.
    assert files(tmp_path / "cache") == [
        f"c_EPSG3857/elevation-0/time-{T1}/01/000/000/001/000/000/000.png",
        f"c_EPSG3857/elevation-0/time-{T3}/01/000/000/001/000/000/000.png",
        f"c_EPSG3857/elevation-1000/time-{T2}/01/000/000/001/000/000/000.png",
    ]


def test_wmts_restful_template_carries_the_dimensions(
    app: TilegateApp, map_server: MapServer
) -> None:
    status, _, data = get(app, f"/wmts/temp/GLOBAL_WEBMERCATOR/{T3}/1000/1/1/0.png")
    assert status == 200, data
    assert blue(data) == time_blue(T3)
    data = get(app, "/wmts/temp/GLOBAL_WEBMERCATOR/default/default/1/1/0.png")[2]
    assert blue(data) == time_blue(T2)
    assert upstream(map_server) == [(T3, "1000"), (T2, "1000")]


BAD_VALUES = [
    "2021",
    "..",
    "../../../../tmp/evil",
    "/etc/passwd",
    "..\\..\\evil",
    "a\x00b",
    "x" * 5000,
    f"{T1}/../..",
]


@pytest.mark.parametrize("value", BAD_VALUES)
def test_values_not_offered_are_a_400_and_write_nothing(
    tmp_path: Path, map_server: MapServer, value: str
) -> None:
    app = make_app(tmp_path, dim_conf(tmp_path, map_server))
    before = set(_all_files(tmp_path.parent))
    answers = [
        get(app, "/service", kvp(TIME=value)),
        get(app, "/service", kvp(ELEVATION=value)),
        get(app, f"/wmts/temp/GLOBAL_WEBMERCATOR/{value}/0/1/1/0.png"),
        get(app, "/service", wms_query(TIME=value)),
        get(app, "/service", wms_query(ELEVATION=value)),
    ]
    for status, headers, body in answers:
        assert 400 <= status < 500, body
        assert headers["Content-Type"].split(";")[0] in (
            "text/xml",
            "application/xml",
            "application/vnd.ogc.se_xml",
        )
        ET.fromstring(body)  # noqa: S314 - our own answer
    assert map_server.requests == []
    assert set(_all_files(tmp_path.parent)) == before


def _all_files(root: Path) -> list[str]:
    found = []
    for dirpath, _, names in os.walk(root):
        found += [
            os.path.join(dirpath, n) for n in names if "tile_locks" not in dirpath
        ]
    return found


def test_rest_dimension_a_layer_lacks_must_say_default(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = dim_conf(tmp_path, map_server)
    conf["layers"].append({"name": "plain", "title": "Plain", "sources": ["c"]})
    app = make_app(tmp_path, conf)
    status, _, body = get(app, "/wmts/plain/GLOBAL_WEBMERCATOR/2021/0/1/1/0.png")
    assert status == 400
    assert b"unknown dimension: time" in body
    status, _, _ = get(app, "/wmts/plain/GLOBAL_WEBMERCATOR/default/default/1/1/0.png")
    assert status == 200


def dimensions_of(layer: ET.Element) -> list[tuple[str | None, str | None, list[str]]]:
    return [
        (
            d.findtext(f"{OWS}Identifier"),
            d.findtext(f"{WMTS}Default"),
            [v.text or "" for v in d.findall(f"{WMTS}Value")],
        )
        for d in layer.findall(f"{WMTS}Dimension")
    ]


def test_wmts_capabilities_advertise_the_dimensions(app: TilegateApp) -> None:
    status, _, body = get(app, "/wmts/1.0.0/WMTSCapabilities.xml")
    assert status == 200
    layer = ET.fromstring(body).find(f"{WMTS}Contents/{WMTS}Layer")  # noqa: S314
    assert layer is not None
    # RESTful: identifiers spelled as the template spells them, as MapProxy.
    assert dimensions_of(layer) == [
        ("Time", T2, [T1, T2, T3]),
        ("Elevation", "1000", ["0", "1000"]),
    ]
    resource = layer.find(f"{WMTS}ResourceURL")
    assert resource is not None
    assert resource.get("template") == (
        "http://localhost:80/wmts/temp/{TileMatrixSet}/{Time}/{Elevation}/{TileMatrix}/{TileCol}/{TileRow}.png"
    )
    # KVP (MapProxy 7 answers these capabilities with a 500): as configured.
    status, _, body = get(app, "/service", "SERVICE=WMTS&REQUEST=GetCapabilities")
    assert status == 200
    layer = ET.fromstring(body).find(f"{WMTS}Contents/{WMTS}Layer")  # noqa: S314
    assert layer is not None
    assert dimensions_of(layer) == [
        ("time", T2, [T1, T2, T3]),
        ("elevation", "1000", ["0", "1000"]),
    ]


def test_owslib_reads_the_wmts_dimensions(app: TilegateApp) -> None:
    from owslib.wmts import WebMapTileService

    body = get(app, "/wmts/1.0.0/WMTSCapabilities.xml")[2]
    wmts = WebMapTileService("http://localhost/wmts", xml=body)
    dims = wmts.contents["temp"].dimensions
    assert dims["Time"]["default"] == T2
    assert dims["Time"]["values"] == [T1, T2, T3]
    assert dims["Elevation"]["values"] == ["0", "1000"]


def wms_query(**extra: str) -> str:
    return urlencode(
        {
            "SERVICE": "WMS",
            "REQUEST": "GetMap",
            "VERSION": "1.1.1",
            "LAYERS": "temp",
            "STYLES": "",
            "SRS": "EPSG:3857",
            "BBOX": "0,0,20037508.342789244,20037508.342789244",
            "WIDTH": "256",
            "HEIGHT": "256",
            "FORMAT": "image/png",
            **extra,
        }
    )


def test_wms_getmap_time_picks_the_cached_tiles_of_that_time(
    app: TilegateApp, map_server: MapServer, tmp_path: Path
) -> None:
    status, _, data = get(app, "/service", wms_query(TIME=T1))
    assert status == 200, data
    assert blue(data) == time_blue(T1)
    # The same tiles as WMTS: the next tile request is a hit.
    assert blue(get(app, "/service", kvp(TIME=T1))[2]) == time_blue(T1)
    assert blue(get(app, "/service", wms_query())[2]) == time_blue(T2)
    assert upstream(map_server) == [(T1, "1000"), (T2, "1000")]
    assert (
        f"c_EPSG3857/elevation-1000/time-{T1}/01/000/000/001/000/000/000.png"
        in files(tmp_path / "cache")
    )


def test_wms_capabilities_advertise_the_dimensions(app: TilegateApp) -> None:
    body = get(app, "/service", "SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0")[2]
    ns = "{http://www.opengis.net/wms}"
    root = ET.fromstring(body)  # noqa: S314
    layer = next(
        lyr for lyr in root.iter(f"{ns}Layer") if lyr.findtext(f"{ns}Name") == "temp"
    )
    dims = {d.get("name"): d for d in layer.findall(f"{ns}Dimension")}
    assert dims["time"].get("units") == "ISO8601"
    assert dims["time"].get("default") == T2
    assert dims["time"].text == f"{T1},{T2},{T3}"
    assert dims["elevation"].text == "0,1000"
    body = get(app, "/service", "SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.1.1")[2]
    root = ET.fromstring(body)  # noqa: S314
    layer = next(lyr for lyr in root.iter("Layer") if lyr.findtext("Name") == "temp")
    assert [(d.get("name"), d.get("units")) for d in layer.findall("Dimension")] == [
        ("time", "ISO8601"),
        ("elevation", ""),
    ]
    extents = {e.get("name"): e for e in layer.findall("Extent")}
    assert extents["time"].get("default") == T2
    assert extents["time"].text == f"{T1},{T2},{T3}"


def test_owslib_reads_the_wms_dimensions(app: TilegateApp) -> None:
    from owslib.wms import WebMapService

    def capabilities(version: str) -> bytes:
        query = f"SERVICE=WMS&REQUEST=GetCapabilities&VERSION={version}"
        return get(app, "/service", query)[2]

    # OWSLib reads 1.1.1's <Extent>s as time positions and elevations, 1.3.0's <Dimension>s.
    wms = WebMapService("http://localhost/service", "1.1.1", xml=capabilities("1.1.1"))
    assert wms["temp"].timepositions == [T1, T2, T3]
    assert wms["temp"].defaulttimeposition == T2
    assert wms["temp"].elevations == ["0", "1000"]
    wms = WebMapService("http://localhost/service", "1.3.0", xml=capabilities("1.3.0"))
    time = wms["temp"].dimensions["time"]
    assert (time["units"], time["default"], time["values"]) == (
        "ISO8601",
        T2,
        [T1, T2, T3],
    )
    assert wms["temp"].elevations == ["0", "1000"]


def test_a_time_interval_unfolds_into_values(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = dim_conf(tmp_path, map_server)
    conf["layers"][0]["dimensions"] = {
        "time": {"values": ["2020-09-22T11:20:00Z/2020-09-22T14:20:00Z/PT1H30M"]}
    }
    app = make_app(tmp_path, conf)
    layer = ET.fromstring(  # noqa: S314
        get(app, "/wmts/1.0.0/WMTSCapabilities.xml")[2]
    ).find(f"{WMTS}Contents/{WMTS}Layer")
    assert layer is not None
    values = ["2020-09-22T11:20:00Z", "2020-09-22T12:50:00Z", "2020-09-22T14:20:00Z"]
    assert dimensions_of(layer) == [("Time", values[-1], values)]


@pytest.mark.parametrize(
    ("dimension", "problem"),
    [
        ({"values": ["..", "a"]}, "dimension value '..' cannot be stored"),
        ({"values": ["a/b", "c"]}, "dimension value 'a/b' cannot be stored"),
        (
            {"values": ["a", "b"], "default": "../x"},
            "dimension value '../x' cannot be stored",
        ),
        ({"values": ["a\\b", "c"]}, "cannot be stored"),
        ({"values": ["x" * 300, "c"]}, "longer than 200 bytes"),
        ({"values": []}, "needs at least one value"),
        (
            {"values": ["2020-01-01T00:00:00Z/2020-03-01T00:00:00Z/P1.5M"]},
            "years and months must be whole numbers",
        ),
        ({"values": ["2020-01-01/x/PT1H"]}, "'x' is not an ISO 8601 time"),
        (
            {"values": ["2020-01-01T00:00:00Z/2020-01-02T00:00:00Z/PT0S"]},
            "longer than zero",
        ),
    ],
)
def test_bad_dimensions_are_config_errors_with_key_paths(
    tmp_path: Path, map_server: MapServer, dimension: dict[str, Any], problem: str
) -> None:
    conf = dim_conf(tmp_path, map_server)
    conf["layers"][0]["dimensions"] = {"time": dimension}
    with pytest.raises(ConfigError) as info:
        parse_config(conf, "mapproxy.yaml")
    (message,) = info.value.problems
    assert problem in message
    assert message.startswith("dimensions['time']: ")
    assert message.endswith("@ $.layers[0]")


def test_bad_dimension_keys_are_config_errors_with_key_paths(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = dim_conf(tmp_path, map_server)
    conf["layers"][0]["dimensions"] = {"time": {"valuez": ["a"]}, "elevation": [1]}
    with pytest.raises(ConfigError) as info:
        parse_config(conf, "mapproxy.yaml")
    # As everywhere, an unknown key (valuez) is a warning; the missing values an error.
    assert sorted(info.value.problems) == [
        "expected a mapping, got a list @ $.layers[0].dimensions['elevation']",
        "required field missing @ $.layers[0].dimensions['time'].values",
    ]


def test_only_file_caches_keep_dimension_values_apart(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = dim_conf(tmp_path, map_server, cache={"type": "mbtiles"})
    with pytest.raises(ConfigError) as info:
        parse_config(conf, "mapproxy.yaml")
    assert info.value.problems == [
        "layer 'temp' has dimensions, but cache 'c' is of type 'mbtiles': only file caches"
        " keep tiles apart per dimension value (or set disable_storage: true)"
        " @ $.layers[0].dimensions"
    ]
    conf["caches"]["c"]["disable_storage"] = True
    app = make_app(tmp_path, conf)
    assert blue(get(app, "/service", kvp(TIME=T1))[2]) == time_blue(T1)
    assert blue(get(app, "/service", kvp(TIME=T1))[2]) == time_blue(T1)
    assert upstream(map_server) == [(T1, "1000"), (T1, "1000")]


def test_quoted_rest_values_cannot_leave_the_cache(
    app: TilegateApp, map_server: MapServer, tmp_path: Path
) -> None:
    for value in ("..%2F..%2Fevil", quote("../x", safe=""), "%2e%2e"):
        status, _, _ = get(app, f"/wmts/temp/GLOBAL_WEBMERCATOR/{value}/0/1/1/0.png")
        assert 400 <= status < 500
    assert map_server.requests == []
    assert files(tmp_path) == []
