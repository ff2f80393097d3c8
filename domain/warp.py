"""Image warping: an image of one bbox and SRS redrawn for another bbox, size and SRS.

In the same SRS this is a scale and crop: Pillow's `resize` with a source box, a separable
filter that also smooths properly when it shrinks, and several times faster than a generic
transform. Across SRSs every output pixel maps back into the source image. Doing that per pixel
with pyproj is exact but slow; one affine approximation of the whole image is fast but wrong
where the projection bends (e.g. a bbox symmetric about the equator). We build a mesh whose
cells Pillow interpolates bilinearly, splitting a cell only where the projection bends more
than a tenth of an output pixel away from that interpolation: few cells where the projection
is nearly linear (each costs a call into Pillow), small ones only where it curves.

An opaque RGB source stays RGB when it covers the whole output (half the work of RGBA); the
result is RGBA wherever part of it lies outside the source, which stays transparent.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Literal

import attrs
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from domain.bbox import Bbox
from domain.srs import SRS, same_srs, transform_arrays

Resampling = Literal["nearest", "bilinear", "bicubic"]
_FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}
# How far (in output pixels) the mesh's interpolation may stray from the true position.
MAX_ERROR = 0.1
# Mesh cells start this large (output pixels a side) and are never split below MIN_CELL.
START_CELL = 512
MIN_CELL = 4

Cell = tuple[int, int, int, int]  # output pixel box: x0, y0, x1, y1
Box = tuple[float, float, float, float]  # source pixel box: left, top, right, bottom
_TRANSPARENT = (0, 0, 0, 0)

# The probes of a cell, as fractions (u across, v down) of its width and height: the corners
# first (nw, sw, se, ne: Pillow's quad order), then the rest of a 5 x 5 lattice.
_LATTICE = [(u / 4, v / 4) for v in range(5) for u in range(5)]
_CORNERS = [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0)]
_PROBES = _CORNERS + [p for p in _LATTICE if p not in _CORNERS]
_U = np.array([[u for u, _ in _PROBES]])
_V = np.array([[v for _, v in _PROBES]])
# Bilinear weights of the four corners at each probe: corner values @ _BILINEAR = estimates.
_BILINEAR = np.array(
    [
        [(1 - u) * (1 - v) for u, v in _PROBES],
        [(1 - u) * v for u, v in _PROBES],
        [u * v for u, v in _PROBES],
        [u * (1 - v) for u, v in _PROBES],
    ]
)
_ON_ROW_EDGE = np.array([v in (0, 1) for _, v in _PROBES])  # north and south edges
_ON_COLUMN_EDGE = np.array([u in (0, 1) for u, _ in _PROBES])  # west and east edges


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
    """src redrawn to cover bbox in srs with size pixels; transparent where src has no data.

    RGB in, RGB out where src covers all of the output; RGBA otherwise."""
    image = (
        src.image if src.image.mode in ("RGB", "RGBA") else src.image.convert("RGBA")
    )
    if same_srs(src.srs, srs):
        return _scale(image, src.bbox, bbox, size, resampling)
    width, height = size
    sw, sh = image.size
    sb = src.bbox

    def to_source(
        x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        # Output pixel edges -> coordinates in the output SRS -> source SRS -> source pixels.
        mx, my = transform_arrays(
            bbox.minx + x / width * bbox.width,
            bbox.maxy - y / height * bbox.height,
            srs,
            src.srs,
        )
        return (mx - sb.minx) / sb.width * sw, (sb.maxy - my) / sb.height * sh

    mesh = _mesh(size, to_source)
    if not mesh.cells:
        return Image.new("RGBA", size, _TRANSPARENT)
    if image.mode == "RGB" and not (mesh.complete and mesh.inside((sw, sh))):
        image = image.convert("RGBA")
    boxes, quads = mesh.split_by_shape((sw, sh))
    fill = _TRANSPARENT if image.mode == "RGBA" else (0, 0, 0)
    filt = _FILTERS[resampling]
    if quads:
        out = image.transform(size, Image.Transform.MESH, quads, filt, fillcolor=fill)
    else:
        out = Image.new(image.mode, size, fill)
    for (x0, y0, x1, y1), box in boxes:
        out.paste(image.resize((x1 - x0, y1 - y0), filt, box=box), (x0, y0))
    return out


# Source rows [first, end) of an image, full width: an image holding them and the row it starts at.
RowReader = Callable[[int, int], tuple[Image.Image, int]]


def _scale(
    image: Image.Image,
    src: Bbox,
    dst: Bbox,
    size: tuple[int, int],
    resampling: Resampling,
) -> Image.Image:
    """Same SRS: the part of the output the source covers, resized from its box in the source."""
    if src.as_tuple() == dst.as_tuple() and image.size == size:
        return image
    return scale_rows(
        lambda first, end: (image, 0), image.size, src, dst, size, resampling
    )


def scale_rows(
    read: RowReader,
    src_size: tuple[int, int],
    src: Bbox,
    dst: Bbox,
    size: tuple[int, int],
    resampling: Resampling,
) -> Image.Image:
    """A source image of src_size covering src, read a band of rows at a time, resized to dst
    in the same SRS: RGB where it covers all of the output with opaque rows, else RGBA.

    Band by band, with Pillow's box resize (made for such tiling), so that neither the whole
    source nor a resized copy of it is ever held: 64 MB each at 4000x4000, and memory per
    request is bounded."""
    sw, sh = src_size
    width, height = size
    # Source pixels per output pixel, and the source position of the output's top left corner.
    kx, ky = dst.width / src.width * sw / width, dst.height / src.height * sh / height
    left, top = (
        (dst.minx - src.minx) / src.width * sw,
        (src.maxy - dst.maxy) / src.height * sh,
    )
    # The whole output pixels whose source lies inside the image (a sliver of one is left out).
    x0, x1 = _covered(left, kx, sw, width)
    y0, y1 = _covered(top, ky, sh, height)
    if x0 >= x1 or y0 >= y1:
        return Image.new("RGBA", size, _TRANSPARENT)
    box = (
        max(0.0, left + x0 * kx),
        max(0.0, top + y0 * ky),
        min(float(sw), left + x1 * kx),
        min(float(sh), top + y1 * ky),
    )
    part_w, part_h = x1 - x0, y1 - y0
    whole = (x0, y0, x1, y1) == (0, 0, width, height)
    out = Image.new("RGB" if whole else "RGBA", size, _TRANSPARENT)
    step = (box[3] - box[1]) / part_h
    # Source rows beyond a band that its filter reaches (Lanczos: 3 pixels, scaled when shrinking).
    margin = math.ceil(3 * max(step, 1.0)) + 1
    for row in range(0, part_h, _BAND_ROWS):
        end = min(part_h, row + _BAND_ROWS)
        band_top, band_bottom = box[1] + row * step, box[1] + end * step
        rows, offset = read(
            max(0, math.floor(band_top) - margin),
            min(sh, math.ceil(band_bottom) + margin),
        )
        band_box = (box[0], band_top - offset, box[2], band_bottom - offset)
        if rows.mode not in ("RGB", "RGBA"):
            rows = rows.convert("RGBA")
        band = rows.resize((part_w, end - row), _FILTERS[resampling], box=band_box)
        if band.mode == "RGBA" and out.mode == "RGB":
            out = out.convert("RGBA")
        out.paste(
            band if band.mode == out.mode else band.convert(out.mode), (x0, y0 + row)
        )
    return out


_BAND_ROWS = 256


def _covered(start: float, step: float, limit: int, count: int) -> tuple[int, int]:
    """The output pixels i in [first, end) whose source span start + [i, i+1] * step lies
    within [0, limit], allowing for rounding."""
    eps = 1e-6 * step
    first = max(0, math.ceil((-start - eps) / step))
    end = min(count, math.floor((limit - start + eps) / step))
    return first, end


@attrs.frozen
class _Mesh:
    """Output cells and, per cell, its corners in source pixels (nw, sw, se, ne: Pillow's
    quad order); `complete` is False where parts of the output have no place in the source
    SRS and were left out."""

    cells: list[Cell]
    corners: NDArray[np.float64]  # one row of 8 per cell
    complete: bool

    def inside(self, size: tuple[int, int]) -> bool:
        """Whether every corner lies within a source image of size."""
        xs, ys = self.corners[:, 0::2], self.corners[:, 1::2]
        eps = 1e-6
        return bool(
            (xs >= -eps).all()
            and (xs <= size[0] + eps).all()
            and (ys >= -eps).all()
            and (ys <= size[1] + eps).all()
        )

    def split_by_shape(
        self, size: tuple[int, int]
    ) -> tuple[list[tuple[Cell, Box]], list[tuple[Cell, tuple[float, ...]]]]:
        """Cells whose source is an upright rectangle inside the image, with that box (for
        `resize`: separable, several times faster than a transform), and the other cells
        with their quads (for a MESH transform)."""
        c = self.corners
        out = np.array(self.cells, dtype=np.float64)
        # A tenth of an output pixel, in source pixels, along each axis.
        tol_x = MAX_ERROR * np.abs(c[:, 6] - c[:, 0]) / (out[:, 2] - out[:, 0])
        tol_y = MAX_ERROR * np.abs(c[:, 3] - c[:, 1]) / (out[:, 3] - out[:, 1])
        left, right = (c[:, 0] + c[:, 2]) / 2, (c[:, 4] + c[:, 6]) / 2
        top, bottom = (c[:, 1] + c[:, 7]) / 2, (c[:, 3] + c[:, 5]) / 2
        upright = (
            (np.abs(c[:, 0] - c[:, 2]) <= tol_x)
            & (np.abs(c[:, 4] - c[:, 6]) <= tol_x)
            & (np.abs(c[:, 1] - c[:, 7]) <= tol_y)
            & (np.abs(c[:, 3] - c[:, 5]) <= tol_y)
            & (left >= 0)
            & (top >= 0)
            & (right <= size[0])
            & (bottom <= size[1])
            & (left < right)
            & (top < bottom)
        )
        boxes, quads = [], []
        for i, cell in enumerate(self.cells):
            if upright[i]:
                box = (float(left[i]), float(top[i]), float(right[i]), float(bottom[i]))
                boxes.append((cell, box))
            else:
                quads.append((cell, tuple(float(v) for v in c[i])))
        return boxes, quads


def _mesh(
    size: tuple[int, int],
    to_source: Callable[
        [NDArray[np.float64], NDArray[np.float64]],
        tuple[NDArray[np.float64], NDArray[np.float64]],
    ],
) -> _Mesh:
    """Cells covering the output, each small enough that bilinear interpolation of its
    corners stays within MAX_ERROR of the true position.

    Each round maps the corners and probes of every open cell in one batch: a 5 x 5 lattice,
    whose quarter points see the bend of a projection that is symmetric about the cell's
    centre (mercator about the equator), which midpoints alone miss. A cell is split across x
    where a probe on its north or south edge is off, across y where one on its west or east
    edge is (a projection that bends only north-south, such as mercator to lat/lon, gets
    full-width bands), in both where only inner probes are."""
    width, height = size
    open_cells = [
        (x, y, min(x + START_CELL, width), min(y + START_CELL, height))
        for y in range(0, height, START_CELL)
        for x in range(0, width, START_CELL)
    ]
    cells: list[Cell] = []
    corners: list[NDArray[np.float64]] = []
    complete = True
    while open_cells:
        box = np.array(open_cells, dtype=np.float64)
        x0, y0, x1, y1 = (box[:, k : k + 1] for k in range(4))
        sx, sy = to_source((x0 + _U * (x1 - x0)).ravel(), (y0 + _V * (y1 - y0)).ravel())
        sx, sy = sx.reshape(-1, len(_PROBES)), sy.reshape(-1, len(_PROBES))
        with np.errstate(invalid="ignore", over="ignore"):
            finite = (np.abs(sx) < 1e12) & (np.abs(sy) < 1e12)  # inf and nan fail this
            corners_ok = finite[:, :4].all(axis=1)
            probes_ok = finite.all(axis=1)
            # How far each probe is from where bilinear interpolation of the corners puts it,
            # against a tenth of an output pixel in source pixels (from the diagonals).
            error = np.hypot(sx - sx[:, :4] @ _BILINEAR, sy - sy[:, :4] @ _BILINEAR)
            src_diagonal = np.maximum(
                np.hypot(sx[:, 2] - sx[:, 0], sy[:, 2] - sy[:, 0]),
                np.hypot(sx[:, 3] - sx[:, 1], sy[:, 3] - sy[:, 1]),
            )
            out_diagonal = np.hypot(x1 - x0, y1 - y0)[:, 0]
            off = error > (MAX_ERROR * src_diagonal / out_diagonal)[:, None]
        along_rows = off[:, _ON_ROW_EDGE].any(axis=1)
        along_columns = off[:, _ON_COLUMN_EDGE].any(axis=1)
        inner_only = off.any(axis=1) & ~along_rows & ~along_columns
        split_x = ~probes_ok | along_rows | inner_only
        split_y = ~probes_ok | along_columns | inner_only
        x1, x0, y1, y0 = x1[:, 0], x0[:, 0], y1[:, 0], y0[:, 0]
        split_x &= x1 - x0 > MIN_CELL
        split_y &= y1 - y0 > MIN_CELL
        keep = corners_ok & ~split_x & ~split_y
        following: list[Cell] = []
        for i, cell in enumerate(open_cells):
            if keep[i]:
                cells.append(cell)
                corners.append(np.stack([sx[i, :4], sy[i, :4]], axis=1).ravel())
            elif split_x[i] or split_y[i]:
                following.extend(_halves(cell, bool(split_x[i]), bool(split_y[i])))
            else:
                complete = False  # outside the source SRS's domain: stays transparent
        open_cells = following
    return _Mesh(cells, np.array(corners).reshape(-1, 8), complete)


def _halves(cell: Cell, across_x: bool, across_y: bool) -> list[Cell]:
    x0, y0, x1, y1 = cell
    xs = [x0, (x0 + x1) // 2, x1] if across_x else [x0, x1]
    ys = [y0, (y0 + y1) // 2, y1] if across_y else [y0, y1]
    return [
        (xa, ya, xb, yb)
        for ya, yb in itertools.pairwise(ys)
        for xa, xb in itertools.pairwise(xs)
    ]
