"""A cache used as the source of another cache (MapProxy's cache-to-cache sources).

The lower cache's tiles are mosaicked and warped into whatever bbox, size and SRS the upper
cache asks for (`render_from_cache`), creating and storing the lower tiles as needed, and the
result is encoded in the query's format.
"""

from __future__ import annotations

import attrs

from domain import imaging
from domain.formats import image_format
from domain.ports import MapQuery, SourceImage
from domain.render import TileReader, render_from_cache
from domain.tiles import TileSet
from domain.warp import Resampling

# What the upper cache decodes again: lossless and full colour, the upper cache quantises.
_LOSSLESS = imaging.EncodeOptions(paletted=False)


@attrs.frozen
class CacheSource:
    """A MapSource drawing from a cache's tile sets; `read` gives a stored tile's bytes."""

    tilesets: tuple[TileSet, ...]
    read: TileReader
    resampling: Resampling = "bicubic"
    max_tiles: int = 500

    @property
    def supports_meta_tiles(self) -> bool:
        return True

    @property
    def transparent(self) -> bool:
        return True  # transparent wherever the lower cache has no tiles

    def get_map(self, query: MapQuery) -> SourceImage:
        image = render_from_cache(
            query, self.tilesets, self.read, self.resampling, self.max_tiles
        )
        fmt = image_format(query.format)
        return SourceImage(imaging.encode(image, fmt, _LOSSLESS), fmt.mime)
