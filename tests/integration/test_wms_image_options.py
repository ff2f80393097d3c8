"""WMS image options in-process against the real map server: layer resolution ranges, source
opacity, the `mixed` format, encoding options and JPEG quality."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from adapters.config import parse_config
from domain.errors import ConfigError
from entrypoints.app import TilegateApp
from entrypoints.bootstrap import bootstrap
from tests.integration.test_app import make_app
from tests.integration.test_wms_service import getmap, parse_xml, wms
from tests.mapserver import MapServer

# 100 m per pixel in EPSG:3857, inside the map server's world.
BBOX_100M = "0,0,40000,20000"
# 10 km per pixel, reaching past the world's edge on the right (transparent there).
BBOX_EDGE = "18000000,0,22000000,2000000"


def conf(server: MapServer, **image: object) -> dict[str, Any]:
    upstream = {
        "type": "wms",
        "req": {"url": f"{server.url}/service", "layers": "x", "transparent": True},
        "supported_srs": ["EPSG:3857"],
    }
    return {
        "services": {
            "wms": {"image_formats": ["image/png", "image/jpeg", "mixed", "jpgpng"]}
        },
        "globals": {"image": {"paletted": False, **image}},
        "layers": [
            {"name": "plain", "title": "Plain", "sources": ["w"]},
            {
                "name": "ranged",
                "title": "Ranged",
                "sources": ["w"],
                "min_res": 1000,
                "max_res": 50,
            },
            {
                "name": "scaled",
                "title": "Scaled",
                "layers": [{"name": "inner", "title": "Inner", "sources": ["w"]}],
                "max_scale": 1000 / 0.00028,
            },
            {"name": "faded", "title": "Faded", "sources": ["half"]},
        ],
        "sources": {"w": upstream, "half": {**upstream, "image": {"opacity": 0.5}}},
    }


@pytest.fixture
def app(tmp_path: Path, map_server: MapServer) -> TilegateApp:
    return make_app(tmp_path, conf(map_server))


def pixels(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGBA")).astype(int)


def upstream_maps(server: MapServer) -> int:
    return sum(1 for r in server.requests if r.params.get("REQUEST") == "GetMap")


# Resolution ranges


@pytest.mark.parametrize("layer", ["ranged", "scaled"])
def test_a_layer_is_drawn_inside_its_resolution_range(
    app: TilegateApp, map_server: MapServer, layer: str
) -> None:
    status, _, body = getmap(
        app, layers=layer, bbox=BBOX_100M, width=400, height=200, transparent="true"
    )
    assert status == 200
    assert (pixels(body)[..., 3] == 255).all()
    assert upstream_maps(map_server) == 1


@pytest.mark.parametrize(
    ("layer", "bbox"),
    [
        ("ranged", "0,0,800000,400000"),  # 2000 m/px: coarser than min_res
        ("ranged", "0,0,8000,4000"),  # 20 m/px: finer than max_res
        ("scaled", "0,0,800000,400000"),  # the group's range limits its children
    ],
)
def test_a_layer_outside_its_range_is_left_out_without_asking_the_source(
    app: TilegateApp, map_server: MapServer, layer: str, bbox: str
) -> None:
    status, headers, body = getmap(
        app, layers=layer, bbox=bbox, width=400, height=200, transparent="true"
    )
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert (pixels(body)[..., 3] == 0).all()
    assert upstream_maps(map_server) == 0


def test_other_layers_of_the_request_are_still_drawn(
    app: TilegateApp, map_server: MapServer
) -> None:
    status, _, body = getmap(
        app, layers="ranged,plain", bbox="0,0,800000,400000", transparent="true"
    )
    assert status == 200
    assert (pixels(body)[..., 3] == 255).all()
    assert upstream_maps(map_server) == 1


def test_a_child_asked_for_by_name_has_no_range_of_its_group(app: TilegateApp) -> None:
    _, _, body = getmap(
        app, layers="inner", bbox="0,0,800000,400000", transparent="true"
    )
    assert (pixels(body)[..., 3] == 255).all()


def test_capabilities_advertise_the_ranges(app: TilegateApp) -> None:
    _, _, body = wms(app, service="WMS", request="GetCapabilities", version="1.1.1")
    layers = {e.findtext("Name"): e for e in parse_xml(body).iter("Layer")}
    hint = layers["ranged"].find("ScaleHint")
    assert hint is not None
    # The diagonal of a pixel at max_res and at min_res, as MapProxy 7 writes them.
    assert float(hint.get("min", "0")) == pytest.approx(70.71067811865476)
    assert float(hint.get("max", "0")) == pytest.approx(1414.213562373095)
    scaled = layers["scaled"].find("ScaleHint")
    assert scaled is not None
    assert scaled.get("min") is None
    assert float(scaled.get("max", "0")) == pytest.approx(1414.213562373095)
    assert layers["plain"].find("ScaleHint") is None
    assert layers["inner"].find("ScaleHint") is None

    _, _, body = wms(app, service="WMS", request="GetCapabilities", version="1.3.0")
    ns = "{http://www.opengis.net/wms}"
    layers = {e.findtext(f"{ns}Name"): e for e in parse_xml(body).iter(f"{ns}Layer")}
    ranged = layers["ranged"]
    assert float(ranged.findtext(f"{ns}MinScaleDenominator", "0")) == pytest.approx(
        50 / 0.00028
    )
    assert float(ranged.findtext(f"{ns}MaxScaleDenominator", "0")) == pytest.approx(
        1000 / 0.00028
    )
    assert layers["scaled"].find(f"{ns}MinScaleDenominator") is None
    assert float(
        layers["scaled"].findtext(f"{ns}MaxScaleDenominator", "0")
    ) == pytest.approx(1000 / 0.00028)


# Source opacity


def test_source_opacity_fades_its_image_when_merged(app: TilegateApp) -> None:
    _, _, full = getmap(app, layers="plain", bbox=BBOX_100M, transparent="true")
    _, _, half = getmap(app, layers="faded", bbox=BBOX_100M, transparent="true")
    full_px, half_px = pixels(full), pixels(half)
    assert (half_px[..., 3] == 128).all()
    assert np.abs(half_px[..., :3] - full_px[..., :3]).max() <= 1
    # Over the opaque white background the image is half way to white.
    _, _, over_white = getmap(app, layers="faded", bbox=BBOX_100M)
    expected = (full_px[..., :3] * 128 + 255 * 127) / 255
    assert np.abs(pixels(over_white)[..., :3] - expected).max() <= 1
    # Over another layer it lets that one show through.
    _, _, both = getmap(app, layers="plain,faded", bbox=BBOX_100M, transparent="true")
    assert np.abs(pixels(both) - full_px).max() <= 1


def test_a_cache_merges_its_sources_with_their_opacity(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = conf(map_server)
    config["caches"] = {
        "both": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["w", "half"]}
    }
    path = tmp_path / "mapproxy.yaml"
    state = bootstrap(parse_config(config, str(path)), path)
    (tiles,) = state.caches["both"]
    assert tiles.source_opacity == (None, 0.5)


# The mixed format


@pytest.mark.parametrize("name", ["mixed", "jpgpng"])
def test_mixed_is_png_where_transparent_and_jpeg_where_opaque(
    tmp_path: Path, map_server: MapServer, name: str
) -> None:
    config = conf(map_server, formats={"jpgpng": {"format": "mixed"}})
    app = make_app(tmp_path, config)
    status, headers, body = getmap(
        app, layers="plain", bbox=BBOX_EDGE, format=name, transparent="true"
    )
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(body)).format == "PNG"
    assert (pixels(body)[:, -1, 3] == 0).all()  # past the world's edge
    for bbox, transparent in ((BBOX_EDGE, "false"), (BBOX_100M, "true")):
        status, headers, body = getmap(
            app, layers="plain", bbox=bbox, format=name, transparent=transparent
        )
        assert status == 200
        assert headers["Content-Type"] == "image/jpeg"
        assert Image.open(io.BytesIO(body)).format == "JPEG"


def test_capabilities_list_the_mixed_format_names(app: TilegateApp) -> None:
    _, _, body = wms(app, service="WMS", request="GetCapabilities", version="1.1.1")
    formats = [
        e.text for e in parse_xml(body).findall("Capability/Request/GetMap/Format")
    ]
    assert formats == ["image/png", "image/jpeg", "mixed", "jpgpng"]


# Encoding options


def quantization(body: bytes) -> dict[int, list[int]]:
    with Image.open(io.BytesIO(body)) as img:
        assert img.format == "JPEG"
        return dict(img.quantization)  # type: ignore[attr-defined]


def tables_for(quality: int) -> dict[int, list[int]]:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(out, "JPEG", quality=quality)
    return quantization(out.getvalue())


@pytest.mark.parametrize(
    ("image", "quality"),
    [
        ({}, 90),
        ({"jpeg_quality": 30}, 30),
        (
            {
                "jpeg_quality": 30,
                "formats": {"image/jpeg": {"encoding_options": {"jpeg_quality": 70}}},
            },
            70,
        ),
    ],
)
def test_jpeg_quality_from_globals_and_the_format_options(
    tmp_path: Path, map_server: MapServer, image: dict[str, object], quality: int
) -> None:
    app = make_app(tmp_path, conf(map_server, **image))
    status, _, body = getmap(app, layers="plain", bbox=BBOX_100M, format="image/jpeg")
    assert status == 200
    assert quantization(body) == tables_for(quality)


def test_colors_in_the_format_options_choose_paletted_png(
    tmp_path: Path, map_server: MapServer
) -> None:
    image = {"formats": {"image/png": {"colors": 256}}}
    app = make_app(tmp_path, conf(map_server, **image))
    _, _, body = getmap(app, layers="plain", bbox=BBOX_100M)
    assert Image.open(io.BytesIO(body)).mode == "P"
    _, _, body = getmap(
        make_app(tmp_path, conf(map_server)), layers="plain", bbox=BBOX_100M
    )
    assert Image.open(io.BytesIO(body)).mode in ("RGB", "RGBA")


# Bad configuration


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda c: c["layers"][1].update(min_scale=100),
            "set either min_res/max_res or min_scale/max_scale, not both @ $.layers[1]",
        ),
        (
            lambda c: c["layers"][1].update(min_res=10),
            "min_res (10.0) must be larger than max_res (50.0)",
        ),
        (
            lambda c: c["sources"]["half"]["image"].update(opacity=1.5),
            "opacity must be between 0 and 1, got 1.5 @ $.sources['half'].image",
        ),
        (
            lambda c: c["globals"]["image"].update(jpeg_quality=0),
            "jpeg_quality must be 1 to 100, got 0 @ $.globals.image",
        ),
        (
            lambda c: c["globals"]["image"].update(
                formats={"x": {"encoding_options": {"quantizer": "best"}}}
            ),
            "$.globals.image.formats['x'].encoding_options.quantizer",
        ),
    ],
)
def test_bad_image_options_are_config_errors_naming_the_key(
    map_server: MapServer, change: Any, problem: str
) -> None:
    config = conf(map_server)
    change(config)
    with pytest.raises(ConfigError) as info:
        parse_config(config, "mapproxy.yaml")
    assert any(problem in p for p in info.value.problems), info.value.problems
