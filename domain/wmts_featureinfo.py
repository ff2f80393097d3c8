"""WMTS GetFeatureInfo: its configuration (`services.wmts.featureinfo_formats`,
`restful_featureinfo_template`) and the feature info query a tile and a pixel of it make."""

from __future__ import annotations

import re
from typing import Any

import attrs

from domain.errors import ConfigValueError
from domain.featureinfo import InfoQuery
from domain.grid import Grid, TileCoord

DEFAULT_FEATUREINFO_TEMPLATE = (
    "/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}/{I}/{J}.{InfoFormat}"
)
# Without these a RESTful feature info URL would not say which tile and pixel it asks about.
_NEEDED_KEYS = ("Layer", "TileMatrixSet", "TileMatrix", "TileCol", "TileRow", "I", "J")


@attrs.frozen
class WMTSInfoFormatConf:
    """A `featureinfo_formats` entry: an INFOFORMAT offered (and asked upstream) and the
    suffix that stands for it in RESTful URLs (`{InfoFormat}`)."""

    mimetype: str
    # Required: MapProxy 7 fails to start without it.
    suffix: str


def check_featureinfo_template(
    instance: object, attribute: attrs.Attribute[Any], value: str
) -> None:
    """attrs validator of `restful_featureinfo_template`."""
    named = set(re.findall(r"\{(\w+)\}", value))
    missing = [f"{{{k}}}" for k in _NEEDED_KEYS if k not in named]
    if missing:
        raise ConfigValueError(
            f"restful_featureinfo_template must name {', '.join(missing)}, got {value!r}"
        )


def tile_info_query(
    grid: Grid,
    coord: TileCoord,
    pos: tuple[int, int],
    info_format: str,
    feature_count: int | None = None,
) -> InfoQuery:
    """The feature info query of pixel `pos` of a tile (`coord` in the grid's own rows): the
    tile's bbox as a map of the tile's size, as MapProxy asks its sources."""
    return InfoQuery(
        grid.tile_bbox(coord), grid.tile_size, grid.srs, pos, info_format, feature_count
    )
