"""Coverages: areas in an SRS (a bbox, polygons, or combinations) that tiles and maps are tested against."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs
import numpy as np
import shapely
from shapely.errors import GEOSException, ShapelyError
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from domain.bbox import Bbox
from domain.errors import ConfigValueError
from domain.srs import SRS, same_srs, transform_points
from domain.srs import srs as make_srs

# Points per edge when a coverage is reprojected: straight lines in one SRS are curves in another.
_DENSIFY_PTS = 64
# Tiles of an `expire_tiles` list are GLOBAL_WEBMERCATOR's, counted from the top left.
_MERCATOR_EXTENT = 20037508.342789244


@attrs.frozen
class Coverage:
    """A polygonal area in `srs`; `clip` asks that images be cut to it (MapProxy's `clip: true`)."""

    geom: BaseGeometry
    srs: SRS
    clip: bool = False
    _transformed: dict[str, Coverage] = attrs.field(
        factory=dict, init=False, eq=False, hash=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        if self.geom.is_empty:
            raise ConfigValueError("coverage is empty")
        # Prepared in place: every later predicate on geom uses the prepared index.
        shapely.prepare(self.geom)

    @property
    def bbox(self) -> Bbox:
        """The coverage's extent in its own SRS."""
        return Bbox(*self.geom.bounds)

    def intersects(self, bbox: Bbox, srs: SRS) -> bool:
        """True if bbox (in srs) shares area with the coverage; touching edges do not count."""
        geom = self.transformed(srs).geom
        query = box(*bbox.as_tuple())
        return bool(shapely.intersects(geom, query)) and not bool(
            shapely.touches(geom, query)
        )

    def contains(self, bbox: Bbox, srs: SRS) -> bool:
        """True if bbox (in srs) lies inside the coverage, its edges on the coverage's edges included."""
        return bool(shapely.covers(self.transformed(srs).geom, box(*bbox.as_tuple())))

    def transformed(self, srs: SRS) -> Coverage:
        """The same area in another SRS, edges densified before reprojection; cached per SRS."""
        if same_srs(self.srs, srs):
            return self
        if (done := self._transformed.get(srs.code)) is None:
            done = Coverage(_reproject(self.geom, self.srs, srs), srs, self.clip)
            self._transformed[srs.code] = done
        return done


def bbox_coverage(bbox: Bbox, srs: SRS, clip: bool = False) -> Coverage:
    return Coverage(box(*bbox.as_tuple()), srs, clip)


def polygon_coverage(text: str, srs: SRS, clip: bool = False) -> Coverage:
    """A coverage from WKT (one polygon or multipolygon per line, or one geometry) or GeoJSON text."""
    stripped = text.strip()
    if not stripped:
        raise ConfigValueError("coverage polygons are empty")
    polygons = (
        _from_geojson(stripped) if stripped.startswith("{") else _from_wkt(stripped)
    )
    return Coverage(_polygonal(shapely.union_all(polygons)), srs, clip)


def geometry_coverage(
    geoms: Iterable[BaseGeometry], srs: SRS, clip: bool = False
) -> Coverage:
    """A coverage of the polygons among `geoms` (lines and points, which have no area, are
    left out, as MapProxy leaves them out of OGR datasources)."""
    polygons = [g for g in geoms if g.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons:
        raise ConfigValueError("has no polygons")
    return Coverage(_polygonal(shapely.union_all(polygons)), srs, clip)


def union(coverages: Iterable[Coverage], clip: bool = False) -> Coverage:
    """The area of any of the coverages, in the first one's SRS."""
    first, rest = _split(coverages, "union")
    geom = shapely.union_all(
        [first.geom, *(c.transformed(first.srs).geom for c in rest)]
    )
    return Coverage(_polygonal(geom), first.srs, clip)


def intersection(coverages: Iterable[Coverage], clip: bool = False) -> Coverage:
    """The area all coverages share, in the first one's SRS."""
    first, rest = _split(coverages, "intersection")
    geom = shapely.intersection_all(
        [first.geom, *(c.transformed(first.srs).geom for c in rest)]
    )
    return Coverage(_polygonal(geom, "intersection"), first.srs, clip)


def difference(coverages: Iterable[Coverage], clip: bool = False) -> Coverage:
    """The first coverage without the area of the others, in the first one's SRS."""
    first, rest = _split(coverages, "difference")
    geom = first.geom
    for other in rest:
        geom = shapely.difference(geom, other.transformed(first.srs).geom)
    return Coverage(_polygonal(geom, "difference"), first.srs, clip)


def _split(coverages: Iterable[Coverage], what: str) -> tuple[Coverage, list[Coverage]]:
    items = list(coverages)
    if not items:
        raise ConfigValueError(f"a coverage {what} needs at least one coverage")
    return items[0], items[1:]


def _from_wkt(text: str) -> list[BaseGeometry]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    try:
        geoms = [shapely.from_wkt(line) for line in lines]
    except (GEOSException, ShapelyError):
        # Not one geometry per line: perhaps one geometry spread over several lines.
        try:
            geoms = [shapely.from_wkt(text)]
        except (GEOSException, ShapelyError) as exc:
            raise ConfigValueError(f"invalid WKT: {exc}") from None
    for geom in geoms:
        _check_polygonal(geom.geom_type)
    return geoms


def _from_geojson(text: str) -> list[BaseGeometry]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ConfigValueError(f"invalid GeoJSON: {exc}") from None
    return [_geojson_geometry(g) for g in _geojson_geometries(doc)]


def _geojson_geometries(doc: Any) -> list[Any]:
    if not isinstance(doc, dict):
        raise ConfigValueError("invalid GeoJSON: expected an object")
    kind = doc.get("type")
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise ConfigValueError(
                "invalid GeoJSON: a FeatureCollection needs a list of features"
            )
        return [g for f in features for g in _geojson_geometries(f)]
    if kind == "Feature":
        geometry = doc.get("geometry")
        return [] if geometry is None else _geojson_geometries(geometry)
    if kind == "GeometryCollection":
        return [
            g for part in doc.get("geometries") or [] for g in _geojson_geometries(part)
        ]
    _check_polygonal(str(kind))
    return [doc]


def _geojson_geometry(geometry: Any) -> BaseGeometry:
    try:
        return shape(geometry)
    except (
        GEOSException,
        ShapelyError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
    ) as exc:
        raise ConfigValueError(
            f"invalid GeoJSON {geometry.get('type')}: {exc}"
        ) from None


def _check_polygonal(kind: str) -> None:
    if kind not in ("Polygon", "MultiPolygon"):
        raise ConfigValueError(
            f"coverage geometries must be Polygon or MultiPolygon, not {kind}"
        )


def _polygonal(geom: BaseGeometry, what: str = "coverage") -> BaseGeometry:
    """geom made valid (self-intersecting rings are common in the wild), its polygons only."""
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    if geom.geom_type == "GeometryCollection":
        # Shared edges and corners of combined coverages: lines and points have no area.
        geom = shapely.union_all(
            [
                g
                for g in shapely.get_parts(geom)
                if g.geom_type in ("Polygon", "MultiPolygon")
            ]
        )
    if geom.is_empty or geom.area == 0:
        raise ConfigValueError(f"{what} is empty")
    return geom


def _reproject(geom: BaseGeometry, src: SRS, dst: SRS) -> BaseGeometry:
    minx, miny, maxx, maxy = geom.bounds
    dense = shapely.segmentize(geom, max(maxx - minx, maxy - miny) / _DENSIFY_PTS)
    area = dst.crs.area_of_use
    if (
        src.is_latlong
        and area is not None
        and area.west <= -179.9
        and area.east >= 179.9
    ):
        # A world-wide projection without the poles (web mercator ends at 85.06°): points beyond
        # come out huge rather than infinite, so cut at its latitudes before projecting.
        dense = shapely.intersection(dense, box(-180, area.south, 180, area.north))
    moved = _transform(dense, src, dst)
    if not _finite(moved):
        # Beyond where dst is defined (latitude 90 in web mercator): keep the part inside its area of use.
        moved = _transform(
            shapely.intersection(dense, _area_of_use(dst, src)), src, dst
        )
        if not _finite(moved):
            raise ConfigValueError(
                f"coverage cannot be transformed from {src} to {dst}"
            )
    return _polygonal(moved)


def _transform(geom: BaseGeometry, src: SRS, dst: SRS) -> BaseGeometry:
    def points(coords: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return np.array(
            transform_points([(float(x), float(y)) for x, y in coords], src, dst),
            dtype=float,
        ).reshape(-1, 2)

    return shapely.transform(geom, points)


def _finite(geom: BaseGeometry) -> bool:
    return geom.is_empty or bool(np.isfinite(shapely.get_coordinates(geom)).all())


def _area_of_use(dst: SRS, src: SRS) -> BaseGeometry:
    area = dst.crs.area_of_use
    if area is None:
        raise ConfigValueError(f"coverage cannot be transformed from {src} to {dst}")
    lonlat = box(area.west, area.south, area.east, area.north)
    if same_srs(src, make_srs("EPSG:4326")) or same_srs(src, make_srs("CRS:84")):
        return lonlat
    return _transform(shapely.segmentize(lonlat, 1.0), make_srs("EPSG:4326"), src)


def expire_tiles_coverage(text: str, clip: bool) -> Coverage:
    """The web mercator tiles an expire-tiles file (`z/x/y` lines, as osm2pgsql writes) lists."""
    boxes = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not (line := line.strip()):
            continue
        try:
            z, x, y = (int(v) for v in line.split("/"))
        except ValueError:
            raise ConfigValueError(
                f"expire_tiles line {number}: expected z/x/y, got {line!r}"
            ) from None
        if z < 0 or not (0 <= x < 2**z and 0 <= y < 2**z):
            raise ConfigValueError(
                f"expire_tiles line {number}: tile {line} is outside the web mercator grid"
            )
        size = 2 * _MERCATOR_EXTENT / 2**z
        minx = -_MERCATOR_EXTENT + x * size
        maxy = _MERCATOR_EXTENT - y * size
        boxes.append(
            box(
                minx,
                _MERCATOR_EXTENT - (y + 1) * size,
                -_MERCATOR_EXTENT + (x + 1) * size,
                maxy,
            )
        )
    if not boxes:
        raise ConfigValueError("expire_tiles lists no tiles")
    return Coverage(shapely.union_all(boxes), make_srs("EPSG:3857"), clip)
