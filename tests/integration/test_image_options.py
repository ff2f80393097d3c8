"""A cache's `image:` options and `globals.image.formats` entries against the real map server:
stored tiles have the pixel mode and palette size MapProxy 7 writes for the same configuration
(checked by running it), WMS maps the options of the named format asked for."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from adapters.config import parse_config
from domain.errors import ConfigError
from tests.integration.test_app import get, make_app
from tests.integration.test_wms_service import getmap
from tests.mapserver import MapServer


def conf(server: MapServer, tmp_path: Path, **cache: object) -> dict[str, Any]:
    return {
        "services": {"tms": {}, "wms": {"image_formats": ["image/png", "png16"]}},
        "globals": {
            "cache": {"base_dir": str(tmp_path / "cache")},
            "image": {"formats": {"png16": {"format": "image/png", "colors": 16}}},
        },
        "layers": [{"name": "l", "title": "L", "sources": ["c"]}],
        "caches": {"c": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["src"], **cache}},
        "sources": {
            "src": {
                "type": "wms",
                "req": {
                    "url": f"{server.url}/service",
                    "layers": "a",
                    "transparent": True,
                },
            }
        },
    }


def stored_tile(
    server: MapServer, tmp_path: Path, **cache: object
) -> tuple[Image.Image, bytes]:
    app = make_app(tmp_path, conf(server, tmp_path, **cache))
    status, _, body = get(app, "/tms/1.0.0/l/EPSG3857/1/0/0.png")
    assert status == 200
    files = sorted((tmp_path / "cache").rglob("*.png"))
    assert files
    stored = Image.open(io.BytesIO(files[0].read_bytes()))
    return stored, body


def palette_size(img: Image.Image) -> int:
    palette = img.getpalette()
    assert palette is not None
    return len(palette) // 3


def colour_count(img: Image.Image) -> int:
    colors = img.convert("RGBA").getcolors(1 << 20)
    assert colors is not None
    return len(colors)


# MapProxy 7 with the same cache `image:` (mode, palette size at most, full colour or not).
@pytest.mark.parametrize(
    ("image", "mode", "max_palette", "reduced"),
    [
        (None, "P", 256, True),
        ({"colors": 16}, "P", 16, True),
        ({"mode": "RGBA", "colors": 0, "transparent": True}, "RGBA", None, False),
        ({"mode": "RGB", "colors": 0}, "RGB", None, False),
        ({"mode": "RGB"}, "RGB", None, True),
        ({"mode": "P"}, "P", 256, True),
        ({"transparent": True}, "P", 256, True),
    ],
)
def test_stored_tiles_follow_the_cache_image_options(
    map_server: MapServer,
    tmp_path: Path,
    image: dict[str, object] | None,
    mode: str,
    max_palette: int | None,
    reduced: bool,
) -> None:
    extra = {"image": image} if image else {}
    stored, _ = stored_tile(map_server, tmp_path, **extra)
    assert stored.mode == mode
    if max_palette is not None:
        assert palette_size(stored) <= max_palette
    # The server's gradient has thousands of colours in a tile: full colour keeps them.
    assert (colour_count(stored) <= 256) is reduced


def test_cache_format_named_in_globals_is_paletted_as_it_says(
    map_server: MapServer, tmp_path: Path
) -> None:
    stored, _ = stored_tile(map_server, tmp_path, format="png16")
    assert stored.mode == "P"
    assert palette_size(stored) <= 16


def test_cache_image_format_decides_the_stored_format(
    map_server: MapServer, tmp_path: Path
) -> None:
    app = make_app(tmp_path, conf(map_server, tmp_path, image={"format": "image/jpeg"}))
    status, headers, body = get(app, "/tms/1.0.0/l/EPSG3857/1/0/0.jpeg")
    assert status == 200
    assert headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(body)).format == "JPEG"
    assert [p.suffix for p in (tmp_path / "cache").rglob("*.jpeg")]


@pytest.mark.parametrize(("fmt", "max_colours"), [("png16", 16), ("image/png", None)])
def test_wms_output_follows_the_named_format(
    map_server: MapServer, tmp_path: Path, fmt: str, max_colours: int | None
) -> None:
    data = conf(map_server, tmp_path, image={"colors": 0})
    data["globals"]["image"]["paletted"] = False
    app = make_app(tmp_path, data)
    status, _, body = getmap(app, layers="l", format=fmt, transparent="true")
    assert status == 200
    img = Image.open(io.BytesIO(body))
    if max_colours is None:
        assert colour_count(img) > 256
    else:
        assert img.mode == "P"
        assert palette_size(img) <= max_colours


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ({"mode": "CMYK"}, "$.caches['c'].image.mode"),
        ({"colors": 300}, "colors must be 0 (full colour) to 256, got 300"),
        ({"colors": -1}, "got -1 @ $.caches['c'].image"),
        ({"resampling_method": "lanczos"}, "$.caches['c'].image.resampling_method"),
        ({"transparent": "maybe"}, "$.caches['c'].image.transparent"),
        ({"format": "image/bmp"}, "$.caches['c'].image.format"),
        ({"encoding_options": {"quantizer": "x"}}, "image.encoding_options.quantizer"),
    ],
)
def test_bad_cache_image_options_name_their_key(
    map_server: MapServer, tmp_path: Path, image: dict[str, object], expected: str
) -> None:
    data = conf(map_server, tmp_path, image=image)
    with pytest.raises(ConfigError) as info:
        make_app(tmp_path, data)
    assert expected in "\n".join(info.value.problems)


def test_bad_named_format_options_name_their_key(
    map_server: MapServer, tmp_path: Path
) -> None:
    data = conf(map_server, tmp_path)
    data["globals"]["image"]["formats"]["png16"]["mode"] = "L"
    with pytest.raises(ConfigError) as info:
        parse_config(data, "mapproxy.yaml")
    assert "$.globals.image.formats['png16'].mode" in "\n".join(info.value.problems)
