"""The map sources a configuration names, each built from its configuration with its limits.
Part of the composition root (entrypoints/bootstrap.py)."""

from __future__ import annotations

from pathlib import Path

import attrs

from adapters.arcgis_source import ArcGISSource
from adapters.coverage_files import CoverageFiles
from adapters.debug_source import DebugSource
from adapters.geojson_source import GeoJSONSource
from adapters.http_client import HttpClient
from adapters.mapnik_source import MapnikSource
from adapters.mapserver_source import MapServerSource
from adapters.ogcapi_maps_source import OGCAPIMapsSource
from adapters.ogcapi_tiles_source import OGCAPITilesSource
from adapters.tile_source import TileSource
from adapters.wms_source import WMSSource
from adapters.xslt import XSLTransform
from domain.config import (
    ArcGISSourceConf,
    DebugSourceConf,
    GeoJSONSourceConf,
    GlobalsConf,
    GlobalsImageConf,
    LimitedSourceConf,
    MapnikSourceConf,
    MapServerSourceConf,
    OGCAPIMapsSourceConf,
    OGCAPITilesSourceConf,
    SourceConf,
    TilegateConf,
    TileSourceConf,
    WMSSourceConf,
    split_tag,
)
from domain.coverage_conf import coverage_from_conf
from domain.grid import Grid
from domain.image_options import resolve_format
from domain.ports import MapSource
from domain.source_config import source_resampling
from domain.source_limits import LimitedSource


def make_source(
    name: str,
    conf: TilegateConf,
    grids: dict[str, Grid],
    http: HttpClient,
    here: Path,
    seeding: bool = False,
) -> MapSource:
    """Source `name` (tagged, `wms:a,b`, it asks for those layers only) within its limits:
    coverage, resolution range and `seed_only` (which only seeding lifts). Relative paths
    start at `here`."""
    source_conf = _real_format(_tagged(conf.sources, name), conf.globals.image)
    source = _plain_source(source_conf, grids, http, here, conf.globals)
    if not isinstance(source_conf, LimitedSourceConf):
        return source
    seed_only = source_conf.seed_only and not seeding
    limits = source_conf.res_limits()
    if source_conf.coverage is None and limits is None and not seed_only:
        return source
    coverage = None
    if source_conf.coverage is not None:
        coverage = coverage_from_conf(source_conf.coverage, CoverageFiles(here))
    return LimitedSource(source, coverage, limits, seed_only)


def _tagged(sources: dict[str, SourceConf], name: str) -> SourceConf:
    """The configuration of source `name`; a tagged one (`wms:a,b`) asks for those layers
    (a mapnik source draws only those)."""
    base, layers = split_tag(name)
    conf = sources[base]
    if layers and isinstance(conf, WMSSourceConf | MapServerSourceConf):
        return attrs.evolve(conf, req={**conf.req, "layers": ",".join(layers)})
    if layers and isinstance(conf, MapnikSourceConf):
        return attrs.evolve(conf, layers=layers)
    return conf


def _real_format(conf: SourceConf, image: GlobalsImageConf) -> SourceConf:
    """A WMS-like source whose `image.format` names a `globals.image.formats` entry, with that
    entry's real format: the one it is asked for (the config check ruled out other names)."""
    if (
        isinstance(conf, WMSSourceConf | MapServerSourceConf)
        and conf.image is not None
        and conf.image.format is not None
        and (fmt := resolve_format(conf.image.format, image)) is not None
    ):
        return attrs.evolve(conf, image=attrs.evolve(conf.image, format=fmt.mime))
    return conf


def _plain_source(
    conf: SourceConf,
    grids: dict[str, Grid],
    http: HttpClient,
    here: Path,
    globals_conf: GlobalsConf,
) -> MapSource:
    match conf:
        case WMSSourceConf():
            return WMSSource(conf, http, _info_transform(conf, here))
        case TileSourceConf():
            return TileSource(conf, grids[conf.grid], http)
        case DebugSourceConf():
            return DebugSource()
        case GeoJSONSourceConf():
            return GeoJSONSource(conf, (here / conf.file).read_text(encoding="utf-8"))
        case ArcGISSourceConf():
            return ArcGISSource(conf, http)
        case MapServerSourceConf():
            return MapServerSource.configure(
                conf, globals_conf.mapserver, here, http, _info_transform(conf, here)
            )
        case MapnikSourceConf():
            return MapnikSource.configure(conf, here)
        case OGCAPITilesSourceConf():
            return OGCAPITilesSource(conf, http)
        case OGCAPIMapsSourceConf():
            method = source_resampling(conf) or globals_conf.image.resampling_method
            return OGCAPIMapsSource(conf, http, method)


def _info_transform(
    conf: WMSSourceConf | MapServerSourceConf, here: Path
) -> XSLTransform | None:
    """A WMS-like source's `wms_opts.featureinfo_xslt`, read from `here`."""
    xslt = (conf.wms_opts or {}).get("featureinfo_xslt")
    return XSLTransform.load(here / str(xslt)) if xslt else None
