"""The cache watermark: where the text goes on a tile, and that it is drawn once, before storing."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from domain.errors import ConfigValueError
from domain.grid import TileCoord
from domain.tiles import get_tile
from domain.watermark import WatermarkConf, draw_watermark, parse_color
from tests.unit.fakes import CountingSource, InMemoryTileCache
from tests.unit.test_tiles import tileset

WHITE = (255, 255, 255)
CONF = WatermarkConf(text="(c) Tilegate", opacity=100)


def changed(img: Image.Image, coord: TileCoord, conf: WatermarkConf) -> np.ndarray:
    """Which pixels the watermark changed, as a boolean array (rows, columns)."""
    before = np.asarray(img.convert("RGBA")).astype(int)
    after = np.asarray(draw_watermark(img, coord, conf).convert("RGBA")).astype(int)
    return np.abs(after - before).sum(axis=2) > 0


def test_text_is_centred_on_even_rows_and_nothing_else_changes() -> None:
    diff = changed(Image.new("RGB", (256, 256), WHITE), TileCoord(3, 4, 5), CONF)
    rows, cols = np.nonzero(diff)
    # One line at mid-height, centred, clear of the edges.
    assert rows.min() > 100
    assert rows.max() < 156
    assert cols.min() > 10
    assert cols.max() < 246
    assert abs((cols.min() + cols.max()) / 2 - 128) < 6
    assert not diff[:100].any()
    assert not diff[156:].any()


def test_text_straddles_the_side_edges_on_odd_rows() -> None:
    diff = changed(Image.new("RGB", (256, 256), WHITE), TileCoord(3, 5, 5), CONF)
    # Halves of the text at both edges (the neighbours hold the other halves), none mid-tile.
    assert diff[:, :20].any()
    assert diff[:, -20:].any()
    assert not diff[:, 100:156].any()
    assert not diff[:100].any()
    assert not diff[156:].any()


@pytest.mark.parametrize(
    ("coord", "marked"),
    [
        (TileCoord(0, 0, 3), False),
        (TileCoord(1, 0, 3), True),
        (TileCoord(0, 1, 3), True),
        (TileCoord(1, 1, 3), False),
        (TileCoord(2, 5, 3), True),
    ],
)
def test_wide_spacing_marks_every_second_tile(coord: TileCoord, marked: bool) -> None:
    conf = WatermarkConf(text="(c) Tilegate", spacing="wide")
    diff = changed(Image.new("RGB", (256, 256), WHITE), coord, conf)
    assert diff.any() == marked


def test_text_is_the_colour_blended_by_opacity() -> None:
    conf = WatermarkConf(text="MMMM", color="#ff0000", opacity=255, font_size=40)
    out = draw_watermark(Image.new("RGB", (256, 256), WHITE), TileCoord(0, 0, 1), conf)
    assert out.mode == "RGB"
    colours = {c for _, c in out.getcolors(65536) or []}
    # Solid glyph cores are the configured red; a half opacity mixes it with white.
    assert (255, 0, 0) in colours
    half = WatermarkConf(text="MMMM", color=[255, 0, 0], opacity=128, font_size=40)
    out = draw_watermark(Image.new("RGB", (256, 256), WHITE), TileCoord(0, 0, 1), half)
    assert (255, 127, 127) in {c for _, c in out.getcolors(65536) or []}


def test_transparent_tiles_keep_their_transparency_away_from_the_text() -> None:
    tile = Image.new("RGBA", (256, 256), (0, 0, 0, 0))
    out = draw_watermark(tile, TileCoord(0, 0, 1), CONF)
    alpha = np.asarray(out.getchannel("A"))
    assert out.mode == "RGBA"
    assert alpha[:100].max() == 0
    assert 0 < alpha.max() <= 100


def test_no_text_or_zero_opacity_leaves_the_tile_alone() -> None:
    tile = Image.new("RGB", (256, 256), WHITE)
    assert draw_watermark(tile, TileCoord(0, 0, 1), WatermarkConf()) is tile
    transparent = WatermarkConf(text="x", opacity=0)
    assert draw_watermark(tile, TileCoord(0, 0, 1), transparent) is tile


@pytest.mark.parametrize(
    ("value", "rgb"),
    [("#0080ff", (0, 128, 255)), ("red", (255, 0, 0)), ([1, 2, 3.4], (1, 2, 3))],
)
def test_colours_are_read_as_mapproxy_writes_them(
    value: object, rgb: tuple[int, int, int]
) -> None:
    assert parse_color(value) == rgb


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"opacity": 256}, "opacity must be between 0 and 255"),
        ({"opacity": -1}, "opacity must be between 0 and 255"),
        ({"font_size": 0}, "font_size must be above 0"),
        ({"color": "nocolour"}, "is no colour"),
        ({"color": [1, 2]}, "color must be"),
        ({"color": [0, 0, 300]}, "color must be"),
    ],
)
def test_bad_values_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigValueError, match=message):
        WatermarkConf(text="x", **options)  # type: ignore[arg-type]


def test_a_jpeg_tile_gets_the_text_too() -> None:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), WHITE).save(out, "JPEG")
    tile = Image.open(io.BytesIO(out.getvalue()))
    assert changed(tile, TileCoord(0, 0, 1), CONF).any()


@pytest.mark.parametrize("meta_size", [(1, 1), (2, 2)])
def test_new_tiles_are_stored_with_the_text_and_hits_are_not_drawn_again(
    meta_size: tuple[int, int],
) -> None:
    cache = InMemoryTileCache()
    source = CountingSource(color=(255, 255, 255, 255))
    # One tile without buffer would otherwise store the source's bytes untouched.
    tiles = tileset(source, cache, meta_size=meta_size, meta_buffer=0, watermark=CONF)
    coord = TileCoord(2, 2, 3)
    made = get_tile(coord, tiles)
    assert made.data is not None
    stored = cache.tiles[coord].data
    assert stored == made.data
    assert changed_pixels(made.data) > 100
    # Every tile of the meta-tile got its own text.
    assert all(changed_pixels(t.data) > 100 for t in cache.stored)
    again = get_tile(coord, tiles)
    assert again.data == stored
    assert cache.stores == meta_size[0] * meta_size[1]
    assert len(source.queries) == 1


def changed_pixels(data: bytes | None) -> int:
    assert data is not None
    img = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    return int(((255 - img).sum(axis=2) > 0).sum())
