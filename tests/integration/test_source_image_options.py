"""A source's `image:` options beyond opacity and transparent_color: `format` (what a WMS-like
source is asked for), `resampling_method` (how its images are reprojected), and the checks
of `mode`, `colors`, `encoding_options` — against the test map server and Debian's MapServer."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl

import pytest
from PIL import Image

from adapters.config import parse_config
from domain.errors import ConfigError
from entrypoints.app import TilegateApp
from tests.integration.test_app import get
from tests.integration.test_mapserver_featureinfo import MAPFILE
from tests.integration.test_mapserver_source import MAPSERV, make_app, needs_mapserv
from tests.integration.test_wms_service import getmap
from tests.mapserver import MapServer

RED, WHITE = (255, 0, 0, 255), (255, 255, 255, 255)


def wms_conf(server: MapServer, **source: Any) -> dict[str, Any]:
    return {
        "services": {"wms": {}, "tms": {}},
        "globals": {
            "image": {"formats": {"myjpeg": {"format": "image/jpeg"}}},
        },
        "layers": [
            {"name": "direct", "title": "Direct", "sources": ["w"]},
            {"name": "cached", "title": "Cached", "sources": ["c"]},
        ],
        "caches": {
            "c": {
                "sources": ["w"],
                "grids": ["GLOBAL_WEBMERCATOR"],
                "format": "image/png",
                "meta_size": [1, 1],
            }
        },
        "sources": {
            "w": {"type": "wms", "req": {"url": f"{server.url}/service", "layers": "a"}}
            | source
        },
    }


def asked_formats(server: MapServer) -> list[str]:
    return [
        value
        for r in server.requests
        for key, value in parse_qsl(r.query)
        if key.upper() == "FORMAT"
    ]


@pytest.mark.parametrize(
    ("source", "asked"),
    [
        ({}, "image/png"),  # the format the map or tile is wanted in
        ({"image": {"format": "image/jpeg"}}, "image/jpeg"),
        ({"image": {"format": "myjpeg"}}, "image/jpeg"),  # a globals.image.formats name
        ({"req_format": "image/gif"}, "image/gif"),
        ({"req_format": "image/gif", "image": {"format": "image/jpeg"}}, "image/jpeg"),
        (
            {"image": {"format": "image/jpeg"}, "supported_formats": ["image/png"]},
            "image/png",
        ),
    ],
)
@pytest.mark.parametrize("layer", ["direct", "cached"])
def test_image_format_is_what_the_source_is_asked_for(
    tmp_path: Path,
    map_server: MapServer,
    source: dict[str, Any],
    asked: str,
    layer: str,
) -> None:
    source = dict(source)
    config = wms_conf(map_server, **source)
    if req_format := source.pop("req_format", None):
        config["sources"]["w"] = wms_conf(map_server, **source)["sources"]["w"]
        config["sources"]["w"]["req"]["format"] = req_format
    app = make_app(tmp_path, config)
    if layer == "direct":
        status, headers, body = getmap(app, layers="direct", width=64, height=32)
    else:
        status, headers, body = get(app, "/tms/1.0.0/cached/EPSG3857/1/1/1.png")
    assert status == 200, body
    # whatever the source sent, the client gets the format it asked for
    assert headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(body)).format == "PNG"
    assert asked_formats(map_server) == [asked]


def test_an_upstream_jpeg_is_what_the_cache_stores_as_png(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, wms_conf(map_server, image={"format": "image/jpeg"}))
    status, _, body = get(app, "/tms/1.0.0/cached/EPSG3857/1/1/1.png")
    assert status == 200, body
    _, _, blue = Image.open(io.BytesIO(body)).convert("RGB").split()
    # JPEG is lossy: the map server's blue 128 comes back near it, not exactly everywhere
    low, high = cast(tuple[int, int], blue.getextrema())
    assert 118 <= low < high <= 138


def reprojected_conf(
    tmp_path: Path,
    source_method: str | None = None,
    cache_method: str | None = None,
    globals_method: str | None = None,
) -> dict[str, Any]:
    (tmp_path / "test.map").write_text(MAPFILE)
    source: dict[str, Any] = {
        "type": "mapserver",
        "req": {"map": "test.map", "layers": "red"},
        "mapserver": {"binary": str(MAPSERV)},
        # asked in EPSG:4326 only: maps and tiles in web mercator are reprojected
        "supported_srs": ["EPSG:4326"],
    }
    if source_method:
        source["image"] = {"resampling_method": source_method}
    cache: dict[str, Any] = {"sources": ["ms"], "grids": ["GLOBAL_WEBMERCATOR"]}
    if cache_method:
        cache["image"] = {"resampling_method": cache_method}
    image: dict[str, Any] = {"paletted": False}
    if globals_method:
        image["resampling_method"] = globals_method
    return {
        "services": {"wms": {}, "tms": {}},
        "globals": {"image": image},
        "layers": [
            {"name": "direct", "title": "Direct", "sources": ["ms"]},
            {"name": "cached", "title": "Cached", "sources": ["c"]},
        ],
        "caches": {"c": cache},
        "sources": {"ms": source},
    }


def pixels(app: TilegateApp, layer: str) -> bytes:
    if layer == "direct":
        # 0..20 degrees east and north (the red square is 0..10) in web mercator
        status, _, body = getmap(
            app, layers="direct", bbox="0,0,2226389,2273030", width=37, height=41
        )
    else:
        # web mercator level 5 tile 16/15: 0..11.25 degrees east, 0..11.18 north
        status, _, body = get(app, "/tiles/cached/EPSG3857/5/16/15.png")
    assert status == 200, body
    img = Image.open(io.BytesIO(body)).convert("RGBA")
    assert (255, 0, 0, 255) in {c for _, c in img.getcolors(1 << 16) or []}
    return img.tobytes()


@needs_mapserv
@pytest.mark.usefixtures("mapserver_config")
@pytest.mark.parametrize("layer", ["direct", "cached"])
@pytest.mark.parametrize(
    ("source_method", "cache_method", "effective"),
    [
        ("nearest", "bicubic", "nearest"),  # the source's own method wins
        ("bicubic", "nearest", "bicubic"),
        ("nearest", None, "nearest"),
    ],
)
def test_resampling_method_reprojects_the_sources_images(
    tmp_path: Path,
    layer: str,
    source_method: str,
    cache_method: str | None,
    effective: str,
) -> None:
    def drawn(name: str, **methods: str | None) -> bytes:
        (tmp_path / name).mkdir()
        conf = reprojected_conf(tmp_path / name, **methods)
        return pixels(make_app(tmp_path / name, conf), layer)

    seen = drawn("own", source_method=source_method, cache_method=cache_method)
    # the same pixels as with that method for everything, other than with the other one
    other = "bicubic" if effective == "nearest" else "nearest"
    assert seen == drawn("same", globals_method=effective)
    assert seen != drawn("other", globals_method=other)


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        (
            {"format": "image/nothing"},
            "unknown image format 'image/nothing' @ $.sources['w'].image.format",
        ),
        (
            {"format": "mixed"},
            "a source sends PNG or JPEG, not mixed images @ $.sources['w'].image.format",
        ),
        ({"mode": "CMYK"}, "@ $.sources['w'].image.mode"),
        (
            {"colors": 300},
            "colors must be 0 (full colour) to 256, got 300 @ $.sources['w'].image",
        ),
        ({"resampling_method": "cubic"}, "@ $.sources['w'].image.resampling_method"),
        (
            {"encoding_options": {"jpeg_quality": 101}},
            "jpeg_quality must be 1 to 100, got 101 @ $.sources['w'].image.encoding_options",
        ),
        (
            {"encoding_options": {"quantizer": "best"}},
            "@ $.sources['w'].image.encoding_options.quantizer",
        ),
    ],
)
def test_bad_source_image_options_are_config_errors_with_key_paths(
    map_server: MapServer, image: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(wms_conf(map_server, image=image), "t.yaml")
    assert any(p.endswith(problem) for p in exc.value.problems), exc.value.problems


def test_mode_colors_and_encoding_options_are_accepted(map_server: MapServer) -> None:
    image = {
        "mode": "RGB",
        "colors": 0,
        "transparent": False,
        "encoding_options": {"jpeg_quality": 80, "quantizer": "mediancut"},
    }
    loaded = parse_config(wms_conf(map_server, image=image), "t.yaml")
    assert loaded.warnings == ()
