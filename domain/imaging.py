"""Image work on the tile path: decode what sources send, merge, split into tiles, encode."""

from __future__ import annotations

import io
import warnings
from typing import Literal

import attrs
import numpy as np
from PIL import Image

from domain.errors import SourceError
from domain.formats import MIXED, ImageFormat, image_format

Quantizer = Literal["fastoctree", "mediancut"]
# Reducing to 256 colours costs Pillow about 8 bytes per pixel and a second of CPU for a
# 4000x4000 map (+180 MB in a worker): bigger images are written in full colour instead, which
# needs no memory beyond the image, so one request stays within its bounds.
PALETTE_MAX_PIXELS = 2048 * 2048


@attrs.frozen
class EncodeOptions:
    """How tiles are encoded: PNG palette reduction and JPEG quality, as MapProxy's image options."""

    paletted: bool = True
    jpeg_quality: int = 90
    # How a PNG with more than 256 colours is reduced; mediancut only where it is opaque.
    quantizer: Quantizer = "fastoctree"
    # The palette's size where paletted (MapProxy's `colors`).
    colors: int = attrs.field(
        default=256, validator=attrs.validators.in_(range(1, 257))
    )
    # A PNG's pixel mode where it is not paletted, or after palette reduction (MapProxy reduces
    # the colours of an RGB(A) PNG too, unless `colors: 0`); None keeps the image's own.
    mode: Literal["RGB", "RGBA"] | None = None


def decode(data: bytes, size: tuple[int, int]) -> Image.Image:
    """The image in data, which must have exactly `size`; anything else is a SourceError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            # Check the header's size before decoding, so a lying source cannot make us allocate.
            if img.size != size:
                raise SourceError(
                    f"source image has size {img.size[0]}x{img.size[1]}, expected {size[0]}x{size[1]}"
                )
            img.load()
    except SourceError:
        raise
    except (
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ) as exc:
        raise SourceError(f"source image cannot be decoded: {exc}") from exc
    return img


def merge(images: list[Image.Image]) -> Image.Image:
    """Later images over earlier ones, with their transparency."""
    if len(images) == 1:
        return images[0]
    base = images[0].convert("RGBA")
    for img in images[1:]:
        base = over(base, img)
    return base


def over(base: Image.Image | None, img: Image.Image) -> Image.Image:
    """img drawn over base with its transparency, on base itself where it is RGBA; img alone
    where there is no base or img is opaque RGB (it hides all of base)."""
    if base is None or img.mode == "RGB":
        return img
    if base.mode not in ("RGB", "RGBA"):
        base = base.convert("RGBA")
    # In bands: compositing whole images holds converted copies of both and a full-size result
    # (64 MB each at 4000x4000), where memory per request is bounded. An opaque RGB base stays
    # RGB: whatever is drawn over it, it stays opaque.
    for top in range(0, base.height, _BAND_ROWS):
        box = (0, top, base.width, min(base.height, top + _BAND_ROWS))
        band = img.crop(box)
        band = band if band.mode == "RGBA" else band.convert("RGBA")
        if base.mode == "RGBA":
            base.alpha_composite(band, (0, top))
        else:
            under = base.crop(box).convert("RGBA")
            under.alpha_composite(band)
            base.paste(under.convert("RGB"), (0, top))
    return base


_BAND_ROWS = 256


def single_color(img: Image.Image) -> tuple[int, ...] | None:
    """The one colour of an image, or None if it has more than one."""
    colors = img.getcolors(1)
    if colors is None:
        return None
    color = colors[0][1]
    if img.mode == "P":
        # getcolors gives the palette index: two palettes would share index 0 for different colours.
        color = img.convert("RGBA").getcolors(1)[0][1]  # type: ignore[index]
    return tuple(color) if isinstance(color, tuple) else (int(color),)


def with_opacity(img: Image.Image, opacity: float) -> Image.Image:
    """img faded: its alpha multiplied by opacity (0 transparent, 1 unchanged)."""
    if opacity >= 1:
        return img
    rgba = img.convert("RGBA")
    alpha = rgba.getchannel("A").point(lambda a: round(a * opacity))
    rgba.putalpha(alpha)
    return rgba


def has_transparency(img: Image.Image) -> bool:
    """Whether any pixel of img is not fully opaque."""
    if img.mode == "P" and "transparency" not in img.info:
        palette = img.palette
        if palette is None or palette.mode != "RGBA":
            return False
    if img.mode == "P" or "transparency" in img.info:
        img = img.convert("RGBA")
    if "A" not in img.getbands():
        return False
    return img.getchannel("A").getextrema()[0] < 255  # type: ignore[operator]


def concrete_format(img: Image.Image, fmt: ImageFormat) -> ImageFormat:
    """The format img is written in: `mixed` becomes PNG or JPEG by its transparency."""
    if fmt != MIXED:
        return fmt
    return _PNG if has_transparency(img) else _JPEG


_PNG, _JPEG = image_format("image/png"), image_format("image/jpeg")


def encode(img: Image.Image, fmt: ImageFormat, opts: EncodeOptions) -> bytes:
    out = io.BytesIO()
    fmt = concrete_format(img, fmt)
    if fmt.pil_name == "JPEG":
        img.convert("RGB").save(out, "JPEG", quality=opts.jpeg_quality)
    elif fmt.pil_name == "PNG":
        if opts.paletted and img.width * img.height <= PALETTE_MAX_PIXELS:
            img = _to_palette(img, opts.quantizer, opts.colors)
        if opts.mode is not None:
            img = img.convert(opts.mode)
        img.save(out, "PNG", optimize=False)
    else:
        img.save(out, fmt.pil_name)
    return out.getvalue()


def _to_palette(img: Image.Image, quantizer: Quantizer, size: int) -> Image.Image:
    """An 8-bit image of at most size colours: exact where the image has that few, quantised
    otherwise."""
    if img.mode == "P" and size == 256:
        return img
    if img.mode not in ("RGB", "RGBA"):
        img = img.convert("RGBA")
    colors = img.getcolors(size)
    if colors is None:
        return _quantize(img, quantizer, size)
    # Colours are tuples in RGB(A) mode; an RGB image's are opaque.
    palette = [(*c, 255)[:4] for _, c in colors if isinstance(c, tuple)]
    if len(palette) == 1:
        # One colour (sea, empty land): nothing to look up.
        out = Image.new("P", img.size, 0)
    else:
        # Each RGBA pixel read as one little-endian 32-bit key and looked up in the sorted keys
        # of the palette: exact (Pillow's quantize to a given palette merges close colours) and
        # done in C by numpy rather than per pixel in Python.
        keys = np.array(
            [int.from_bytes(bytes(c), "little") for c in palette], dtype="<u4"
        )
        order = np.argsort(keys)
        pixels = np.frombuffer(img.convert("RGBA").tobytes(), dtype="<u4")
        index = order[np.searchsorted(keys[order], pixels)].astype(np.uint8)
        out = Image.frombytes("P", img.size, index.tobytes())
    out.putpalette([v for c in palette for v in c[:3]])
    alphas = bytes(c[3] for c in palette)
    if any(a != 255 for a in alphas):
        out.info["transparency"] = alphas
    return out


def _quantize(img: Image.Image, quantizer: Quantizer, size: int) -> Image.Image:
    """More than size colours reduced to size. Pillow's octree keeps alpha; on an opaque image
    it is given RGB, where it finds several times more of the colours of a smooth gradient."""
    if has_transparency(img):
        # Pillow's median cut cannot keep alpha: images with transparency use the octree.
        return img.convert("RGBA").quantize(size, method=Image.Quantize.FASTOCTREE)
    method = (
        Image.Quantize.MEDIANCUT
        if quantizer == "mediancut"
        else Image.Quantize.FASTOCTREE
    )
    return img.convert("RGB").quantize(size, method=method)
