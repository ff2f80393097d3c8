"""The use case "render a WMS map": every layer's sources asked in order, merged, finished.

A layer's source is a cache (its tiles are mosaicked and warped by `render_from_cache`) or a
direct source, asked for the requested bbox in the requested SRS when it serves that SRS, else
in one it serves, and warped. Failures follow MapProxy's `on_source_errors`: `raise` fails the
map; `notify` draws each failure's message into the map, unless every source failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import attrs
from PIL import Image, ImageColor, ImageDraw

from domain import imaging
from domain.bbox import Bbox
from domain.coverage import Coverage, bbox_coverage, intersection, union
from domain.dimensions import LayerDimensions
from domain.errors import ConfigValueError, RequestError, SourceError
from domain.fonts import BUILTIN, TextFont
from domain.ports import MapQuery, MapSource
from domain.render import TileReader, render_from_cache
from domain.reprojecting_source import reprojected_image
from domain.res_range import ResRange
from domain.source_limits import LimitedSource, clip
from domain.srs import SRS, srs, transform_bbox
from domain.tiles import TileSet
from domain.warp import Resampling

OnSourceErrors = Literal["notify", "raise"]


@attrs.frozen
class CachedSource:
    """A cache used as a layer's source: one tile set per grid."""

    tilesets: tuple[TileSet, ...]
    # `use_direct_from_level`/`use_direct_from_res`: maps this fine (a resolution in the units
    # of the cache's first grid) or finer come from the cache's source, and are not stored.
    direct: DirectSource | None = None
    direct_res: float | None = None

    def bypassed(self, query: MapQuery) -> DirectSource | None:
        """The source to ask instead of the cache for query, if any."""
        if self.direct is None or self.direct_res is None:
            return None
        grid = self.tilesets[0].grid
        try:
            bbox = transform_bbox(query.bbox, query.srs, grid.srs)
        except ValueError:
            return None
        res = min(bbox.width / query.size[0], bbox.height / query.size[1])
        # As MapProxy: coarser than the threshold is the cache's; the tolerance keeps a map
        # at exactly the level's resolution from falling to the cache by a rounding.
        return self.direct if res <= self.direct_res * (1 + 1e-9) else None


@attrs.frozen
class DirectSource:
    """A source asked for each map; `supported_srs` None means it renders any SRS."""

    source: MapSource
    supported_srs: tuple[SRS, ...] | None = None
    # The source's `image.opacity`: its image faded before it is merged with the others.
    opacity: float | None = None
    # The source's `image.resampling_method`, where it says how its images are reprojected.
    resampling: Resampling | None = None


LayerSource = CachedSource | DirectSource


@attrs.frozen
class MapLayer:
    """A named layer as WMS renders it: its sources, bottom first, drawn where each of
    `res_ranges` (its own, its groups') contains the map's resolution."""

    name: str
    sources: tuple[LayerSource, ...]
    res_ranges: tuple[ResRange, ...] = ()
    # Where this request may see the layer (an access limit): it draws nothing outside.
    limit: Coverage | None = None
    # Its TIME, ELEVATION, ...: a request's values pick what its sources draw.
    dimensions: LayerDimensions | None = None

    def visible(self, query: MapQuery) -> bool:
        """Whether the layer is drawn in a map of query's scale."""
        return all(
            r.contains(query.bbox, query.size, query.srs) for r in self.res_ranges
        )


# Text in map images: Pillow's default size, which the built-in bitmap font had.
_MESSAGE_SIZE = 10


@attrs.frozen
class MapOptions:
    resampling: Resampling = "bicubic"
    max_tiles: int = 500
    on_source_errors: OnSourceErrors = "notify"
    # How `notify` writes source errors into the map: the words, and the font.
    describe: Callable[[SourceError], str] = str
    font: TextFont = BUILTIN


def render_map(
    query: MapQuery,
    layers: tuple[MapLayer, ...],
    read: TileReader,
    options: MapOptions = MapOptions(),
) -> Image.Image:
    """The layers' sources drawn over each other in order: RGBA, transparent where none drew;
    RGB when a single opaque image covers the map."""
    # Each layer is drawn over the map as it comes: no list of full-size images per request.
    merged: Image.Image | None = None
    errors: list[SourceError] = []
    for layer in layers:
        if not layer.visible(query):
            continue  # left out, as if it had drawn nothing
        for source in layer.sources:
            try:
                image = _render_source(query, source, read, options)
                if layer.limit is not None:
                    image = clip(image, layer.limit, query)
                if isinstance(source, DirectSource) and source.opacity is not None:
                    image = imaging.with_opacity(image, source.opacity)
                merged = imaging.over(merged, image)
            except SourceError as exc:
                if options.on_source_errors == "raise":
                    raise
                errors.append(exc)
    if errors and merged is None:
        raise errors[0]
    image = merged if merged is not None else _blank(query.size)
    if errors:
        text = "\n".join(options.describe(e) for e in errors)
        image = draw_message(image.convert("RGBA"), text, options.font)
    return image if image.mode in ("RGB", "RGBA") else image.convert("RGBA")


def _render_source(
    query: MapQuery, source: LayerSource, read: TileReader, options: MapOptions
) -> Image.Image:
    if isinstance(source, CachedSource) and (direct := source.bypassed(query)):
        source = direct
    if isinstance(source, CachedSource):
        return render_from_cache(
            query, source.tilesets, read, options.resampling, options.max_tiles
        )
    return reprojected_image(
        source.source,
        source.supported_srs,
        query,
        source.resampling or options.resampling,
    )


def finish(image: Image.Image, transparent: bool, bgcolor: str) -> Image.Image:
    """The map over its background: opaque `bgcolor` unless the client asked for transparency."""
    if transparent or image.mode == "RGB":
        return image
    background = Image.new("RGBA", image.size, parse_color(bgcolor))
    # convert() copies even an RGBA image: a whole map more of memory for nothing.
    background.alpha_composite(image if image.mode == "RGBA" else image.convert("RGBA"))
    return background.convert("RGB")


def parse_color(value: str) -> tuple[int, int, int, int]:
    """A WMS BGCOLOR (`0xRRGGBB`, also `#RRGGBB`) as an opaque RGBA colour."""
    text = value.strip()
    if text[:2].lower() == "0x":
        text = text[2:]
    text = text.removeprefix("#")
    if len(text) != 6 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise RequestError(f"BGCOLOR must be 0xRRGGBB, got {value!r}", param="bgcolor")
    red, green, blue = ImageColor.getrgb("#" + text)[:3]
    return (red, green, blue, 255)


def draw_message(
    image: Image.Image, text: str, font: TextFont = BUILTIN
) -> Image.Image:
    """image with text written in its top left corner, legible on any background."""
    draw = ImageDraw.Draw(image)
    sized = font.at(_MESSAGE_SIZE)
    # Long messages are cut: they go into a small image and are logged in full elsewhere.
    lines = [line[:200] for line in text.splitlines()[:20]]
    y = 5
    for line in lines:
        draw.text((6, y + 1), line, fill=(255, 255, 255, 255), font=sized)
        draw.text((5, y), line, fill=(0, 0, 0, 255), font=sized)
        y += 12
    return image


def extent(sources: tuple[LayerSource, ...]) -> Coverage:
    """Where a layer has data: its caches' first grid, its sources' coverages (or the world)."""
    parts = []
    for source in sources:
        if isinstance(source, CachedSource):
            grid = source.tilesets[0].grid
            parts.append(bbox_coverage(grid.bbox, grid.srs))
        elif isinstance(source.source, LimitedSource) and source.source.coverage:
            parts.append(source.source.coverage)
        else:
            parts.append(bbox_coverage(Bbox(-180, -90, 180, 90), srs("EPSG:4326")))
    return parts[0] if len(parts) == 1 else union(parts)


def extent_bbox(area: Coverage, target: SRS) -> Bbox | None:
    """The bbox of area in target; None where target cannot express it."""
    try:
        return area.transformed(target).bbox
    except (ConfigValueError, ValueError):
        return None


def limited_extent_bbox(area: Coverage, target: SRS, limit: Bbox | None) -> Bbox | None:
    """The bbox of area in target, kept within `limit` (a configured bbox in target): limit
    itself where area covers all of it, else the bbox of their overlap; None without one."""
    if limit is None:
        return extent_bbox(area, target)
    given = bbox_coverage(limit, target)
    try:
        # Compared in the area's own SRS, where a world-wide area still covers all of a
        # local SRS's bbox (in the local SRS it would shrink to that SRS's area of use).
        moved = given.transformed(area.srs)
    except (ConfigValueError, ValueError):
        return limit  # not comparable: the configured bbox is what the user asked for
    if area.geom.covers(moved.geom):
        return limit
    try:
        return intersection([area, moved]).transformed(target).bbox
    except (ConfigValueError, ValueError):
        return None


def _blank(size: tuple[int, int]) -> Image.Image:
    return Image.new("RGBA", size, (0, 0, 0, 0))
