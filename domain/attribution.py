"""The attribution line (`services.wms.attribution.text`) drawn into WMS maps."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

# A translucent white plate keeps dark text legible on any map and lets a transparent map
# stay mostly transparent.
_PLATE = (255, 255, 255, 150)
_INK = (0, 0, 0, 255)
_PADDING = 3
# A longer text is cut: the line must stay one small line in the corner.
_MAX_CHARS = 200


def draw_attribution(image: Image.Image, text: str) -> Image.Image:
    """image (RGBA) with text on a plate in its bottom right corner."""
    line = " ".join(text.split())[:_MAX_CHARS]
    if not line:
        return image.convert("RGBA")
    font = ImageFont.load_default()
    left, top, right, bottom = ImageDraw.Draw(image).textbbox((0, 0), line, font=font)
    width, height = image.size
    plate_w, plate_h = right - left + 2 * _PADDING, bottom - top + 2 * _PADDING
    x0, y0 = width - plate_w, height - plate_h
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((x0, y0, width - 1, height - 1), fill=_PLATE)
    draw.text((x0 + _PADDING - left, y0 + _PADDING - top), line, fill=_INK, font=font)
    out = image.convert("RGBA")
    out.alpha_composite(overlay)
    return out
