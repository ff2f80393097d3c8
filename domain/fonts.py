"""The fonts text is drawn with (watermarks, attribution, messages in images): TrueType data
from `globals.image.font_dir`, or Pillow's built-in scalable font."""

from __future__ import annotations

import io

import attrs
from PIL import ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@attrs.frozen(eq=False)
class TextFont:
    """One typeface: a TrueType file's bytes (None: Pillow's built-in font), sized on demand."""

    data: bytes | None = None
    _sized: dict[float, Font] = attrs.field(factory=dict, init=False, repr=False)

    def at(self, size: float) -> Font:
        if (font := self._sized.get(size)) is None:
            if self.data is None:
                font = ImageFont.load_default(size)
            else:
                font = ImageFont.truetype(io.BytesIO(self.data), size)
            self._sized[size] = font
        return font


BUILTIN = TextFont()


@attrs.frozen
class Fonts:
    """`sans` for watermarks and attribution, `mono` for messages, as MapProxy uses DejaVu Sans
    and DejaVu Sans Mono."""

    sans: TextFont = BUILTIN
    mono: TextFont = BUILTIN
