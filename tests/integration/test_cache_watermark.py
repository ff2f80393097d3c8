"""Cache `watermark` through the app: tiles from the real map server get the text once, as they
are made, and are stored with it; config errors name the key path."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adapters.config import parse_config
from domain.errors import ConfigError
from domain.grid import TileCoord
from domain.grids import resolve_grids
from domain.watermark import WatermarkConf, draw_watermark
from tests.integration.test_app import get, make_app, tile_source_conf
from tests.mapserver import MapServer, render

WEBMERCATOR = resolve_grids({})["GLOBAL_WEBMERCATOR"]
WATERMARK = {"text": "(c) Tilegate", "opacity": 120, "color": "#000080"}


def upstream(coord: TileCoord) -> Image.Image:
    """The map server's picture of the tile, as the source sends it."""
    bbox = WEBMERCATOR.tile_bbox(coord).as_tuple()
    return render(bbox, (256, 256), "EPSG:3857", False).convert("RGB")


def rgb(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


@pytest.mark.parametrize("y", [1, 2])
def test_tiles_are_watermarked_once_and_stored_so(
    tmp_path: Path, map_server: MapServer, y: int
) -> None:
    conf = tile_source_conf(map_server)
    conf["caches"]["xyz_cache"]["watermark"] = WATERMARK
    app = make_app(tmp_path, conf)
    coord = TileCoord(1, y, 3)
    status, headers, first = get(app, f"/tiles/xyz/EPSG3857/3/1/{y}.png", "origin=nw")
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    source = np.asarray(upstream(coord)).astype(int)
    changed = np.abs(rgb(first) - source).sum(axis=2) > 0
    # The text, in its band at mid-height, and nothing elsewhere.
    assert changed[100:156].sum() > 200
    assert not changed[:100].any()
    assert not changed[156:].any()
    # Exactly one watermark: drawing it again on the source gives the same pixels.
    once = draw_watermark(upstream(coord), coord, WatermarkConf(**WATERMARK))  # type: ignore[arg-type]
    assert np.array_equal(rgb(first), np.asarray(once).astype(int))
    stored = (
        tmp_path / f"cache_data/xyz_cache_EPSG3857/03/000/000/001/000/000/00{y}.png"
    )
    assert stored.read_bytes() == first
    # A cache hit is the stored tile, not drawn on again.
    _, _, second = get(app, f"/tiles/xyz/EPSG3857/3/1/{y}.png", "origin=nw")
    assert second == first
    assert map_server.stats()["total"] == 1


def test_wide_spacing_leaves_every_second_tile_clean(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = tile_source_conf(map_server)
    conf["caches"]["xyz_cache"]["watermark"] = {**WATERMARK, "spacing": "wide"}
    app = make_app(tmp_path, conf)
    for x, marked in ((1, False), (2, True)):
        _, _, data = get(app, f"/tiles/xyz/EPSG3857/3/{x}/1.png", "origin=nw")
        source = np.asarray(upstream(TileCoord(x, 1, 3))).astype(int)
        assert np.array_equal(rgb(data), source) != marked


@pytest.mark.parametrize(
    ("watermark", "problem"),
    [
        (
            {"text": "x", "opacity": 300},
            "watermark opacity must be between 0 and 255, got 300.0 @ $.caches['c'].watermark",
        ),
        (
            {"text": "x", "font_size": "big"},
            "invalid value for type, expected float @ $.caches['c'].watermark.font_size",
        ),
        (
            {"text": "x", "color": "nocolour"},
            "watermark color 'nocolour' is no colour (use #rrggbb, a colour name or [r, g, b])"
            " @ $.caches['c'].watermark",
        ),
        (
            {"text": "x", "spacing": "narrow"},
            "invalid value 'narrow', expected one of wide @ $.caches['c'].watermark.spacing",
        ),
    ],
)
def test_bad_watermark_options_are_config_errors(
    watermark: dict[str, object], problem: str
) -> None:
    raw = {
        "sources": {"d": {"type": "debug"}},
        "caches": {"c": {"sources": ["d"], "watermark": watermark}},
    }
    with pytest.raises(ConfigError) as err:
        parse_config(raw, "mapproxy.yaml")
    assert err.value.problems == [problem]
