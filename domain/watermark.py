"""A cache's `watermark`: a short text drawn into every new tile before it is stored.

Placement follows MapProxy's, so a Tilegate cache looks like a MapProxy one: the text sits at
mid-height of each tile, centred on even rows and split across the left and right edges on odd
rows (a brick pattern that reads as one continuous line of text across neighbouring tiles);
`spacing: wide` draws it centred on every second tile only, as a checkerboard. Rows count as the
grid counts them (its origin), the same tiles as MapProxy marks.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs
from PIL import Image, ImageColor, ImageDraw

from domain.errors import ConfigValueError
from domain.fonts import BUILTIN, TextFont
from domain.grid import TileCoord

# MapProxy's defaults: grey at 30 of 255, 24 pixels.
DEFAULT_COLOR = (128, 128, 128)
MAX_FONT_SIZE = 1000


def _opacity(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not 0 <= value <= 255:
        raise ConfigValueError(
            f"watermark opacity must be between 0 and 255, got {value}"
        )


def _font_size(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    # Bounded: Pillow renders the whole text at this size before clipping it to the tile.
    if not 0 < value <= MAX_FONT_SIZE:
        raise ConfigValueError(
            f"watermark font_size must be above 0 and at most {MAX_FONT_SIZE}, got {value}"
        )


def _color(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    parse_color(value)


def parse_color(value: object) -> tuple[int, int, int]:
    """A watermark colour: `#rrggbb`, a CSS name (`red`), or a list `[r, g, b]` of 0 to 255."""
    if isinstance(value, str):
        try:
            red, green, blue = ImageColor.getrgb(value)[:3]
            return (red, green, blue)
        except ValueError:
            raise ConfigValueError(
                f"watermark color {value!r} is no colour (use #rrggbb, a colour name or [r, g, b])"
            ) from None
    if (
        isinstance(value, list | tuple)
        and len(value) == 3
        and all(
            isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 255
            for v in value
        )
    ):
        red, green, blue = (round(v) for v in value)
        return (red, green, blue)
    raise ConfigValueError(
        f"watermark color must be #rrggbb, a colour name or [r, g, b] of 0 to 255, got {value!r}"
    )


@attrs.frozen
class WatermarkConf:
    """A cache's `watermark:` options; no `text`, no watermark (as MapProxy)."""

    text: str = ""
    font_size: float = attrs.field(default=24, validator=_font_size)
    # `#rrggbb`, a colour name or [r, g, b]: checked here, read through `rgb`.
    color: object = attrs.field(default=DEFAULT_COLOR, validator=_color)
    opacity: float = attrs.field(default=30, validator=_opacity)
    spacing: Literal["wide"] | None = None

    @property
    def rgb(self) -> tuple[int, int, int]:
        return parse_color(self.color)


def draw_watermark(
    img: Image.Image, coord: TileCoord, conf: WatermarkConf, font: TextFont = BUILTIN
) -> Image.Image:
    """The tile at coord with the watermark text on it; pixels away from the text are unchanged."""
    centres = _text_centres(coord, img.size[0], conf.spacing == "wide")
    if not conf.text or not centres or conf.opacity == 0:
        return img
    mask = Image.new("L", img.size, 0)
    draw = ImageDraw.Draw(mask)
    sized = font.at(conf.font_size)
    middle = img.size[1] / 2
    for x in centres:
        draw.text((x, middle), conf.text, fill=255, font=sized, anchor="mm")
    # The text's coverage times the opacity: anti-aliased edges stay soft.
    alpha = mask.point(lambda v: round(v * conf.opacity / 255))
    overlay = Image.new("RGBA", img.size, (*conf.rgb, 0))
    overlay.putalpha(alpha)
    keeps_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
    out = img.convert("RGBA")
    out.alpha_composite(overlay)
    return out if keeps_alpha else out.convert("RGB")


def _text_centres(coord: TileCoord, width: int, wide: bool) -> tuple[float, ...]:
    """Where in the tile the text is centred horizontally (none: this tile stays clean)."""
    odd_row = coord.y % 2 == 1
    if wide:
        return (width / 2,) if odd_row != (coord.x % 2 == 1) else ()
    if odd_row:
        # Half the text on this tile's left edge, half on its right: the neighbours draw the
        # other halves, so the row reads as whole words.
        return (0, width)
    return (width / 2,)
