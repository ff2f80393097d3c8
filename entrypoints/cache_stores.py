"""Where caches keep their tiles: the store each cache backend configuration makes, and the
stores `tilegate export` writes. Part of the composition root (entrypoints/bootstrap.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from adapters.compact_cache import CompactCache
from adapters.file_cache import LAYOUTS, FileCache, cache_directory
from adapters.geopackage_cache import GeoPackageCache, geopackage_levels
from adapters.http_client import HttpClient
from adapters.mbtiles_cache import MBTilesCache
from adapters.permissions import Permissions
from adapters.sqlite_cache import sqlite_levels
from adapters.sqlite_db import LevelFiles
from domain.blob_config import AzureBlobBackendConf, S3BackendConf
from domain.config import (
    CacheBackendConf,
    CacheConf,
    CompactBackendConf,
    FileCacheBackendConf,
    GeoPackageBackendConf,
    GlobalsCacheConf,
    HttpConf,
    MBTilesBackendConf,
    RedisBackendConf,
    SqliteBackendConf,
    permission_bits,
)
from domain.couchdb_config import CouchDBBackendConf
from domain.grid import Grid
from domain.ports import TileCache

T = TypeVar("T")
SqliteStore = (
    MBTilesCache
    | LevelFiles[MBTilesCache]
    | GeoPackageCache
    | LevelFiles[GeoPackageCache]
)


def cache_store(
    name: str,
    cache: CacheConf,
    grid: Grid,
    here: Path,
    base_dir: Path,
    g: GlobalsCacheConf,
    ext: str,
) -> TileCache:
    """Where cache `name` keeps its tiles in `grid` (relative paths from `here`; `base_dir` is
    globals.cache.base_dir; `ext` the file extension of its tiles)."""
    # The remote stores' adapters are imported only where a cache uses them: the redis
    # client costs every start 30 ms, the object stores and CouchDB 15 ms, and few use them.
    if isinstance(cache.cache, RedisBackendConf):
        from adapters.redis_cache import RedisCache, RedisTls

        r = cache.cache
        tls = None
        if r.tls:
            tls = RedisTls(
                *(
                    str(here / f) if f else None
                    for f in (r.ssl_certfile, r.ssl_keyfile, r.ssl_ca_certs)
                )
            )
            tls.check(f"$.caches[{name!r}].cache")
        return RedisCache(
            r.host,
            r.port,
            f"{name}_{grid.name}" if r.prefix is None else r.prefix,
            r.db,
            r.default_ttl,
            r.username,
            r.password,
            tls,
        )
    if isinstance(cache.cache, S3BackendConf | AzureBlobBackendConf):
        from entrypoints.blob_stores import blob_cache

        return blob_cache(name, cache.cache, grid, len(cache.grids), g, ext)
    if isinstance(cache.cache, CouchDBBackendConf):
        from adapters import couchdb_cache
        from adapters.couchdb_docs import TileDocs

        # As MapProxy 7: one database per cache and grid SRS (`osm_epsg900913`), lower case.
        db_name = cache.cache.db_name or f"{name}_{grid.srs.path_code}"
        http = HttpClient(
            HttpConf(client_timeout=couchdb_cache.TIMEOUT),
            request_log=couchdb_cache.LOGGER,
        )
        return couchdb_cache.CouchDBCache(
            cache.cache.url, db_name.lower(), TileDocs(cache.cache, grid), ext, http
        )
    if isinstance(cache.cache, CompactBackendConf):
        # As MapProxy: `directory` holds one grid, else `<cache_dir>/<cache>/<grid name>`.
        where = cache.cache.directory or Path(
            cache.cache_dir or base_dir, name, grid.name
        )
        return CompactCache(
            here / where,
            cache.cache.version,
            cache_permissions(cache.cache, g),
            g.lock_timeout,
        )
    if not isinstance(cache.cache, FileCacheBackendConf):
        return _sqlite_store(
            name,
            cache.cache,
            grid,
            here,
            here / (cache.cache_dir or base_dir),
            g,
        )
    directory = cache_directory(base_dir, name, grid, cache.cache, cache.cache_dir)
    files = FileCache(
        here / directory,
        cache.cache.directory_layout,
        ext,
        link_single_color_images=pick(
            cache.link_single_color_images, g.link_single_color_images
        ),
        permissions=cache_permissions(cache.cache, g),
    )
    # Temp files of writers killed mid-write (a crash, a worker timeout) go at start.
    files.remove_orphans()
    return files


def _sqlite_store(
    name: str,
    backend: MBTilesBackendConf | SqliteBackendConf | GeoPackageBackendConf,
    grid: Grid,
    here: Path,
    cache_dir: Path,
    g: GlobalsCacheConf,
) -> SqliteStore:
    """An SQLite-based store, its files named and placed as MapProxy places them."""
    # WAL unless switched off: readers then never wait for a writing worker.
    wal = pick(g.sqlite_wal, True)
    permissions = cache_permissions(backend, g)

    def levels_dir(directory: str | None) -> Path:
        # `directory` replaces `<cache_dir>/<cache name>` for the level files of a grid.
        base = here / directory if directory else cache_dir / name
        return base / grid.name

    match backend:
        case MBTilesBackendConf():
            path = _sqlite_file(here, cache_dir, backend.filename or f"{name}.mbtiles")
            return MBTilesCache(
                path,
                pick(backend.sqlite_timeout, g.sqlite_timeout),
                pick(backend.sqlite_wal, wal),
                permissions=permissions,
            )
        case SqliteBackendConf():
            return sqlite_levels(
                levels_dir(backend.directory),
                pick(backend.sqlite_timeout, g.sqlite_timeout),
                pick(backend.sqlite_wal, wal),
                backend.ttl,
                permissions=permissions,
            )
        case GeoPackageBackendConf():
            table = backend.table_name or f"{name}_{grid.name}"
            if backend.levels:
                return geopackage_levels(
                    levels_dir(backend.directory),
                    grid,
                    table,
                    g.sqlite_timeout,
                    wal,
                    permissions,
                )
            base = here / backend.directory if backend.directory else cache_dir
            path = _sqlite_file(here, base, backend.filename or f"{name}.gpkg")
            return GeoPackageCache(
                path, grid, table, g.sqlite_timeout, wal, permissions
            )


def _sqlite_file(here: Path, base: Path, filename: str) -> Path:
    # MapProxy reads a name starting with `./` from the configuration's directory, any
    # other relative name from the cache directory.
    return here / filename if filename.startswith("./") else base / filename


def cache_permissions(backend: CacheBackendConf, g: GlobalsCacheConf) -> Permissions:
    """A cache's `directory_permissions`/`file_permissions`, else the `globals.cache` ones."""
    # Redis, CouchDB and object store caches make no files but their locks: those as
    # `globals.cache` says.
    own = (
        (None, None)
        if isinstance(
            backend,
            RedisBackendConf
            | S3BackendConf
            | AzureBlobBackendConf
            | CouchDBBackendConf,
        )
        else (backend.directory_permissions, backend.file_permissions)
    )
    return Permissions(
        permission_bits(pick(own[0], g.directory_permissions)),
        permission_bits(pick(own[1], g.file_permissions)),
    )


def pick(value: T | None, default: T) -> T:
    return default if value is None else value


# What `tilegate export --type` writes besides the file layouts, with MapProxy's names.
EXPORT_FILES = ("mbtile", "geopackage")
EXPORT_TYPES = (*LAYOUTS, *EXPORT_FILES, "sqlite", "compact-v1", "compact-v2")


@contextlib.contextmanager
def export_store(
    kind: str, dest: Path, ext: str, grid: Grid, g: GlobalsCacheConf
) -> Iterator[TileCache]:
    """Where `tilegate export` writes, closed (its SQLite files complete) at the end.

    As MapProxy's export makes them: a file layout or compact cache bundles in directory
    `dest`; an MBTiles or GeoPackage file `dest` (its table `export_<grid>`); sqlite level files
    in `dest/<grid>/`.
    """
    if kind in LAYOUTS:
        yield FileCache(dest, kind, ext)
        return
    if kind in ("compact-v1", "compact-v2"):
        yield CompactCache(dest, int(kind[-1]))
        return
    # An absolute name: the cache options below then ignore their base directories.
    where = str(dest.absolute())
    backend: MBTilesBackendConf | SqliteBackendConf | GeoPackageBackendConf
    match kind:
        case "mbtile":
            backend = MBTilesBackendConf(filename=where)
        case "geopackage":
            backend = GeoPackageBackendConf(filename=where)
        case "sqlite":
            backend = SqliteBackendConf(directory=where)
        case _:
            raise ValueError(f"unknown export type {kind!r}")
    store = _sqlite_store("export", backend, grid, Path.cwd(), Path.cwd(), g)
    try:
        yield store
    finally:
        store.close()
