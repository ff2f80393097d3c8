"""The configuration model: frozen classes whose attributes keep MapProxy's YAML key names.

The YAML adapter fills these; defaults are MapProxy's. Classes validate what a single value
can get wrong; cross references (a cache naming an unknown grid) are checked by the config adapter.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import attrs

from domain.dimensions import Dimension
from domain.errors import ConfigValueError
from domain.inspire_config import InspireConf
from domain.res_range import ResRange, res_range
from domain.time_spec import TimeSpec
from domain.watermark import WatermarkConf

Number = float | int
BboxConf = tuple[float, float, float, float]
ScalarParam = str | int | float | bool
# `max_output_pixels`: a pixel count, or a width and height whose product is the count.
PixelLimit = int | tuple[int, int]


def _positive_pair(
    instance: object, attribute: attrs.Attribute[Any], value: tuple[int, int] | None
) -> None:
    if value is not None and (value[0] <= 0 or value[1] <= 0):
        raise ConfigValueError(
            f"{attribute.name} must be two positive numbers, got {list(value)}"
        )


def _non_negative(
    instance: object, attribute: attrs.Attribute[Any], value: int | None
) -> None:
    if value is not None and value < 0:
        raise ConfigValueError(f"{attribute.name} must not be negative, got {value}")


def _positive(
    instance: object, attribute: attrs.Attribute[Any], value: int | None
) -> None:
    if value is not None and value < 1:
        raise ConfigValueError(f"{attribute.name} must be 1 or more, got {value}")


def _permissions(
    instance: object, attribute: attrs.Attribute[Any], value: str | None
) -> None:
    # As MapProxy: an octal mode as text ('755'); chmod'ed onto what the cache creates.
    if value is not None and permission_bits(value) is None:
        raise ConfigValueError(
            f"{attribute.name} must be an octal mode like '755', got {value!r}"
        )


def permission_bits(mode: str | None) -> int | None:
    """An octal mode text (`'755'`, `'0o644'`) as permission bits; None if unset or invalid."""
    if mode is None:
        return None
    try:
        bits = int(mode, 8)
    except ValueError:
        return None
    return bits if 0 <= bits <= 0o7777 else None


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
class HttpConf:
    """HTTP client options (`globals.http` or a source's `http`)."""

    client_timeout: float | None = None
    ssl_no_cert_checks: bool | None = None
    ssl_ca_certs: str | None = None
    headers: dict[str, str] | None = None
    method: Literal["GET", "POST", "AUTO"] | None = None
    access_control_allow_origin: str | None = None


@attrs.frozen
class CoverageConf:
    """A `coverage:` (bbox, WKT/GeoJSON polygons, or combinations of coverages)."""

    srs: str | None = None
    bbox: BboxConf | None = None
    # MapProxy's older spelling of a bbox's SRS; it wins over `srs`, as in MapProxy.
    bbox_srs: str | None = None
    polygons: str | None = None
    polygons_srs: str | None = None
    datasource: str | None = None
    where: str | None = None
    expire_tiles: str | None = None
    union: tuple[CoverageConf, ...] | None = None
    intersection: tuple[CoverageConf, ...] | None = None
    difference: tuple[CoverageConf, ...] | None = None
    clip: bool = False


def _opacity(
    instance: object, attribute: attrs.Attribute[Any], value: float | None
) -> None:
    if value is not None and not 0 <= value <= 1:
        raise ConfigValueError(f"opacity must be between 0 and 1, got {value}")


# A colour as `#rrggbb` (`#rrggbbaa`) or a list of 3 (4) numbers 0 to 255.
ColorConf = str | tuple[int, ...]


def _color(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and value != "transparent":
        try:
            parse_color(value)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ConfigValueError(f"{attribute.name}: {exc}") from None


def parse_color(value: ColorConf) -> tuple[int, int, int, int]:
    """An RGBA colour from `#rrggbb`, `#rrggbbaa` or 3 or 4 numbers (opaque unless given)."""
    if isinstance(value, str):
        text = value.strip().removeprefix("#")
        if len(text) not in (6, 8) or any(
            c not in "0123456789abcdefABCDEF" for c in text
        ):
            raise ValueError(f"expected a colour #rrggbb, got {value!r}")
        parts = [int(text[i : i + 2], 16) for i in range(0, len(text), 2)]
    else:
        parts = list(value)
        if len(parts) not in (3, 4) or not all(0 <= p <= 255 for p in parts):
            raise ValueError(f"expected 3 or 4 numbers 0 to 255, got {parts}")
    red, green, blue, *alpha = parts
    return (red, green, blue, alpha[0] if alpha else 255)


def _tolerance(
    instance: object, attribute: attrs.Attribute[Any], value: float | None
) -> None:
    if value is not None and value < 0:
        raise ConfigValueError(
            f"transparent_color_tolerance must not be negative, got {value}"
        )


@attrs.frozen
class SourceImageConf:
    """A source's `image:` options; `opacity` fades its image where it is merged with others,
    `transparent_color` (within `transparent_color_tolerance`) turns one colour transparent."""

    opacity: float | None = attrs.field(default=None, validator=_opacity)
    transparent_color: ColorConf | None = attrs.field(default=None, validator=_color)
    transparent_color_tolerance: float | None = attrs.field(
        default=None, validator=_tolerance
    )


@attrs.frozen
class OnErrorConf:
    """What a source's `on_error` entry answers instead of failing: an image of `response`
    (`transparent` or a colour), stored only with `cache`; with `authorize_stale` a tile
    already in the cache is kept instead."""

    response: ColorConf = attrs.field(default="transparent", validator=_color)
    cache: bool = False
    authorize_stale: bool = False


def _on_error(
    instance: object,
    attribute: attrs.Attribute[Any],
    value: dict[int | str, OnErrorConf] | None,
) -> None:
    for key in value or {}:
        if key != "other" and not (isinstance(key, int) and 100 <= key <= 599):
            raise ConfigValueError(
                f"on_error keys must be HTTP status codes or 'other', got {key!r}"
            )


# `on_error`: HTTP status (or `other`: any other status, or no answer) -> what to answer.
OnErrorMap = dict[int | str, OnErrorConf]


@attrs.frozen
class WMSSourceConf:
    """A `type: wms` source; `req` holds the WMS parameters passed upstream, `url` among them."""

    req: dict[str, ScalarParam]
    type: Literal["wms"] = "wms"
    supported_srs: tuple[str, ...] | None = None
    supported_formats: tuple[str, ...] | None = None
    coverage: CoverageConf | None = None
    # Where the source is asked: resolutions (m/px) or scale denominators, not both.
    min_res: float | None = None
    max_res: float | None = None
    min_scale: float | None = None
    max_scale: float | None = None
    concurrent_requests: int = attrs.field(default=0, validator=_non_negative)
    http: HttpConf | None = None
    wms_opts: dict[str, ScalarParam] | None = None
    transparent: bool | None = None
    seed_only: bool = False
    image: SourceImageConf | None = None
    on_error: OnErrorMap | None = attrs.field(default=None, validator=_on_error)
    # Parameters of a client's WMS request passed on to the source (uncached layers).
    forward_req_params: tuple[str, ...] | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.req.get("url"), str) or not self.req["url"]:
            raise ConfigValueError("req.url is required for a wms source")
        # Without req.layers the source names its layers where it is used tagged
        # (`name:layer1,layer2`); elsewhere it asks for none (a warning, as in MapProxy).
        layers = self.req.get("layers")
        if layers is not None and (not isinstance(layers, str) or not layers):
            raise ConfigValueError("req.layers must be layer names")
        self.res_limits()

    def res_limits(self) -> ResRange | None:
        """The source's resolution range (None: asked at every resolution)."""
        return res_range(self.min_res, self.max_res, self.min_scale, self.max_scale)


@attrs.frozen
class TileSourceConf:
    """A `type: tile` source: a URL template over the source's own grid."""

    url: str
    type: Literal["tile"] = "tile"
    grid: str = "GLOBAL_MERCATOR"
    origin: str | None = None
    transparent: bool = False
    coverage: CoverageConf | None = None
    min_res: float | None = None
    max_res: float | None = None
    min_scale: float | None = None
    max_scale: float | None = None
    concurrent_requests: int = attrs.field(default=0, validator=_non_negative)
    http: HttpConf | None = None
    seed_only: bool = False
    image: SourceImageConf | None = None
    on_error: OnErrorMap | None = attrs.field(default=None, validator=_on_error)

    def __attrs_post_init__(self) -> None:
        self.res_limits()

    def res_limits(self) -> ResRange | None:
        """The source's resolution range (None: asked at every resolution)."""
        return res_range(self.min_res, self.max_res, self.min_scale, self.max_scale)


@attrs.frozen
class DebugSourceConf:
    """A `type: debug` source: draws each request's bbox and resolution."""

    type: Literal["debug"] = "debug"


@attrs.frozen
class GeoJSONSourceConf:
    """A `type: geojson` source (Tilegate's own): renders the polygons of a GeoJSON file offline."""

    file: str
    type: Literal["geojson"] = "geojson"
    srs: str = "EPSG:4326"
    fill: str = "#d8d0b8"
    stroke: str = "#6b5e4a"
    background: str = "#a6c8e0"
    transparent: bool = False


def _positive_number(
    instance: object, attribute: attrs.Attribute[Any], value: float | None
) -> None:
    if value is not None and not value > 0:
        raise ConfigValueError(f"{attribute.name} must be positive, got {value}")


@attrs.frozen
class ArcGISReqConf:
    """An `arcgis` source's `req`: the REST service URL and what each export asks for."""

    url: str
    layers: str | None = None
    transparent: bool | None = None
    dpi: int | None = None
    time: str | None = None


@attrs.frozen
class ArcGISOptsConf:
    """An `arcgis` source's `opts`: identify as feature info, and whether it draws maps."""

    featureinfo: bool = False
    featureinfo_tolerance: float = 5
    featureinfo_return_geometries: bool = False
    map: bool = True


@attrs.frozen
class ArcGISSourceConf:
    """A `type: arcgis` source: export requests to an ArcGIS REST MapServer or ImageServer."""

    req: ArcGISReqConf
    type: Literal["arcgis"] = "arcgis"
    opts: ArcGISOptsConf = attrs.Factory(ArcGISOptsConf)
    supported_srs: tuple[str, ...] | None = None
    coverage: CoverageConf | None = None
    min_res: float | None = None
    max_res: float | None = None
    min_scale: float | None = None
    max_scale: float | None = None
    concurrent_requests: int = attrs.field(default=0, validator=_non_negative)
    http: HttpConf | None = None
    seed_only: bool = False

    def __attrs_post_init__(self) -> None:
        if not self.req.url:
            raise ConfigValueError("req.url is required for an arcgis source")
        self.res_limits()

    def res_limits(self) -> ResRange | None:
        """The source's resolution range (None: asked at every resolution)."""
        return res_range(self.min_res, self.max_res, self.min_scale, self.max_scale)


@attrs.frozen
class MapServerOptsConf:
    """`mapserver:` options (a source's, else `globals.mapserver`): how the CGI binary runs.

    `timeout` (seconds, Tilegate's own) bounds each run; a binary still running is killed.
    """

    binary: str | None = None
    working_dir: str | None = None
    timeout: float | None = attrs.field(default=None, validator=_positive_number)


@attrs.frozen
class MapServerSourceConf:
    """A `type: mapserver` source: WMS GetMap requests answered by the MapServer CGI binary."""

    req: dict[str, ScalarParam]
    type: Literal["mapserver"] = "mapserver"
    mapserver: MapServerOptsConf | None = None
    supported_srs: tuple[str, ...] | None = None
    supported_formats: tuple[str, ...] | None = None
    coverage: CoverageConf | None = None
    min_res: float | None = None
    max_res: float | None = None
    min_scale: float | None = None
    max_scale: float | None = None
    concurrent_requests: int = attrs.field(default=0, validator=_non_negative)
    wms_opts: dict[str, ScalarParam] | None = None
    transparent: bool | None = None
    seed_only: bool = False
    image: SourceImageConf | None = None

    def __attrs_post_init__(self) -> None:
        for key in ("map", "layers"):
            if not isinstance(self.req.get(key), str) or not self.req[key]:
                raise ConfigValueError(f"req.{key} is required for a mapserver source")
        self.res_limits()

    def res_limits(self) -> ResRange | None:
        """The source's resolution range (None: asked at every resolution)."""
        return res_range(self.min_res, self.max_res, self.min_scale, self.max_scale)


def _layer_names(
    instance: object, attribute: attrs.Attribute[Any], value: tuple[str, ...] | None
) -> None:
    if value is not None and not all(value):
        raise ConfigValueError(f"layers must be layer names, got {list(value)}")


@attrs.frozen
class MapnikSourceConf:
    """A `type: mapnik` source: maps rendered from a Mapnik XML style (`mapfile`).

    `layers` limits the drawn layers to those named (a list, or one comma-separated string).
    """

    mapfile: str
    type: Literal["mapnik"] = "mapnik"
    layers: tuple[str, ...] | None = attrs.field(default=None, validator=_layer_names)
    transparent: bool = False
    scale_factor: float = attrs.field(default=1.0, validator=_positive_number)
    multithreaded: bool = False
    use_mapnik2: bool | None = None
    coverage: CoverageConf | None = None
    min_res: float | None = None
    max_res: float | None = None
    min_scale: float | None = None
    max_scale: float | None = None
    concurrent_requests: int = attrs.field(default=0, validator=_non_negative)
    seed_only: bool = False

    def __attrs_post_init__(self) -> None:
        self.res_limits()

    def res_limits(self) -> ResRange | None:
        """The source's resolution range (None: asked at every resolution)."""
        return res_range(self.min_res, self.max_res, self.min_scale, self.max_scale)


SourceConf = (
    WMSSourceConf
    | TileSourceConf
    | DebugSourceConf
    | GeoJSONSourceConf
    | ArcGISSourceConf
    | MapServerSourceConf
    | MapnikSourceConf
)
# Sources with a `coverage`, resolution limits and `seed_only`.
LimitedSourceConf = (
    WMSSourceConf
    | TileSourceConf
    | ArcGISSourceConf
    | MapServerSourceConf
    | MapnikSourceConf
)


def source_opacity(conf: SourceConf | None) -> float | None:
    """A source's `image.opacity` (None for sources without image options)."""
    if (
        isinstance(conf, WMSSourceConf | TileSourceConf | MapServerSourceConf)
        and conf.image is not None
    ):
        return conf.image.opacity
    return None


def supported_srs(conf: SourceConf | None) -> tuple[str, ...] | None:
    """The SRS codes a source that renders in only some SRS (`supported_srs`) is asked in."""
    if isinstance(conf, WMSSourceConf | ArcGISSourceConf | MapServerSourceConf):
        return conf.supported_srs or None
    return None


def split_tag(name: str) -> tuple[str, tuple[str, ...] | None]:
    """A tagged source name `source:layer1,layer2` as the source's name and its layers."""
    if ":" not in name:
        return name, None
    base, layers = name.split(":", 1)
    return base, tuple(layer.strip() for layer in layers.split(",") if layer.strip())


SOURCE_TYPES: dict[str, type[SourceConf]] = {
    "wms": WMSSourceConf,
    "tile": TileSourceConf,
    "debug": DebugSourceConf,
    "geojson": GeoJSONSourceConf,
    "arcgis": ArcGISSourceConf,
    "mapserver": MapServerSourceConf,
    "mapnik": MapnikSourceConf,
}


@attrs.frozen
class FileCacheBackendConf:
    """A cache's `cache:` options for `type: file` (the default)."""

    type: Literal["file"] = "file"
    directory_layout: Literal["tc", "mp", "tms", "reverse_tms", "quadkey", "arcgis"] = (
        "tc"
    )
    directory: str | None = None
    use_grid_names: bool = False
    tile_lock_dir: str | None = None
    directory_permissions: str | None = attrs.field(
        default=None, validator=_permissions
    )
    file_permissions: str | None = attrs.field(default=None, validator=_permissions)


@attrs.frozen
class MBTilesBackendConf:
    """`type: mbtiles`: every tile of the cache in one MBTiles file (no timestamps)."""

    type: Literal["mbtiles"] = "mbtiles"
    filename: str | None = None
    sqlite_timeout: float | None = attrs.field(default=None, validator=_positive_number)
    sqlite_wal: bool | None = None
    tile_lock_dir: str | None = None
    directory_permissions: str | None = attrs.field(
        default=None, validator=_permissions
    )
    file_permissions: str | None = attrs.field(default=None, validator=_permissions)


@attrs.frozen
class SqliteBackendConf:
    """`type: sqlite`: one MBTiles-like file per level, with a timestamp per tile."""

    type: Literal["sqlite"] = "sqlite"
    directory: str | None = None
    sqlite_timeout: float | None = attrs.field(default=None, validator=_positive_number)
    sqlite_wal: bool | None = None
    tile_lock_dir: str | None = None
    # Seconds a tile stays valid; 0 keeps tiles forever.
    ttl: int = attrs.field(default=0, validator=_non_negative)
    directory_permissions: str | None = attrs.field(
        default=None, validator=_permissions
    )
    file_permissions: str | None = attrs.field(default=None, validator=_permissions)


def _table_name(
    instance: object, attribute: attrs.Attribute[Any], value: str | None
) -> None:
    # As MapProxy: the name goes into SQL as an identifier, so only these characters.
    if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]+", value):
        raise ConfigValueError(
            f"table_name may only hold letters, digits, '_' and '-', got {value!r}"
        )


@attrs.frozen
class GeoPackageBackendConf:
    """`type: geopackage`: a tile table in a GeoPackage file (or one file per level)."""

    type: Literal["geopackage"] = "geopackage"
    filename: str | None = None
    directory: str | None = None
    table_name: str | None = attrs.field(default=None, validator=_table_name)
    levels: bool = False
    tile_lock_dir: str | None = None
    directory_permissions: str | None = attrs.field(
        default=None, validator=_permissions
    )
    file_permissions: str | None = attrs.field(default=None, validator=_permissions)


def _port(instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if not 0 < value < 65536:
        raise ConfigValueError(f"port must be 1 to 65535, got {value}")


@attrs.frozen
class RedisBackendConf:
    """`type: redis`: tiles as keys of a Redis database, each expiring `default_ttl` seconds
    after it was stored (0: never); keys are `<prefix>-<z>-<x>-<y>`, as MapProxy names them."""

    type: Literal["redis"] = "redis"
    host: str = "localhost"
    port: int = attrs.field(default=6379, validator=_port)
    db: int = attrs.field(default=0, validator=_non_negative)
    # Default `<cache name>_<grid name>`; a prefix that is set is shared by all the grids.
    prefix: str | None = None
    default_ttl: int = attrs.field(default=3600, validator=_non_negative)
    username: str | None = None
    password: str | None = None
    tile_lock_dir: str | None = None


@attrs.frozen
class CompactBackendConf:
    """`type: compact`: ArcGIS compact cache bundles (format `version` 1 or 2, required)."""

    version: Literal[1, 2]
    type: Literal["compact"] = "compact"
    directory: str | None = None
    tile_lock_dir: str | None = None
    directory_permissions: str | None = attrs.field(
        default=None, validator=_permissions
    )
    file_permissions: str | None = attrs.field(default=None, validator=_permissions)


CacheBackendConf = (
    FileCacheBackendConf
    | MBTilesBackendConf
    | SqliteBackendConf
    | GeoPackageBackendConf
    | RedisBackendConf
    | CompactBackendConf
)
CACHE_TYPES: dict[str, type[CacheBackendConf]] = {
    "file": FileCacheBackendConf,
    "mbtiles": MBTilesBackendConf,
    "sqlite": SqliteBackendConf,
    "geopackage": GeoPackageBackendConf,
    "redis": RedisBackendConf,
    "compact": CompactBackendConf,
}


@attrs.frozen
class BandSourceConf:
    """One band of a source that goes into a channel of a band-merged cache, times `factor`."""

    source: str
    band: int = attrs.field()
    factor: float = 1.0

    @band.validator
    def _band(self, attribute: attrs.Attribute[Any], value: int) -> None:
        if not 0 <= value <= 3:
            raise ConfigValueError(f"band must be 0 to 3, got {value}")


def _band_sources(
    instance: object,
    attribute: attrs.Attribute[Any],
    value: tuple[BandSourceConf, ...] | None,
) -> None:
    if value is not None and not value:
        raise ConfigValueError(f"{attribute.name} needs at least one source band")


@attrs.frozen
class BandMergeConf:
    """A cache's `sources` as a mapping: channels (r, g, b, a, or l for grey) from source bands."""

    r: tuple[BandSourceConf, ...] | None = attrs.field(
        default=None, validator=_band_sources
    )
    g: tuple[BandSourceConf, ...] | None = attrs.field(
        default=None, validator=_band_sources
    )
    b: tuple[BandSourceConf, ...] | None = attrs.field(
        default=None, validator=_band_sources
    )
    a: tuple[BandSourceConf, ...] | None = attrs.field(
        default=None, validator=_band_sources
    )
    l: tuple[BandSourceConf, ...] | None = attrs.field(  # noqa: E741 -- MapProxy's key
        default=None, validator=_band_sources
    )

    def __attrs_post_init__(self) -> None:
        colour = any(c is not None for c in (self.r, self.g, self.b, self.a))
        if self.l is not None and colour:
            raise ConfigValueError(
                "band merging takes l (grey) or r, g, b, a, not both"
            )
        if self.l is None and not colour:
            raise ConfigValueError("band merging needs at least one of r, g, b, a, l")

    def channels(self) -> dict[str, tuple[BandSourceConf, ...]]:
        """The configured channels by name."""
        return {
            name: bands
            for name in ("r", "g", "b", "a", "l")
            if (bands := getattr(self, name)) is not None
        }

    def source_names(self) -> tuple[str, ...]:
        """Each source once, in order of first use."""
        names = [band.source for bands in self.channels().values() for band in bands]
        return tuple(dict.fromkeys(names))


CacheSourcesConf = tuple[str, ...] | BandMergeConf


@attrs.frozen
class CacheConf:
    """A `caches:` entry; `sources` is a list of names, or a band-merging mapping."""

    sources: CacheSourcesConf = ()
    grids: tuple[str, ...] = ("GLOBAL_MERCATOR",)
    format: str = "image/png"
    request_format: str | None = None
    image: ImageFormatConf | None = None
    meta_size: tuple[int, int] | None = attrs.field(
        default=None, validator=_positive_pair
    )
    meta_buffer: int | None = attrs.field(default=None, validator=_non_negative)
    minimize_meta_requests: bool | None = None
    disable_storage: bool = False
    link_single_color_images: bool | None = None
    cache_dir: str | None = None
    tile_lock_dir: str | None = None
    cache: CacheBackendConf = attrs.Factory(FileCacheBackendConf)
    watermark: WatermarkConf | None = None
    # A stored tile older than this is made again when it is asked for.
    refresh_before: TimeSpec | None = None
    # A missing tile is made from stored tiles up to this many levels coarser (upscale) or
    # finer (downscale) when no source can make it; stored only with cache_rescaled_tiles.
    upscale_tiles: int = attrs.field(default=0, validator=_non_negative)
    downscale_tiles: int = attrs.field(default=0, validator=_non_negative)
    cache_rescaled_tiles: bool = False
    # WMS maps this fine or finer come from the (one) source, not the cache.
    use_direct_from_level: int | None = attrs.field(
        default=None, validator=_non_negative
    )
    use_direct_from_res: float | None = attrs.field(
        default=None, validator=_positive_number
    )
    concurrent_tile_creators: int | None = attrs.field(
        default=None, validator=_positive
    )
    bulk_meta_tiles: bool | None = None

    def __attrs_post_init__(self) -> None:
        if (
            self.use_direct_from_level is not None
            and self.use_direct_from_res is not None
        ):
            raise ConfigValueError(
                "set use_direct_from_level or use_direct_from_res, not both"
            )

    def source_names(self) -> tuple[str, ...]:
        """Every source and cache the cache is made from, each once."""
        if isinstance(self.sources, BandMergeConf):
            return self.sources.source_names()
        return self.sources


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


def _jpeg_quality(
    instance: object, attribute: attrs.Attribute[Any], value: int | None
) -> None:
    if value is not None and not 1 <= value <= 100:
        raise ConfigValueError(f"jpeg_quality must be 1 to 100, got {value}")


@attrs.frozen
class EncodingOptionsConf:
    """An image format's `encoding_options`."""

    jpeg_quality: int | None = attrs.field(default=None, validator=_jpeg_quality)
    quantizer: Literal["fastoctree", "mediancut"] | None = None


def _colors(
    instance: object, attribute: attrs.Attribute[Any], value: int | None
) -> None:
    if value is not None and not 0 <= value <= 256:
        raise ConfigValueError(f"colors must be 0 (full colour) to 256, got {value}")


@attrs.frozen
class ImageFormatConf:
    """Image options: a `globals.image.formats` entry (a format name as WMS offers it) or a
    cache's `image:`, saying how images are encoded and resampled.

    `format` is the real format (`image/png`, `image/jpeg`, `mixed`; default: the entry's name
    or the cache's `format`); `colors: 0` writes full-colour PNG, N a palette of at most N
    colours; `mode` is the PNG's pixel mode (`P` paletted, `RGB`, `RGBA`); `transparent: true`
    keeps an alpha channel where `mode` is not given.
    """

    format: str | None = None
    mode: Literal["RGB", "RGBA", "P"] | None = None
    colors: int | None = attrs.field(default=None, validator=_colors)
    transparent: bool | None = None
    resampling_method: Literal["nearest", "bilinear", "bicubic"] | None = None
    encoding_options: EncodingOptionsConf = attrs.Factory(EncodingOptionsConf)


@attrs.frozen
class GlobalsImageConf:
    resampling_method: Literal["nearest", "bilinear", "bicubic"] = "bicubic"
    paletted: bool = True
    stretch_factor: float = 1.15
    max_shrink_factor: float = 4.0
    jpeg_quality: int | None = attrs.field(default=None, validator=_jpeg_quality)
    formats: dict[str, ImageFormatConf] = attrs.Factory(dict)


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


@attrs.frozen
class TilegateConf:
    """A whole mapproxy.yaml."""

    services: ServicesConf = attrs.Factory(ServicesConf)
    layers: tuple[LayerConf, ...] = ()
    caches: dict[str, CacheConf] = attrs.Factory(dict)
    sources: dict[str, SourceConf] = attrs.Factory(dict)
    grids: dict[str, GridConf] = attrs.Factory(dict)
    globals: GlobalsConf = attrs.Factory(GlobalsConf)
