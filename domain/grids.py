"""Grids from configuration: the built-in grids, `base:` inheritance and MapProxy's defaults."""

from __future__ import annotations

import math
from typing import cast

import attrs

from domain.bbox import Bbox
from domain.config import GridConf
from domain.errors import ConfigValueError
from domain.grid import Grid, Origin
from domain.srs import srs as make_srs
from domain.srs import transform_bbox

_MERCATOR_EXTENT = 20037508.342789244
DEFAULT_BBOXES = {
    "EPSG:4326": Bbox(-180, -90, 180, 90),
    "EPSG:900913": Bbox(
        -_MERCATOR_EXTENT, -_MERCATOR_EXTENT, _MERCATOR_EXTENT, _MERCATOR_EXTENT
    ),
    "EPSG:3857": Bbox(
        -_MERCATOR_EXTENT, -_MERCATOR_EXTENT, _MERCATOR_EXTENT, _MERCATOR_EXTENT
    ),
}

BUILTIN_GRIDS: dict[str, GridConf] = {
    "GLOBAL_GEODETIC": GridConf(srs="EPSG:4326", origin="sw"),
    "GLOBAL_MERCATOR": GridConf(srs="EPSG:900913", origin="sw"),
    "GLOBAL_WEBMERCATOR": GridConf(srs="EPSG:3857", origin="nw"),
}

_ORIGINS: dict[str, Origin] = {"ll": "ll", "sw": "ll", "ul": "ul", "nw": "ul"}


def parse_origin(value: str | None) -> Origin:
    if value is None:
        return "ll"
    try:
        return _ORIGINS[value.lower()]
    except KeyError:
        raise ConfigValueError(
            f"unknown origin {value!r}, expected one of ll, sw, ul, nw"
        ) from None


def resolve_grids(confs: dict[str, GridConf]) -> dict[str, Grid]:
    """Every built-in and configured grid, built; a problem names the grid it is in."""
    all_confs = BUILTIN_GRIDS | confs
    return {name: build_grid(name, all_confs) for name in all_confs}


def build_grid(
    name: str, confs: dict[str, GridConf], seen: tuple[str, ...] = ()
) -> Grid:
    """The grid `name` of `confs` (built-ins included), with the grid it aligns with built."""
    conf = flatten_grid_conf(name, confs)
    other = conf.align_resolutions_with
    if other is None:
        return grid_from_conf(name, conf)
    if other in (*seen, name):
        raise ConfigValueError(
            f"grid {name!r}: align_resolutions_with forms a cycle: "
            + " -> ".join([*seen, name, other])
        )
    if other not in confs:
        raise ConfigValueError(
            f"grid {name!r}: unknown grid {other!r} in align_resolutions_with"
        )
    return grid_from_conf(name, conf, build_grid(other, confs, (*seen, name)).res)


def flatten_grid_conf(name: str, confs: dict[str, GridConf]) -> GridConf:
    """The grid's options with those of its `base:` chain filled in."""
    seen = [name]
    conf = confs[name]
    while conf.base is not None:
        if conf.base in seen:
            raise ConfigValueError(
                f"grid {name!r}: base grids form a cycle: {' -> '.join([*seen, conf.base])}"
            )
        if conf.base not in confs:
            raise ConfigValueError(f"grid {name!r}: unknown base grid {conf.base!r}")
        seen.append(conf.base)
        parent = confs[conf.base]
        own = {
            k: v
            for k, v in attrs.asdict(conf, recurse=False).items()
            if v is not None and k != "base"
        }
        conf = attrs.evolve(parent, **own)
    return conf


def grid_from_conf(
    name: str, conf: GridConf, align_with: tuple[float, ...] | None = None
) -> Grid:
    """The grid for `conf`; `align_with` are the resolutions of its align_resolutions_with grid."""
    try:
        return _build(name, conf, align_with)
    except (ConfigValueError, ValueError) as exc:
        raise ConfigValueError(f"grid {name!r}: {exc}") from exc


def _build(name: str, conf: GridConf, align_with: tuple[float, ...] | None) -> Grid:
    srs = make_srs(conf.srs or "EPSG:900913")
    if conf.bbox is not None:
        bbox = Bbox(*conf.bbox)
        if conf.bbox_srs is not None:
            bbox = transform_bbox(bbox, make_srs(conf.bbox_srs), srs)
    elif srs.code in DEFAULT_BBOXES:
        bbox = DEFAULT_BBOXES[srs.code]
    else:
        raise ConfigValueError(f"a grid in {srs.code} needs a bbox")
    tile_size = conf.tile_size or (256, 256)
    if conf.res is not None:
        if conf.min_res is not None or conf.max_res is not None:
            raise ConfigValueError("res cannot be combined with min_res or max_res")
        if align_with is not None:
            raise ConfigValueError("res cannot be combined with align_resolutions_with")
        res = tuple(sorted(conf.res, reverse=True))
    elif align_with is not None:
        res = _aligned_resolutions(conf, align_with, bbox, tile_size)
    else:
        res = _resolutions(conf, bbox, tile_size)
    return Grid(
        name=name,
        srs=srs,
        bbox=bbox,
        res=res,
        tile_size=tile_size,
        origin=parse_origin(conf.origin),
        threshold_res=tuple(conf.threshold_res or ()),
        stretch_factor=conf.stretch_factor if conf.stretch_factor is not None else 1.15,
        max_shrink_factor=conf.max_shrink_factor
        if conf.max_shrink_factor is not None
        else 4.0,
    )


def _resolutions(
    conf: GridConf, bbox: Bbox, tile_size: tuple[int, int]
) -> tuple[float, ...]:
    sqrt2 = conf.res_factor == "sqrt2"
    factor = math.sqrt(2) if sqrt2 else float(cast(float, conf.res_factor or 2.0))
    if factor <= 1:
        raise ConfigValueError(
            f"res_factor must be greater than 1, got {conf.res_factor}"
        )
    min_res = conf.min_res or max(bbox.width / tile_size[0], bbox.height / tile_size[1])
    max_res = conf.max_res
    if conf.num_levels is not None and conf.num_levels < 1:
        raise ConfigValueError(f"num_levels must be at least 1, got {conf.num_levels}")
    if max_res:
        if max_res > min_res:
            raise ConfigValueError(
                f"max_res {max_res} is coarser than min_res {min_res}"
            )
        if conf.num_levels:
            if conf.num_levels == 1:
                return (min_res,)
            # Evenly spaced on a log scale, first and last exactly min_res and max_res.
            step = (math.log10(min_res) - math.log10(max_res)) / (conf.num_levels - 1)
            return tuple(
                10 ** (math.log10(min_res) - step * i) for i in range(conf.num_levels)
            )
        # As MapProxy: levels down to the last one that is still coarser than max_res.
        res = [min_res]
        while res[-1] / factor > max_res:
            res.append(res[-1] / factor)
        return tuple(res)
    num_levels = conf.num_levels or (40 if sqrt2 else 20)
    return tuple(min_res / factor**i for i in range(num_levels))


def _aligned_resolutions(
    conf: GridConf, other: tuple[float, ...], bbox: Bbox, tile_size: tuple[int, int]
) -> tuple[float, ...]:
    """The other grid's resolutions from min_res (default: the bbox in one tile) down to
    max_res, at most num_levels; with res_factor sqrt2 against a factor-2 grid the levels
    between are added, with factor 2 against a sqrt2 grid every second level is kept, as
    MapProxy aligns them."""
    min_res = conf.min_res or max(bbox.width / tile_size[0], bbox.height / tile_size[1])
    # A relative tolerance, so a bbox equal to the other grid's does not lose its first
    # level to the last bit of a division.
    res = [r for r in other if r <= min_res * (1 + 1e-9)]
    if conf.max_res:
        res = [r for r in res if r >= conf.max_res * (1 - 1e-9)]
    if conf.num_levels:
        res = res[: conf.num_levels]
    if not res:
        raise ConfigValueError(
            f"no resolution of {conf.align_resolutions_with!r} lies between min_res and max_res"
        )
    if len(res) > 1:
        step = res[0] / res[1]
        sqrt2 = math.sqrt(2)
        if conf.res_factor == "sqrt2" and math.isclose(step, 2.0):
            res = [x for r in res for x in (r, r / sqrt2)]
        elif conf.res_factor in (None, 2, 2.0) and math.isclose(step, sqrt2):
            res = res[::2]
    return tuple(res)
