"""Named output formats, encoding options, `mixed`, opacity and the quantizer choice."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from domain import imaging
from domain.config import EncodingOptionsConf, GlobalsImageConf, ImageFormatConf
from domain.formats import MIXED, image_format
from domain.image_options import encode_options, resolve_format

PNG, JPEG = image_format("png"), image_format("jpeg")


def gradient(alpha: int = 255) -> Image.Image:
    """A 64x64 image of 4096 colours (more than a palette holds)."""
    xs, ys = np.meshgrid(np.arange(64) * 4, np.arange(64) * 4)
    rgba = np.stack([xs, ys, (xs + ys) // 2, np.full_like(xs, alpha)], -1)
    return Image.fromarray(rgba.astype(np.uint8), "RGBA")


def test_named_formats_resolve_to_their_real_format() -> None:
    image = GlobalsImageConf(
        formats={"JpgPng": ImageFormatConf(format="mixed"), "png8": ImageFormatConf()}
    )
    assert resolve_format("jpgpng", image) is MIXED
    assert resolve_format("mixed", image) is MIXED
    assert resolve_format("image/jpeg", image) == JPEG
    assert resolve_format("png8", image) is None  # no `format`, and not a format name
    assert resolve_format("image/nope", image) is None


def test_encoding_options_override_the_globals() -> None:
    image = GlobalsImageConf(
        jpeg_quality=40,
        formats={
            "image/jpeg": ImageFormatConf(
                encoding_options=EncodingOptionsConf(jpeg_quality=75)
            ),
            "image/png": ImageFormatConf(
                colors=0, encoding_options=EncodingOptionsConf(quantizer="mediancut")
            ),
        },
    )
    assert encode_options("image/jpeg", image).jpeg_quality == 75
    assert encode_options("image/gif", image).jpeg_quality == 40
    png = encode_options("IMAGE/PNG", image)
    assert (png.paletted, png.quantizer) == (False, "mediancut")
    assert encode_options("image/png", GlobalsImageConf()) == imaging.EncodeOptions(
        paletted=True, jpeg_quality=90
    )


def test_mixed_is_png_with_alpha_and_jpeg_without() -> None:
    opaque, faded = gradient(), gradient(alpha=200)
    assert imaging.concrete_format(opaque, MIXED) == JPEG
    assert imaging.concrete_format(faded, MIXED) == PNG
    assert imaging.concrete_format(faded, JPEG) == JPEG
    assert (
        Image.open(
            io.BytesIO(imaging.encode(opaque, MIXED, imaging.EncodeOptions()))
        ).format
        == "JPEG"
    )
    back = Image.open(io.BytesIO(imaging.encode(faded, MIXED, imaging.EncodeOptions())))
    assert back.format == "PNG"
    assert back.convert("RGBA").getchannel("A").getextrema() == (200, 200)


def test_a_palette_with_a_transparent_entry_counts_as_transparent() -> None:
    img = Image.new("RGBA", (4, 4), (255, 0, 0, 255))
    img.putpixel((0, 0), (0, 0, 0, 0))
    assert imaging.has_transparency(img.quantize(4, method=Image.Quantize.FASTOCTREE))
    assert not imaging.has_transparency(img.convert("RGB"))


@pytest.mark.parametrize(("opacity", "alpha"), [(0.5, 128), (0.25, 64), (0.0, 0)])
def test_opacity_scales_alpha_and_keeps_colours(opacity: float, alpha: int) -> None:
    img = gradient()
    faded = imaging.with_opacity(img, opacity)
    assert faded.getchannel("A").getextrema() == (alpha, alpha)
    assert faded.convert("RGB").tobytes() == img.convert("RGB").tobytes()
    assert imaging.with_opacity(img, 1.0) is img


def test_mediancut_quantizer_is_used_for_opaque_pngs() -> None:
    img = gradient()
    options = imaging.EncodeOptions(paletted=True, quantizer="mediancut")
    back = Image.open(io.BytesIO(imaging.encode(img, PNG, options)))
    expected = img.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    assert back.convert("RGB").tobytes() == expected.convert("RGB").tobytes()
    octree = Image.open(io.BytesIO(imaging.encode(img, PNG, imaging.EncodeOptions())))
    assert (
        octree.convert("RGBA").convert("RGB").tobytes() != back.convert("RGB").tobytes()
    )
    # with transparency median cut cannot keep alpha: the octree is used
    faded = gradient(alpha=100)
    kept = Image.open(io.BytesIO(imaging.encode(faded, PNG, options)))
    assert kept.convert("RGBA").getchannel("A").getextrema() == (100, 100)
