"""The `geojson` source: draws the polygons of a GeoJSON file, offline, for any bbox and SRS."""

from __future__ import annotations

import io
import json
import math
import threading
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np
import shapely
from numpy.typing import NDArray
from PIL import Image, ImageColor, ImageDraw
from shapely.errors import GEOSException

from domain.bbox import Bbox
from domain.config import GeoJSONSourceConf
from domain.errors import ConfigValueError, SourceError
from domain.formats import find_format
from domain.ports import MapQuery, SourceImage
from domain.srs import SRS, srs, transform_points

# Mercator maps the poles to infinity. Web mercator grids end at 85.0511 degrees, but a cut
# there would leave a stroked edge along the grid's border: cut far beyond it instead.
_MERCATOR_MAX_LAT = 89.0
# Drawn at this factor and reduced: PIL draws aliased edges, a 2x2 box average smooths them.
_SUPERSAMPLE = 2
# Above this many pixels (large WMS requests) the two masks would take too much memory.
_SUPERSAMPLE_MAX_PIXELS = 2048 * 2048
# Clip polygons to the query grown by this many pixels, so edges the clip creates stay unseen
# and pixel coordinates stay far from PIL's int32 limits at deep zoom levels.
_CLIP_MARGIN_PX = 4
_STROKE_WIDTH_PX = 1
_AREA_OF_USE_MARGIN = 30.0
_MAX_SEGMENT_DEG = 1.0


@attrs.define
class _Layer:
    """The polygons transformed into one SRS, largest bounds first, with a bbox index."""

    polygons: list[shapely.Polygon]
    tree: shapely.STRtree


@attrs.define(init=False)
class GeoJSONSource:
    """Renders the Polygon and MultiPolygon geometries of GeoJSON `text` (the file in `conf.file`).

    The caller reads the file; other geometry types are ignored. Bad JSON, bad coordinates,
    colours or SRS raise ConfigValueError here rather than on the first request.
    """

    conf: GeoJSONSourceConf
    _fill: tuple[int, int, int]
    _stroke: tuple[int, int, int]
    _background: tuple[int, int, int, int]
    _data_srs: SRS
    _polygons: list[shapely.Polygon] = attrs.field(repr=False)
    _layers: dict[str, _Layer] = attrs.field(factory=dict, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    def __init__(self, conf: GeoJSONSourceConf, text: str) -> None:
        background = (
            *_color(conf.background, "background"),
            0 if conf.transparent else 255,
        )
        self.__attrs_init__(
            conf,
            _color(conf.fill, "fill"),
            _color(conf.stroke, "stroke"),
            background,
            srs(conf.srs),
            _parse(text, conf.file),
        )

    @property
    def supports_meta_tiles(self) -> bool:
        return True

    @property
    def transparent(self) -> bool:
        return self.conf.transparent

    def get_map(self, query: MapQuery) -> SourceImage:
        fmt = find_format(query.format)
        if fmt is None:
            raise SourceError(f"geojson source cannot encode {query.format!r}")
        img = self._render(query)
        out = io.BytesIO()
        if fmt.supports_alpha:
            img.save(out, fmt.pil_name)
        else:
            img.convert("RGB").save(out, fmt.pil_name)
        return SourceImage(out.getvalue(), query.format)

    def _render(self, query: MapQuery) -> Image.Image:
        width, height = query.size
        ss = _SUPERSAMPLE if width * height <= _SUPERSAMPLE_MAX_PIXELS else 1
        bbox = query.bbox
        scale_x, scale_y = (
            width * ss / bbox.width,
            height * ss / bbox.height,
        )
        margin_x, margin_y = (
            _CLIP_MARGIN_PX * bbox.width / width,
            _CLIP_MARGIN_PX * bbox.height / height,
        )
        clip = (
            bbox.minx - margin_x,
            bbox.miny - margin_y,
            bbox.maxx + margin_x,
            bbox.maxy + margin_y,
        )

        def pixels(ring: shapely.LinearRing) -> list[float]:
            coords = shapely.get_coordinates(ring)
            # PIL puts integer coordinates on pixel centres; ours are on pixel corners.
            xy = np.column_stack(
                (
                    (coords[:, 0] - bbox.minx) * scale_x - 0.5,
                    (bbox.maxy - coords[:, 1]) * scale_y - 0.5,
                )
            )
            return xy.ravel().tolist()

        layer = self._layer(query.srs)
        big = (width * ss, height * ss)
        fill_mask, stroke_mask = Image.new("L", big, 0), Image.new("L", big, 0)
        fill_draw, stroke_draw = ImageDraw.Draw(fill_mask), ImageDraw.Draw(stroke_mask)
        clip_bbox = Bbox(*clip)
        # Index order is largest bounds first, so an island in a lake is drawn after the lake.
        for i in sorted(layer.tree.query(shapely.box(*clip)).tolist()):
            polygon = layer.polygons[i]
            geom = (
                polygon
                if clip_bbox.contains(Bbox(*polygon.bounds))
                else shapely.clip_by_rect(polygon, *clip)
            )
            for part in _polygon_parts(geom):
                rings = [
                    pixels(part.exterior),
                    *(pixels(hole) for hole in part.interiors),
                ]
                fill_draw.polygon(rings[0], fill=255)
                for hole in rings[1:]:
                    fill_draw.polygon(hole, fill=0)
                for ring in rings:
                    stroke_draw.line(ring, fill=255, width=_STROKE_WIDTH_PX * ss)

        img = Image.new("RGBA", (width, height), self._background)
        for color, mask in ((self._fill, fill_mask), (self._stroke, stroke_mask)):
            if mask.getbbox() is None:
                continue
            paint = Image.new("RGBA", (width, height), (*color, 255))
            paint.putalpha(mask.reduce(ss) if ss > 1 else mask)
            img.alpha_composite(paint)
        return img

    def _layer(self, target: SRS) -> _Layer:
        if (layer := self._layers.get(target.code)) is not None:
            return layer
        with self._lock:
            if (layer := self._layers.get(target.code)) is None:
                layer = self._layers[target.code] = _project(
                    self._polygons, self._data_srs, target
                )
        return layer


def _project(polygons: list[shapely.Polygon], src: SRS, dst: SRS) -> _Layer:
    geoms: list[shapely.Geometry] = list(polygons)
    if src.is_latlong and (cut := _lonlat_domain(dst)) is not None:
        # Long straight edges (borders along parallels, cuts) curve in most projections.
        geoms = [
            shapely.segmentize(shapely.clip_by_rect(g, *cut), _MAX_SEGMENT_DEG)
            for g in geoms
        ]

    def transform(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.array(
            transform_points([(x, y) for x, y in coords.tolist()], src, dst),
            dtype=np.float64,
        )

    try:
        projected = [shapely.transform(g, transform) for g in geoms]
    except (
        Exception
    ) as exc:  # pyproj raises several unrelated classes for impossible transformations
        raise SourceError(
            f"cannot transform geojson polygons from {src} to {dst}: {exc}"
        ) from exc
    # Outside a projection's domain pyproj answers inf: such polygons cannot be drawn.
    parts = [
        p
        for g in projected
        for p in _polygon_parts(g)
        if not p.is_empty and bool(np.isfinite(shapely.get_coordinates(p)).all())
    ]
    parts.sort(key=_bounds_area, reverse=True)
    return _Layer(parts, shapely.STRtree(parts))


def _lonlat_domain(target: SRS) -> tuple[float, float, float, float] | None:
    """The lon/lat box to cut geometries to before projecting them to `target`, if any.

    Far from their area of use, projections fold the world over (transverse mercator puts
    the other side of the globe across the map) or send it to infinity, so geometries are
    cut at `_AREA_OF_USE_MARGIN` degrees around it.
    """
    crs = target.crs
    if crs.is_geographic:
        return None
    west, south, east, north = -180.0, -90.0, 180.0, 90.0
    if (area := crs.area_of_use) is not None:
        south, north = (
            max(south, area.south - _AREA_OF_USE_MARGIN),
            min(north, area.north + _AREA_OF_USE_MARGIN),
        )
        if (
            area.west <= area.east
        ):  # an area across the antimeridian keeps every longitude
            west, east = (
                max(west, area.west - _AREA_OF_USE_MARGIN),
                min(east, area.east + _AREA_OF_USE_MARGIN),
            )
    operation = crs.coordinate_operation
    method = operation.method_name.lower() if operation is not None else ""
    if "mercator" in method and "transverse" not in method:
        south, north = max(south, -_MERCATOR_MAX_LAT), min(north, _MERCATOR_MAX_LAT)
    return (west, south, east, north)


def _bounds_area(polygon: shapely.Polygon) -> float:
    minx, miny, maxx, maxy = polygon.bounds
    return (maxx - minx) * (maxy - miny)


def _polygon_parts(geom: shapely.Geometry) -> Iterator[shapely.Polygon]:
    if isinstance(geom, shapely.Polygon):
        if not geom.is_empty:
            yield geom
    elif isinstance(geom, shapely.MultiPolygon | shapely.GeometryCollection):
        for part in geom.geoms:
            yield from _polygon_parts(part)


def _color(value: str, key: str) -> tuple[int, int, int]:
    try:
        rgb = ImageColor.getrgb(value)
    except ValueError as exc:
        raise ConfigValueError(f"{key}: not a colour: {value!r}") from exc
    return (rgb[0], rgb[1], rgb[2])


def _parse(text: str, file: str) -> list[shapely.Polygon]:
    """The polygons of a GeoJSON document, each part of a MultiPolygon on its own."""
    try:
        doc = json.loads(text)
        polygons = list(_polygons_in(doc))
    except json.JSONDecodeError as exc:
        raise ConfigValueError(f"{file}: not JSON: {exc}") from exc
    except (ValueError, TypeError, KeyError, IndexError, GEOSException) as exc:
        raise ConfigValueError(f"{file}: invalid GeoJSON: {exc}") from exc
    # Invalid polygons (self-intersections, common in simplified data) make clipping fail.
    return [
        part
        for p in polygons
        for part in (_polygon_parts(shapely.make_valid(p)) if not p.is_valid else [p])
    ]


def _polygons_in(obj: Any) -> Iterator[shapely.Polygon]:
    if not isinstance(obj, dict):
        raise TypeError(f"expected a GeoJSON object, got {type(obj).__name__}")
    kind = obj.get("type")
    if kind == "FeatureCollection":
        for feature in obj["features"]:
            yield from _polygons_in(feature)
    elif kind == "Feature":
        if obj.get("geometry") is not None:
            yield from _polygons_in(obj["geometry"])
    elif kind == "GeometryCollection":
        for geometry in obj["geometries"]:
            yield from _polygons_in(geometry)
    elif kind == "Polygon":
        if obj["coordinates"]:
            yield _polygon(obj["coordinates"])
    elif kind == "MultiPolygon":
        for rings in obj["coordinates"]:
            if rings:
                yield _polygon(rings)
    elif kind not in ("Point", "MultiPoint", "LineString", "MultiLineString"):
        raise ValueError(f"unknown GeoJSON type {kind!r}")


def _polygon(rings: list[list[list[float]]]) -> shapely.Polygon:
    shell, *holes = ([(float(p[0]), float(p[1])) for p in ring] for ring in rings)
    if not all(math.isfinite(v) for ring in (shell, *holes) for p in ring for v in p):
        raise ValueError("coordinates must be finite numbers")
    return shapely.Polygon(shell, holes)
