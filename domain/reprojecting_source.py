"""A source asked for an SRS it does not serve: the map is requested in one it serves and warped.

As MapProxy does for a WMS source's `supported_srs`: the query's bbox is transformed into the
SRS `request_srs` picks, the source renders that bbox with about as many pixels as the query
has (shaped like the transformed bbox, so both axes get the same resolution), and the answer
is warped back onto the query's bbox, size and SRS.
"""

from __future__ import annotations

import math

import attrs

from domain import imaging
from domain.formats import image_format
from domain.ports import MapQuery, MapSource, SourceImage
from domain.source_limits import blank
from domain.srs import SRS, same_srs, transform_bbox
from domain.warp import GeoImage, Resampling, warp
from domain.wms_map import request_srs

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
        try:
            bbox = transform_bbox(query.bbox, query.srs, target)
        except ValueError:
            return blank(query)  # nowhere in the source's SRS
        asked = MapQuery(
            bbox,
            request_size(bbox.width, bbox.height, query.size),
            target,
            query.format,
        )
        result = self.source.get_map(asked)
        image = warp(
            GeoImage(imaging.decode(result.data, asked.size), bbox, target),
            query.bbox,
            query.srs,
            query.size,
            self.resampling,
        )
        fmt = image_format(query.format)
        return SourceImage(imaging.encode(image, fmt, _LOSSLESS), fmt.mime)


def request_size(width: float, height: float, size: tuple[int, int]) -> tuple[int, int]:
    """About size's pixel count, shaped like a width x height bbox: a bbox the projection
    stretches never makes a request much bigger than the query."""
    pixels = size[0] * size[1]
    res = math.sqrt(width * height / pixels)
    w = max(1, min(pixels, round(width / res)))
    h = max(1, min(pixels, round(height / res)))
    return w, h
