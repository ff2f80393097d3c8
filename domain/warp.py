"""Image warping: an image of one bbox and SRS redrawn for another bbox, size and SRS.

Reprojection maps every output pixel back into the source image. Doing that per pixel with
pyproj is exact but slow; one affine approximation of the whole image is fast but wrong where
the projection bends (e.g. a bbox symmetric about the equator). We transform the corners of a
mesh of small cells and let Pillow interpolate within each cell: the error is bounded by the
cell size, which is chosen small enough to stay below a tenth of a pixel for map projections.
"""

from __future__ import annotations

from typing import Literal

import attrs
from PIL import Image

from domain.bbox import Bbox
from domain.srs import SRS, same_srs, transform_points

Resampling = Literal["nearest", "bilinear", "bicubic"]
_FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}
# Output pixels per mesh cell edge.
MESH_CELL = 16


@attrs.frozen
class GeoImage:
    """An image and the bbox (in `srs`) its outer pixel edges cover."""

    image: Image.Image
    bbox: Bbox
    srs: SRS


def warp(
    src: GeoImage,
    bbox: Bbox,
    srs: SRS,
    size: tuple[int, int],
    resampling: Resampling = "bicubic",
) -> Image.Image:
    """src redrawn to cover bbox in srs with size pixels; transparent where src has no data."""
    image = src.image if src.image.mode == "RGBA" else src.image.convert("RGBA")
    if same_srs(src.srs, srs):
        return _scale(image, src.bbox, bbox, size, resampling)
    width, height = size
    xs = _edges(width)
    ys = _edges(height)
    # Output pixel edges -> coordinates in the output SRS -> source SRS -> source pixels.
    points = [
        (bbox.minx + x / width * bbox.width, bbox.maxy - y / height * bbox.height)
        for y in ys
        for x in xs
    ]
    mapped = transform_points(points, srs, src.srs)
    sw, sh = image.size
    sb = src.bbox
    pixels = [
        ((mx - sb.minx) / sb.width * sw, (sb.maxy - my) / sb.height * sh)
        for mx, my in mapped
    ]
    row = len(xs)
    mesh = []
    for j in range(len(ys) - 1):
        for i in range(len(xs) - 1):
            nw, ne = pixels[j * row + i], pixels[j * row + i + 1]
            sw_, se = pixels[(j + 1) * row + i], pixels[(j + 1) * row + i + 1]
            if not all(_finite(p) for p in (nw, sw_, se, ne)):
                continue  # outside the source SRS's domain: stays transparent
            mesh.append(((xs[i], ys[j], xs[i + 1], ys[j + 1]), (*nw, *sw_, *se, *ne)))
    if not mesh:
        return Image.new("RGBA", size, (0, 0, 0, 0))
    return image.transform(
        size, Image.Transform.MESH, mesh, _FILTERS[resampling], fillcolor=(0, 0, 0, 0)
    )


def _scale(
    image: Image.Image,
    src: Bbox,
    dst: Bbox,
    size: tuple[int, int],
    resampling: Resampling,
) -> Image.Image:
    """Same SRS: one affine map from the output bbox into the source image."""
    sw, sh = image.size
    x0 = (dst.minx - src.minx) / src.width * sw
    x1 = (dst.maxx - src.minx) / src.width * sw
    y0 = (src.maxy - dst.maxy) / src.height * sh
    y1 = (src.maxy - dst.miny) / src.height * sh
    if (x0, y0, x1, y1) == (0, 0, sw, sh) and size == image.size:
        return image
    return image.transform(
        size,
        Image.Transform.EXTENT,
        (x0, y0, x1, y1),
        _FILTERS[resampling],
        fillcolor=(0, 0, 0, 0),
    )


def _edges(length: int) -> list[int]:
    edges = list(range(0, length, MESH_CELL))
    return [*edges, length] if edges[-1] != length else edges


def _finite(point: tuple[float, float]) -> bool:
    return all(abs(v) < 1e12 for v in point)  # inf and nan fail this too
