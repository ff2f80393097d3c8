"""A `type: debug` source: images that show their own bbox and resolution, for checking a setup."""

from __future__ import annotations

import io

import attrs
from PIL import Image, ImageDraw

from domain.formats import image_format
from domain.ports import MapQuery, SourceImage

_TEXT = (0, 0, 0, 255)
_FRAME = (255, 0, 0, 255)


def debug_text(query: MapQuery) -> str:
    bbox = query.bbox
    res_x, res_y = bbox.width / query.size[0], bbox.height / query.size[1]
    return (
        f"{query.srs}\nbbox: {bbox.minx:.6f}, {bbox.miny:.6f},\n      {bbox.maxx:.6f}, {bbox.maxy:.6f}\n"
        f"res: {res_x:.6g}"
        + (f" x {res_y:.6g}" if abs(res_x - res_y) > 1e-9 * res_x else "")
    )


@attrs.define
class DebugSource:
    """Draws the query's bbox and resolution as text, with a frame, on a transparent image."""

    @property
    def supports_meta_tiles(self) -> bool:
        return True

    @property
    def transparent(self) -> bool:
        return True

    def get_map(self, query: MapQuery) -> SourceImage:
        fmt = image_format(query.format)
        img = Image.new("RGBA", query.size, (255, 255, 255, 0))
        draw = ImageDraw.Draw(img)
        draw.rectangle((0, 0, query.size[0] - 1, query.size[1] - 1), outline=_FRAME)
        draw.multiline_text((5, 5), debug_text(query), fill=_TEXT)
        if not fmt.supports_alpha:
            background = Image.new("RGB", query.size, (255, 255, 255))
            background.paste(img, mask=img)
            img = background
        elif fmt.pil_name == "GIF":
            img = img.convert("P")
        out = io.BytesIO()
        img.save(out, fmt.pil_name)
        return SourceImage(out.getvalue(), fmt.mime)
