"""A source's `image.transparent_color`: one colour of its images made transparent."""

from __future__ import annotations

from PIL import Image, ImageChops

# MapProxy's default `transparent_color_tolerance`.
DEFAULT_TOLERANCE = 10.0


def make_transparent(
    image: Image.Image, color: tuple[int, int, int], tolerance: float
) -> Image.Image:
    """image as RGBA, transparent where each of red, green and blue is within tolerance of
    color's (an already transparent pixel stays so)."""
    rgba = image.convert("RGBA")
    *channels, alpha = rgba.split()
    match = Image.new("L", rgba.size, 255)
    for channel, wanted in zip(channels, color, strict=True):
        low, high = wanted - tolerance, wanted + tolerance
        near = channel.point(lambda v, lo=low, hi=high: 255 if lo <= v <= hi else 0)
        match = ImageChops.multiply(match, near)
    rgba.putalpha(ImageChops.subtract(alpha, match))
    return rgba
