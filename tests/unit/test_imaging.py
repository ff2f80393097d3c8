"""Image decode, merge and encode on the tile path."""

from __future__ import annotations

import io
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from domain import imaging
from domain.errors import SourceError
from domain.formats import image_format

PNG, JPEG = image_format("png"), image_format("jpeg")
RGBA = st.tuples(*[st.integers(0, 255)] * 4)


def image_of(
    colors: list[tuple[int, int, int, int]], size: tuple[int, int], seed: int
) -> Image.Image:
    rnd = random.Random(seed)  # noqa: S311 (test pixels, not secrets)
    img = Image.new("RGBA", size)
    img.frombytes(b"".join(bytes(rnd.choice(colors)) for _ in range(size[0] * size[1])))
    return img


@given(st.lists(RGBA, min_size=1, max_size=256, unique=True), st.integers(0, 2**16))
@settings(max_examples=40, deadline=None)
def test_paletted_png_is_lossless_up_to_256_colours(
    colors: list[tuple[int, int, int, int]], seed: int
) -> None:
    img = image_of(colors, (64, 48), seed)
    data = imaging.encode(img, PNG, imaging.EncodeOptions(paletted=True))
    back = Image.open(io.BytesIO(data))
    assert back.mode == "P"
    # fully transparent pixels keep their colour too: nothing is merged
    assert back.convert("RGBA").tobytes() == img.tobytes()


def test_close_colours_stay_apart_in_the_palette() -> None:
    colors = [
        (10, 10, 10, 255),
        (11, 10, 10, 255),
        (10, 10, 10, 254),
        (10, 10, 10, 0),
        (11, 10, 10, 0),
    ]
    img = image_of(colors, (256, 256), 1)
    back = Image.open(io.BytesIO(imaging.encode(img, PNG, imaging.EncodeOptions())))
    assert back.convert("RGBA").tobytes() == img.tobytes()


def test_more_than_256_colours_are_quantised() -> None:
    img = image_of(
        [(i, 255 - i, i // 2, 255) for i in range(256)] + [(1, 1, 1, 255)], (64, 64), 2
    )
    assert img.getcolors(256) is None
    back = Image.open(io.BytesIO(imaging.encode(img, PNG, imaging.EncodeOptions())))
    assert back.mode == "P"
    assert back.size == (64, 64)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_a_smooth_opaque_gradient_keeps_its_detail_when_quantised(mode: str) -> None:
    # 32 x 32 shades in a narrow band of colour, as a map tile of a smooth area has: Pillow's
    # octree fed RGBA keeps only a handful of them (PSNR ~35 dB); fed RGB, several times more.
    ramp = np.arange(256) // 8
    red, green = np.meshgrid(100 + ramp, 140 - ramp)
    data = np.stack([red, green, np.full_like(red, 128)], axis=-1).astype(np.uint8)
    img = Image.fromarray(data, "RGB").convert(mode)
    assert img.getcolors(256) is None
    back = Image.open(io.BytesIO(imaging.encode(img, PNG, imaging.EncodeOptions())))
    assert back.mode == "P"
    got = np.asarray(back.convert("RGB"), dtype=np.float64)
    mse = float(((got - data) ** 2).mean())
    assert 10 * math.log10(255**2 / mse) > 37


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P"])
def test_encode_decode_round_trip(mode: str) -> None:
    img = image_of([(1, 2, 3, 255), (200, 100, 50, 128)], (40, 30), 3).convert(mode)
    for opts in (
        imaging.EncodeOptions(paletted=True),
        imaging.EncodeOptions(paletted=False),
    ):
        back = imaging.decode(imaging.encode(img, PNG, opts), (40, 30))
        assert back.convert("RGBA").tobytes() == img.convert("RGBA").tobytes()


def test_jpeg_round_trip_keeps_size_and_roughly_colour() -> None:
    img = Image.new("RGBA", (64, 64), (200, 100, 50, 255))
    back = imaging.decode(
        imaging.encode(img, JPEG, imaging.EncodeOptions(jpeg_quality=95)), (64, 64)
    )
    r, g, b = back.convert("RGB").getpixel((10, 10))  # type: ignore[misc]
    assert abs(r - 200) <= 3
    assert abs(g - 100) <= 3
    assert abs(b - 50) <= 3


@pytest.mark.parametrize(
    "data", [b"", b"GIF89a", b"\x89PNG\r\n\x1a\n" + b"\0" * 20, b"<html>error</html>"]
)
def test_undecodable_data_is_a_source_error(data: bytes) -> None:
    with pytest.raises(SourceError):
        imaging.decode(data, (256, 256))


def test_wrong_size_is_a_source_error() -> None:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "PNG")
    with pytest.raises(SourceError, match="10x10, expected 256x256"):
        imaging.decode(out.getvalue(), (256, 256))


def test_merge_puts_later_images_over_earlier_ones() -> None:
    below = Image.new("RGB", (4, 4), (255, 0, 0))
    above = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    above.putpixel((0, 0), (0, 0, 255, 255))
    merged = imaging.merge([below, above])
    assert merged.getpixel((0, 0)) == (0, 0, 255, 255)
    assert merged.getpixel((1, 1)) == (255, 0, 0, 255)
    assert imaging.merge([below]) is below


def test_single_color() -> None:
    assert imaging.single_color(Image.new("RGBA", (8, 8), (1, 2, 3, 4))) == (1, 2, 3, 4)
    assert imaging.single_color(Image.new("L", (8, 8), 9)) == (9,)
    two = Image.new("RGB", (8, 8), (1, 2, 3))
    two.putpixel((0, 0), (0, 0, 0))
    assert imaging.single_color(two) is None


def test_single_color_of_a_paletted_image_is_the_colour_not_the_index() -> None:
    img = Image.new("RGB", (8, 8), (50, 60, 70)).convert(
        "P", palette=Image.Palette.ADAPTIVE
    )
    assert imaging.single_color(img) == (50, 60, 70, 255)
