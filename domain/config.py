"""The configuration model: frozen classes whose attributes keep MapProxy's YAML key names.

The YAML adapter fills these; defaults are MapProxy's. Classes validate what a single value
can get wrong; cross references (a cache naming an unknown grid) are checked by the config adapter.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from domain.blob_config import (
    AzureBlobBackendConf,
    AzureBlobGlobalsConf,
    S3BackendConf,
    S3GlobalsConf,
)
from domain.cache_config import (
    CACHE_TYPES,
    BandMergeConf,
    CacheBackendConf,
    CacheConf,
    CacheSourcesConf,
    CompactBackendConf,
    FileCacheBackendConf,
    GeoPackageBackendConf,
    MBTilesBackendConf,
    RedisBackendConf,
    SqliteBackendConf,
)
from domain.config_values import (
    BboxConf,
    CoverageConf,
    EncodingOptionsConf,
    HttpConf,
    ImageFormatConf,
    PixelLimit,
    ScalarParam,
    _jpeg_quality,
    _non_negative,
    _permissions,
    _positive,
    _positive_number,
    _positive_pair,
    permission_bits,
)
from domain.dimensions import Dimension
from domain.errors import ConfigValueError
from domain.inspire_config import InspireConf
from domain.res_range import res_range
from domain.source_config import (
    SOURCE_TYPES,
    ArcGISSourceConf,
    ColorConf,
    DebugSourceConf,
    GeoJSONSourceConf,
    LimitedSourceConf,
    MapnikSourceConf,
    MapServerOptsConf,
    MapServerSourceConf,
    OGCAPIMapsSourceConf,
    OGCAPITilesSourceConf,
    OnErrorMap,
    SourceConf,
    TileSourceConf,
    WMSSourceConf,
    parse_color,
    source_opacity,
    split_tag,
    supported_srs,
)
from domain.wmts_featureinfo import (
    DEFAULT_FEATUREINFO_TEMPLATE,
    WMTSInfoFormatConf,
    check_featureinfo_template,
)

# The model is split by section (domain/source_config.py, cache_config.py, config_values.py);
# this module is its face: every name is importable from here.
__all__ = [
    "CACHE_TYPES",
    "SOURCE_TYPES",
    "ArcGISSourceConf",
    "AzureBlobBackendConf",
    "AzureBlobGlobalsConf",
    "BandMergeConf",
    "BboxConf",
    "CacheBackendConf",
    "CacheConf",
    "CacheSourcesConf",
    "ColorConf",
    "CompactBackendConf",
    "CoverageConf",
    "DebugSourceConf",
    "EncodingOptionsConf",
    "FileCacheBackendConf",
    "GeoJSONSourceConf",
    "GeoPackageBackendConf",
    "HttpConf",
    "ImageFormatConf",
    "LimitedSourceConf",
    "MBTilesBackendConf",
    "MapServerOptsConf",
    "MapServerSourceConf",
    "MapnikSourceConf",
    "OGCAPIMapsSourceConf",
    "OGCAPITilesSourceConf",
    "OnErrorMap",
    "PixelLimit",
    "RedisBackendConf",
    "S3BackendConf",
    "S3GlobalsConf",
    "ScalarParam",
    "SourceConf",
    "SqliteBackendConf",
    "TileSourceConf",
    "WMSSourceConf",
    "WMTSInfoFormatConf",
    "parse_color",
    "permission_bits",
    "source_opacity",
    "split_tag",
    "supported_srs",
]


@attrs.frozen
class GridConf:
    """A `grids:` entry; unset options come from `base` or MapProxy's defaults."""

    base: str | None = None
    name: str | None = None
    srs: str | None = None
    bbox: BboxConf | None = None
    bbox_srs: str | None = None
    res: tuple[float, ...] | None = None
    res_factor: float | Literal["sqrt2"] | None = None
    num_levels: int | None = None
    min_res: float | None = None
    max_res: float | None = None
    tile_size: tuple[int, int] | None = attrs.field(
        default=None, validator=_positive_pair
    )
    origin: str | None = None
    threshold_res: tuple[float, ...] | None = None
    stretch_factor: float | None = None
    max_shrink_factor: float | None = None
    # Another grid whose resolutions this one takes (those within min_res/max_res).
    align_resolutions_with: str | None = None


@attrs.frozen
class DimensionConf:
    """A layer's `dimensions:` entry: the values offered and the default (else the last)."""

    values: tuple[str, ...]
    default: str | None = None


@attrs.frozen
class LayerConf:
    """A `layers:` entry; a group when it has `layers` of its own."""

    name: str | None = None
    title: str = ""
    sources: tuple[str, ...] = ()
    # The caches TMS, WMTS and KML serve this layer from (each grid a tile set), instead of
    # `sources`, which WMS still draws.
    tile_sources: tuple[str, ...] = ()
    layers: tuple[LayerConf, ...] = ()
    md: dict[str, object] | None = None
    # A legend image (http(s) or file:// URL) used instead of the sources' legends.
    legendurl: str | None = None
    # Where the layer is drawn: resolutions (m/px) or scale denominators, not both.
    min_res: float | None = None
    max_res: float | None = None
    min_scale: float | None = None
    max_scale: float | None = None
    # TIME, ELEVATION, DIM_*: name -> values (and default) a request may pick from.
    dimensions: dict[str, DimensionConf] | None = None
    # WMTS capabilities' LegendURL templates ({base_url}, {layer_name}).
    wmts_kvp_legendurl: str | None = None
    wmts_rest_legendurl: str | None = None
    # Only MapProxy's OGC API Maps service reads these (not offered here): checked, unused.
    nominal_scale: float | None = None
    nominal_res: float | None = None

    def __attrs_post_init__(self) -> None:
        res_range(self.min_res, self.max_res, self.min_scale, self.max_scale)
        for name, dim in (self.dimensions or {}).items():
            try:
                Dimension.from_conf(name, dim.values, dim.default)
            except ConfigValueError as exc:
                raise ConfigValueError(f"dimensions[{name!r}]: {exc}") from None


@attrs.frozen
class GlobalsCacheConf:
    base_dir: str = "./cache_data"
    lock_dir: str = "./cache_data/tile_locks"
    tile_lock_dir: str | None = None
    meta_size: tuple[int, int] = attrs.field(default=(4, 4), validator=_positive_pair)
    meta_buffer: int = attrs.field(default=80, validator=_non_negative)
    minimize_meta_requests: bool = False
    link_single_color_images: bool = False
    max_tile_limit: int = 500
    concurrent_tile_creators: int = attrs.field(default=2, validator=_positive)
    bulk_meta_tiles: bool = False
    directory_permissions: str | None = attrs.field(
        default=None, validator=_permissions
    )
    file_permissions: str | None = attrs.field(default=None, validator=_permissions)
    lock_timeout: float = 60.0
    # MapProxy reads these two for mbtiles and sqlite caches that do not set them.
    sqlite_timeout: float = attrs.field(default=30.0, validator=_positive_number)
    sqlite_wal: bool | None = None
    # Defaults of the object store caches (`type: s3`, `type: azureblob`).
    s3: S3GlobalsConf = attrs.Factory(S3GlobalsConf)
    azureblob: AzureBlobGlobalsConf = attrs.Factory(AzureBlobGlobalsConf)


@attrs.frozen
class GlobalsImageConf:
    resampling_method: Literal["nearest", "bilinear", "bicubic"] = "bicubic"
    paletted: bool = True
    stretch_factor: float = 1.15
    max_shrink_factor: float = 4.0
    jpeg_quality: int | None = attrs.field(default=None, validator=_jpeg_quality)
    formats: dict[str, ImageFormatConf] = attrs.Factory(dict)
    # A directory with DejaVuSans.ttf and DejaVuSansMono.ttf to draw text with.
    font_dir: str | None = None


@attrs.frozen
class GlobalsTilesConf:
    expires_hours: float = 72


@attrs.frozen
class GlobalsSrsConf:
    """`globals.srs`: axis order overrides, PROJ data and preferred source SRS."""

    axis_order_ne: tuple[str, ...] = ()
    axis_order_en: tuple[str, ...] = ()
    proj_data_dir: str | None = None
    # Target SRS -> the source SRS to ask in, in order of preference.
    preferred_src_proj: dict[str, tuple[str, ...]] = attrs.Factory(dict)


@attrs.frozen
class GlobalsConf:
    cache: GlobalsCacheConf = attrs.Factory(GlobalsCacheConf)
    image: GlobalsImageConf = attrs.Factory(GlobalsImageConf)
    http: HttpConf = attrs.Factory(HttpConf)
    tiles: GlobalsTilesConf = attrs.Factory(GlobalsTilesConf)
    mapserver: MapServerOptsConf = attrs.Factory(MapServerOptsConf)
    srs: GlobalsSrsConf = attrs.Factory(GlobalsSrsConf)


@attrs.frozen
class TMSServiceConf:
    use_grid_names: bool = False
    origin: Literal["sw", "nw", "ll", "ul"] | None = None


@attrs.frozen
class KMLServiceConf:
    use_grid_names: bool = False


@attrs.frozen
class WMTSServiceConf:
    restful: bool = True
    kvp: bool = True
    restful_template: str = (
        "/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.{Format}"
    )
    md: dict[str, object] | None = None
    # GetFeatureInfo: offered in these formats; none (MapProxy's default) answers every
    # INFOFORMAT with a 400.
    featureinfo_formats: tuple[WMTSInfoFormatConf, ...] = ()
    restful_featureinfo_template: str = attrs.field(
        default=DEFAULT_FEATUREINFO_TEMPLATE, validator=check_featureinfo_template
    )


def _wms_versions(
    instance: object, attribute: attrs.Attribute[Any], value: tuple[str, ...]
) -> None:
    if not value or not set(value) <= {"1.0.0", "1.1.0", "1.1.1", "1.3.0"}:
        raise ConfigValueError(
            f"versions must be some of 1.0.0, 1.1.0, 1.1.1, 1.3.0, got {list(value)}"
        )


def _max_output_pixels(
    instance: object, attribute: attrs.Attribute[Any], value: PixelLimit
) -> None:
    values = value if isinstance(value, tuple) else (value,)
    if any(v <= 0 for v in values):
        raise ConfigValueError(f"max_output_pixels must be positive, got {value}")


@attrs.frozen
class WMSAttributionConf:
    """`services.wms.attribution`: a line drawn into every GetMap answer."""

    text: str | None = None


@attrs.frozen
class BboxSrsConf:
    """A `services.wms.bbox_srs` entry with its own extent: `bbox` (x/y order) in `srs`."""

    srs: str
    bbox: BboxConf


# A `bbox_srs` entry: an SRS code, or an SRS with the bbox to advertise in it.
BboxSrsEntry = str | BboxSrsConf


@attrs.frozen
class WMSServiceConf:
    """`services.wms`; defaults are MapProxy's."""

    srs: tuple[str, ...] = (
        "EPSG:4326",
        "EPSG:4258",
        "CRS:84",
        "EPSG:900913",
        "EPSG:3857",
    )
    bbox_srs: tuple[BboxSrsEntry, ...] | None = None
    # MapProxy's list also has image/GeoTIFF, which Tilegate does not write (no geo tags).
    image_formats: tuple[str, ...] = (
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/tiff",
    )
    md: dict[str, object] | None = None
    inspire_md: InspireConf | None = None
    attribution: WMSAttributionConf | None = None
    strict: bool = False
    max_output_pixels: PixelLimit = attrs.field(
        default=(4000, 4000), validator=_max_output_pixels
    )
    versions: tuple[str, ...] = attrs.field(
        default=("1.0.0", "1.1.0", "1.1.1", "1.3.0"), validator=_wms_versions
    )
    on_source_errors: Literal["notify", "raise"] = "notify"
    # None: the kinds `featureinfo_xslt` names, else text, html and xml (as MapProxy).
    featureinfo_types: tuple[Literal["text", "html", "xml", "json"], ...] | None = None
    # XSL files (paths from the configuration's directory) applied to feature info answers
    # by the kind of the asked INFO_FORMAT.
    featureinfo_xslt: dict[Literal["html", "xml"], str] | None = None


@attrs.frozen
class OGCAPIServiceConf:
    """`services.ogcapi`: OGC API Tiles and Maps; defaults are MapProxy's."""

    enable_tiles: bool = True
    enable_maps: bool = True
    # The first is a map's CRS when a request names none. MapProxy keeps these in a set, so
    # its default depends on the process; Web Mercator first, as it mostly comes out there.
    map_srs: tuple[str, ...] = ("EPSG:3857", "EPSG:4326")
    attribution: WMSAttributionConf | None = None
    on_source_errors: Literal["notify", "raise"] = "notify"
    max_output_pixels: PixelLimit = attrs.field(
        default=(4000, 4000), validator=_max_output_pixels
    )
    image_formats: tuple[str, ...] = ("image/png", "image/jpeg")
    # Accepted for MapProxy configurations; a map's layers are drawn one after another.
    concurrent_layer_renderer: int = 1
    # identification (title, description, url, terms_of_service, keywords), contact,
    # license (name, url) and provider (name, url), as MapProxy reads them.
    md: dict[str, object] | None = None
    # The collections a map or tile of the whole dataset (`/ogcapi/map`) draws.
    default_dataset_layers: tuple[str, ...] | None = None


@attrs.frozen
class DemoServiceConf:
    pass


@attrs.frozen
class ServicesConf:
    """Which services are on; a service listed with no options (`demo:`) is on with defaults."""

    demo: DemoServiceConf | None = None
    tms: TMSServiceConf | None = None
    wmts: WMTSServiceConf | None = None
    wms: WMSServiceConf | None = None
    kml: KMLServiceConf | None = None
    ogcapi: OGCAPIServiceConf | None = None


@attrs.frozen
class TilegateConf:
    """A whole mapproxy.yaml."""

    services: ServicesConf = attrs.Factory(ServicesConf)
    layers: tuple[LayerConf, ...] = ()
    caches: dict[str, CacheConf] = attrs.Factory(dict)
    sources: dict[str, SourceConf] = attrs.Factory(dict)
    grids: dict[str, GridConf] = attrs.Factory(dict)
    globals: GlobalsConf = attrs.Factory(GlobalsConf)
