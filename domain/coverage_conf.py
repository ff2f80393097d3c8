"""The coverage a `coverage:` entry of the configuration describes, read through a port that
opens what it names: polygon files, expire-tiles lists and OGR datasources."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import shapely
from shapely.errors import GEOSException, ShapelyError
from shapely.geometry.base import BaseGeometry

from domain.bbox import Bbox
from domain.config import CoverageConf
from domain.coverage import (
    Coverage,
    bbox_coverage,
    difference,
    expire_tiles_coverage,
    geometry_coverage,
    intersection,
    polygon_coverage,
    union,
)
from domain.errors import ConfigValueError
from domain.srs import SRS
from domain.srs import srs as make_srs

_KINDS = (
    "bbox",
    "polygons",
    "datasource",
    "ogr_datasource",
    "expire_tiles",
    "union",
    "intersection",
    "difference",
)
# What MapProxy reads itself rather than through OGR: WKT or (unfiltered) GeoJSON text.
_WKT_START = (b"polygon", b"multipolygon")


class CoverageFiles(Protocol):
    """What a coverage's configuration names, relative to the configuration's directory."""

    def read_text(self, path: str) -> str:
        """A text file's content; ConfigValueError if it cannot be read."""

    def head(self, path: str) -> bytes | None:
        """The first bytes of the file at `path`, or None where no such file exists."""

    def read_features(self, datasource: str, where: str | None) -> list[bytes]:
        """The WKB geometries of an OGR datasource's first layer, filtered by `where` (an
        attribute filter, or a whole `SELECT` statement); ConfigValueError if it fails."""


def coverage_from_conf(conf: CoverageConf, files: CoverageFiles) -> Coverage:
    """The coverage `conf` describes; ConfigValueError saying what is wrong with it."""
    found = [k for k in _KINDS if getattr(conf, k) is not None]
    if len(found) != 1:
        raise ConfigValueError(
            f"a coverage needs exactly one of {', '.join(_KINDS)} "
            f"(found {', '.join(found) or 'none'})"
        )
    kind = found[0]
    if conf.where is not None and kind != "datasource":
        raise ConfigValueError("coverage option where goes with a datasource")
    if conf.ogr_where is not None and kind != "ogr_datasource":
        raise ConfigValueError("coverage option ogr_where goes with an ogr_datasource")
    for parts, combine in (
        (conf.union, union),
        (conf.intersection, intersection),
        (conf.difference, difference),
    ):
        if parts is not None:
            return combine([coverage_from_conf(c, files) for c in parts], conf.clip)
    if conf.expire_tiles is not None:
        return expire_tiles_coverage(files.read_text(conf.expire_tiles), conf.clip)
    own_srs = {
        "polygons": conf.polygons_srs,
        "bbox": conf.bbox_srs,
        "ogr_datasource": conf.ogr_srs,
    }.get(kind)
    code = own_srs or conf.srs
    if code is None:
        raise ConfigValueError(f"a {kind} coverage needs an srs")
    srs = make_srs(code)
    if conf.bbox is not None:
        return bbox_coverage(_bbox(conf.bbox), srs, conf.clip)
    if conf.polygons is not None:
        return _from_text(conf.polygons, files, srs, conf.clip)
    if conf.ogr_datasource is not None:
        return _from_ogr(conf.ogr_datasource, conf.ogr_where, files, srs, conf.clip)
    path = conf.datasource or ""
    if (numbers := _bbox_text(path)) is not None:
        return bbox_coverage(numbers, srs, conf.clip)
    head = files.head(path)
    if head is not None and (
        head.lstrip().lower().startswith(_WKT_START)
        or (conf.where is None and head.startswith(b"{"))
    ):
        return _from_text(path, files, srs, conf.clip)
    return _from_ogr(path, conf.where, files, srs, conf.clip)


def _from_text(path: str, files: CoverageFiles, srs: SRS, clip: bool) -> Coverage:
    try:
        return polygon_coverage(files.read_text(path), srs, clip)
    except ConfigValueError as exc:
        raise ConfigValueError(f"coverage {path!r}: {exc}") from exc


def _from_ogr(
    datasource: str, where: str | None, files: CoverageFiles, srs: SRS, clip: bool
) -> Coverage:
    try:
        return geometry_coverage(
            _geometries(files.read_features(datasource, where)), srs, clip
        )
    except ConfigValueError as exc:
        raise ConfigValueError(f"coverage datasource {datasource!r}: {exc}") from exc


def _geometries(wkbs: Iterable[bytes]) -> list[BaseGeometry]:
    try:
        return [shapely.from_wkb(w) for w in wkbs]
    except (GEOSException, ShapelyError) as exc:
        raise ConfigValueError(f"unreadable geometry: {exc}") from None


def _bbox(values: Iterable[float]) -> Bbox:
    try:
        return Bbox(*values)
    except (TypeError, ValueError) as exc:
        raise ConfigValueError(f"invalid coverage bbox: {exc}") from exc


def _bbox_text(text: str) -> Bbox | None:
    """A bbox written as `minx,miny,maxx,maxy`, or None if text is no such thing (but a path)."""
    parts = text.split(",")
    if len(parts) != 4:
        return None
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        return None
    return _bbox(numbers)
