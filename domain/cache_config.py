"""The configuration of `caches:`: storage backends, band merging and the cache entry itself."""

from __future__ import annotations

import re
from typing import Any, Literal

import attrs

from domain.blob_config import AzureBlobBackendConf, DirectoryLayout, S3BackendConf
from domain.config_values import (
    ImageFormatConf,
    _non_negative,
    _permissions,
    _positive,
    _positive_number,
    _positive_pair,
)
from domain.couchdb_config import CouchDBBackendConf
from domain.errors import ConfigValueError
from domain.time_spec import TimeSpec
from domain.watermark import WatermarkConf


@attrs.frozen
class FileCacheBackendConf:
    """A cache's `cache:` options for `type: file` (the default)."""

    type: Literal["file"] = "file"
    directory_layout: DirectoryLayout = "tc"
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
    # TLS: a client certificate and its key (together), and/or the CA that signed the server's.
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_ca_certs: str | None = None

    def __attrs_post_init__(self) -> None:
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ConfigValueError("ssl_certfile and ssl_keyfile go together")

    @property
    def tls(self) -> bool:
        # Unlike MapProxy, which talks plain Redis unless a client certificate is given, any
        # TLS key turns TLS on: a CA alone is how a server-authenticated TLS Redis is reached.
        return any((self.ssl_certfile, self.ssl_keyfile, self.ssl_ca_certs))


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
    | S3BackendConf
    | AzureBlobBackendConf
    | CouchDBBackendConf
)
CACHE_TYPES: dict[str, type[CacheBackendConf]] = {
    "file": FileCacheBackendConf,
    "mbtiles": MBTilesBackendConf,
    "sqlite": SqliteBackendConf,
    "geopackage": GeoPackageBackendConf,
    "redis": RedisBackendConf,
    "compact": CompactBackendConf,
    "s3": S3BackendConf,
    "azureblob": AzureBlobBackendConf,
    "couchdb": CouchDBBackendConf,
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
