"""A source asked for an SRS it does not serve: the map is requested in one it serves and warped.

As MapProxy does for a WMS source's `supported_srs`: the query's bbox is transformed into the
SRS `request_srs` picks, the source renders that bbox with about as many pixels as the query
has (shaped like the transformed bbox, so both axes get the same resolution), and the answer
is warped back onto the query's bbox, size and SRS.
"""

from __future__ import annotations

import math

import attrs
from PIL import Image

from domain import imaging
from domain.formats import image_format
from domain.ports import MapQuery, MapSource, SourceImage
from domain.srs import SRS, same_srs, srs_settings, transform_bbox
from domain.warp import GeoImage, Resampling, warp

_LOSSLESS = imaging.EncodeOptions(paletted=False)


@attrs.frozen
class ReprojectingSource:
    """`source`, which renders only the SRSs in `supported`, for queries in any SRS."""

    source: MapSource
    supported: tuple[SRS, ...]
    resampling: Resampling = "bicubic"

    @property
    def supports_meta_tiles(self) -> bool:
        return self.source.supports_meta_tiles

    @property
    def transparent(self) -> bool:
        # Warped images are transparent where the source's SRS does not reach.
        return True

    def get_map(self, query: MapQuery) -> SourceImage:
        target = request_srs(query.srs, self.supported)
        if same_srs(target, query.srs):
            return self.source.get_map(query)
        answer, image = _warped(self.source, target, query, self.resampling)
        fmt = image_format(query.format)
        warped = SourceImage(imaging.encode(image, fmt, _LOSSLESS), fmt.mime)
        if answer is None:
            return warped
        # An `on_error` stand-in stays one: not cached unless it may be.
        return attrs.evolve(
            warped, cacheable=answer.cacheable, authorize_stale=answer.authorize_stale
        )


def reprojected_image(
    source: MapSource,
    supported: tuple[SRS, ...] | None,
    query: MapQuery,
    resampling: Resampling,
) -> Image.Image:
    """The query's image from a source that renders only the `supported` SRSs, decoded."""
    target = request_srs(query.srs, supported)
    if same_srs(target, query.srs):
        return imaging.decode(source.get_map(query).data, query.size)
    return _warped(source, target, query, resampling)[1]


def _warped(
    source: MapSource, target: SRS, query: MapQuery, resampling: Resampling
) -> tuple[SourceImage | None, Image.Image]:
    """The source's answer in `target` (None if it was not asked) and its image warped onto
    the query."""
    try:
        bbox = transform_bbox(query.bbox, query.srs, target)
    except ValueError:
        # Nowhere in the source's SRS.
        return None, Image.new("RGBA", query.size, (255, 255, 255, 0))
    asked = attrs.evolve(
        query,
        bbox=bbox,
        size=request_size(bbox.width, bbox.height, query.size),
        srs=target,
    )
    answer = source.get_map(asked)
    image = imaging.decode(answer.data, asked.size)
    return answer, warp(
        GeoImage(image, bbox, target), query.bbox, query.srs, query.size, resampling
    )


def request_srs(wanted: SRS, supported: tuple[SRS, ...] | None) -> SRS:
    """The SRS to ask a source in: the wanted one if served, else the first served one of
    `globals.srs.preferred_src_proj` for it, else the first served one of the same kind
    (geographic or projected), else the first served one, as MapProxy picks."""
    if not supported or any(same_srs(wanted, s) for s in supported):
        return wanted
    for code in srs_settings().preferred_src.get(wanted.code, ()):
        served = [s for s in supported if same_srs(SRS(code), s)]
        if served:
            return served[0]
    return next(
        (s for s in supported if s.is_latlong == wanted.is_latlong), supported[0]
    )


def request_size(width: float, height: float, size: tuple[int, int]) -> tuple[int, int]:
    """About size's pixel count, shaped like a width x height bbox: a bbox the projection
    stretches never makes a request much bigger than the query."""
    pixels = size[0] * size[1]
    res = math.sqrt(width * height / pixels)
    w = max(1, min(pixels, round(width / res)))
    h = max(1, min(pixels, round(height / res)))
    return w, h
