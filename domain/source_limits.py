"""Where and at which resolutions a source is asked at all: its `coverage`, `min_res`/`max_res`
and `seed_only`.

Outside them a source answers with a transparent image without any request (as in MapProxy);
a coverage with `clip` also cuts what the source returns to the coverage's shape. A `seed_only`
source is never asked while serving requests, only by seeding.
"""

from __future__ import annotations

import io

import attrs
import shapely
from PIL import Image, ImageDraw
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from domain import imaging
from domain.coverage import Coverage
from domain.formats import image_format
from domain.ports import MapQuery, MapSource, SourceImage
from domain.res_range import ResRange


@attrs.frozen
class LimitedSource:
    """A source behind its coverage and resolution range."""

    source: MapSource
    coverage: Coverage | None = None
    res_range: ResRange | None = None
    seed_only: bool = False

    @property
    def supports_meta_tiles(self) -> bool:
        return self.source.supports_meta_tiles

    @property
    def transparent(self) -> bool:
        return True

    def get_map(self, query: MapQuery) -> SourceImage:
        if (
            self.seed_only
            or (
                self.res_range is not None
                and not self.res_range.contains(query.bbox, query.size, query.srs)
            )
            or (
                self.coverage is not None
                and not self.coverage.intersects(query.bbox, query.srs)
            )
        ):
            return blank(query)
        result = self.source.get_map(query)
        if self.coverage is None or not self.coverage.clip:
            return result
        return clipped_image(result, self.coverage, query)


def clip(image: Image.Image, coverage: Coverage, query: MapQuery) -> Image.Image:
    """The query's image cut to the coverage: transparent outside it."""
    if coverage.contains(query.bbox, query.srs):
        return image
    clipped = Image.new("RGBA", query.size, (255, 255, 255, 0))
    if coverage.intersects(query.bbox, query.srs):
        clipped.paste(image.convert("RGBA"), mask=coverage_mask(coverage, query))
    return clipped


def clipped_image(
    result: SourceImage, coverage: Coverage, query: MapQuery
) -> SourceImage:
    """An encoded image of the query cut to the coverage, re-encoded only where it was cut."""
    if coverage.contains(query.bbox, query.srs):
        return result
    if not coverage.intersects(query.bbox, query.srs):
        return like(result, blank(query))
    image = imaging.decode(result.data, query.size)
    return like(result, _encoded(clip(image, coverage, query), query))


def like(result: SourceImage, image: SourceImage) -> SourceImage:
    """image, made from result, with result's `on_error` marks (not cached, stale allowed)."""
    return attrs.evolve(
        image, cacheable=result.cacheable, authorize_stale=result.authorize_stale
    )


def blank(query: MapQuery) -> SourceImage:
    """A transparent image (white where the format has no alpha) of the query's size."""
    return _encoded(Image.new("RGBA", query.size, (255, 255, 255, 0)), query)


def _encoded(image: Image.Image, query: MapQuery) -> SourceImage:
    fmt = image_format(query.format)
    out = io.BytesIO()
    (image if fmt.supports_alpha else image.convert("RGB")).save(out, fmt.pil_name)
    return SourceImage(out.getvalue(), fmt.mime)


def coverage_mask(coverage: Coverage, query: MapQuery) -> Image.Image:
    """An 8-bit mask of the query's image: 255 inside the coverage, 0 outside."""
    b = query.bbox
    width, height = query.size
    geom = shapely.intersection(
        coverage.transformed(query.srs).geom, box(*b.as_tuple())
    )
    mask = Image.new("L", query.size, 0)
    draw = ImageDraw.Draw(mask)
    sx, sy = width / b.width, height / b.height

    def pixels(coords: list[tuple[float, ...]]) -> list[tuple[float, float]]:
        return [((c[0] - b.minx) * sx, (b.maxy - c[1]) * sy) for c in coords]

    for polygon in _polygons(geom):
        draw.polygon(pixels(list(polygon.exterior.coords)), fill=255)
        for hole in polygon.interiors:
            draw.polygon(pixels(list(hole.coords)), fill=0)
    return mask


def _polygons(geom: BaseGeometry) -> list[shapely.Polygon]:
    if isinstance(geom, shapely.Polygon):
        return [geom]
    if isinstance(geom, shapely.MultiPolygon | shapely.GeometryCollection):
        return [p for g in geom.geoms for p in _polygons(g)]
    return []
