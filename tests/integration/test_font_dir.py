"""`globals.image.font_dir`: watermarks, the WMS attribution and image exceptions drawn with
the TrueType fonts found there (Debian's DejaVu files), instead of Pillow's built-in font."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from adapters.fonts import MONO, SANS
from domain.errors import ConfigError
from domain.fonts import TextFont
from domain.grid import TileCoord
from domain.watermark import WatermarkConf, draw_watermark
from tests.integration.test_app import get, make_app, tile_source_conf
from tests.integration.test_cache_watermark import upstream
from tests.mapserver import MapServer

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
pytestmark = pytest.mark.skipif(
    not (DEJAVU / SANS).exists(),
    reason="DejaVu fonts missing: install Debian's fonts-dejavu-core",
)
# Cyrillic, which Pillow's built-in font does not have.
WATERMARK: dict[str, Any] = {"text": "Карта", "opacity": 200, "color": "#000080"}
TILE = ("/tiles/xyz/EPSG3857/3/1/1.png", "origin=nw")
INIMAGE = (
    "SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&LAYERS=nope&STYLES=&SRS=EPSG:3857"
    "&BBOX=0,0,1,1&WIDTH=200&HEIGHT=60&FORMAT=image/png&EXCEPTIONS=application/vnd.ogc.se_inimage"
)


@pytest.fixture
def fonts(tmp_path: Path) -> Path:
    where = tmp_path / "fonts"
    where.mkdir()
    for name in (SANS, MONO):
        shutil.copy(DEJAVU / name, where / name)
    return where


def conf(server: MapServer, **image: Any) -> dict[str, Any]:
    conf = tile_source_conf(server)
    conf["caches"]["xyz_cache"]["watermark"] = WATERMARK
    conf["globals"]["image"].update(image)
    conf["services"]["wms"] = {"srs": ["EPSG:3857"]}
    return conf


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def test_watermarks_are_drawn_with_the_font_dirs_sans(
    tmp_path: Path, fonts: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, conf(map_server, font_dir="fonts"))
    status, _, tile = get(app, *TILE)
    assert status == 200
    coord = TileCoord(1, 1, 3)
    dejavu = TextFont((fonts / SANS).read_bytes())
    expected = draw_watermark(
        upstream(coord), coord, WatermarkConf(**WATERMARK), dejavu
    )
    assert np.array_equal(pixels(tile), np.asarray(expected).astype(int))
    builtin = draw_watermark(upstream(coord), coord, WatermarkConf(**WATERMARK))
    assert not np.array_equal(np.asarray(builtin), np.asarray(expected))


def test_image_exceptions_are_written_with_the_font_dirs_mono(
    tmp_path: Path, fonts: Path, map_server: MapServer
) -> None:
    with_fonts = get(
        make_app(tmp_path, conf(map_server, font_dir="fonts")), "/service", INIMAGE
    )
    (tmp_path / "other").mkdir()
    without = get(make_app(tmp_path / "other", conf(map_server)), "/service", INIMAGE)
    assert with_fonts[1]["Content-Type"] == without[1]["Content-Type"] == "image/png"
    ink = pixels(with_fonts[2]).sum(axis=2) < 200
    assert ink.any()
    assert not np.array_equal(ink, pixels(without[2]).sum(axis=2) < 200)


def test_a_missing_font_leaves_the_built_in_one_and_bad_ones_stop_the_start(
    tmp_path: Path, map_server: MapServer
) -> None:
    (tmp_path / "empty").mkdir()
    app = make_app(tmp_path, conf(map_server, font_dir="empty"))
    (tmp_path / "plain").mkdir()
    plain = make_app(tmp_path / "plain", conf(map_server))
    assert get(app, *TILE)[2] == get(plain, *TILE)[2]
    with pytest.raises(ConfigError) as info:
        make_app(tmp_path, conf(map_server, font_dir="nowhere"))
    assert info.value.problems == [
        f"no directory {tmp_path / 'nowhere'} @ $.globals.image.font_dir"
    ]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / SANS).write_bytes(b"not a font")
    with pytest.raises(ConfigError) as info:
        make_app(tmp_path, conf(map_server, font_dir="bad"))
    assert info.value.problems == [
        f"{tmp_path / 'bad' / SANS} is no TrueType font @ $.globals.image.font_dir"
    ]
