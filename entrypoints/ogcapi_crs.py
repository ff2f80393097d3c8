"""CRS as OGC API names them: `http://www.opengis.net/def/crs/EPSG/0/3857` URIs, and back."""

from __future__ import annotations

import math
import re

from domain.bbox import Bbox
from domain.errors import ConfigValueError, RequestError
from domain.srs import SRS, same_srs, srs

CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84 = srs("CRS:84")
_EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/"
_URI = re.compile(
    r"https?://www\.opengis\.net/def/crs/(?P<auth>EPSG|OGC)/[0-9.]+/(?P<code>\w+)",
    re.IGNORECASE,
)


def crs_uri(srs_: SRS) -> str:
    """The URI of srs_ (EPSG:900913 and its aliases are EPSG:3857); other codes as they are."""
    if srs_.code == "CRS:84":
        return CRS84_URI
    if same_srs(srs_, srs("EPSG:3857")):
        return _EPSG_URI + "3857"
    return _EPSG_URI + str(srs_.epsg) if srs_.epsg is not None else srs_.code


def grid_crs_uri(srs_: SRS) -> str:
    """The URI for coordinates in a grid's own x/y order: EPSG:4326 grids are lon/lat, CRS84."""
    return CRS84_URI if srs_.code == "EPSG:4326" else crs_uri(srs_)


def parse_crs(value: str, param: str) -> SRS:
    """The SRS a request parameter names: a URI, a `[EPSG:3857]` safe CURIE or a code."""
    text = value.strip().removeprefix("[").removesuffix("]")
    if match := _URI.fullmatch(text):
        auth, code = match["auth"].upper(), match["code"].upper()
        text = "CRS:84" if (auth, code) == ("OGC", "CRS84") else f"{auth}:{code}"
    try:
        return srs(text)
    except ConfigValueError:
        raise RequestError(f"unknown CRS {value!r}", param=param) from None


def parse_bbox(value: str, crs: SRS) -> Bbox:
    """A `bbox` parameter (4 numbers, or 6 with heights) in crs' axis order, as x/y."""
    try:
        numbers = [float(v) for v in value.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(map(math.isfinite, numbers)):
        raise RequestError(
            f"bbox must be 4 (or 6) finite numbers, got {value!r}", param="bbox"
        )
    if crs.is_axis_order_ne:
        numbers = [numbers[1], numbers[0], numbers[3], numbers[2]]
    minx, miny, maxx, maxy = numbers
    if not (math.isfinite(maxx - minx) and math.isfinite(maxy - miny)):
        raise RequestError(f"bbox {value!r} is too large", param="bbox")
    if minx >= maxx or miny >= maxy:
        raise RequestError(
            f"bbox {value!r} is empty: its maximum must exceed its minimum on each axis",
            param="bbox",
        )
    return Bbox(minx, miny, maxx, maxy)


def axis_ordered(bbox: Bbox, crs: SRS) -> tuple[float, float, float, float]:
    """bbox in crs' official axis order (as `Content-Bbox` gives it)."""
    if crs.is_axis_order_ne:
        return (bbox.miny, bbox.minx, bbox.maxy, bbox.maxx)
    return bbox.as_tuple()
