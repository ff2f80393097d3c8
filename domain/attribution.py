"""The attribution line (`services.wms.attribution.text`) drawn into WMS maps."""

from __future__ import annotations

from PIL import Image, ImageDraw

from domain.fonts import BUILTIN, TextFont

# A translucent white plate keeps dark text legible on any map and lets a transparent map
# stay mostly transparent.
_PLATE = (255, 255, 255, 150)
_INK = (0, 0, 0, 255)
_PADDING = 3
# A longer text is cut: the line must stay one small line in the corner.
_MAX_CHARS = 200
_SIZE = 10


def draw_attribution(
    image: Image.Image, text: str, font: TextFont = BUILTIN
) -> Image.Image:
    """image (RGBA) with text on a plate in its bottom right corner."""
    line = " ".join(text.split())[:_MAX_CHARS]
    if not line:
        return image.convert("RGBA")
    sized = font.at(_SIZE)
    left, top, right, bottom = ImageDraw.Draw(image).textbbox((0, 0), line, font=sized)
    width, height = image.size
    plate_w, plate_h = right - left + 2 * _PADDING, bottom - top + 2 * _PADDING
    x0, y0 = width - plate_w, height - plate_h
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((x0, y0, width - 1, height - 1), fill=_PLATE)
    draw.text((x0 + _PADDING - left, y0 + _PADDING - top), line, fill=_INK, font=sized)
    out = image.convert("RGBA")
    out.alpha_composite(overlay)
    return out
