"""The object store caches (`type: s3`, `type: azureblob`): their stores built from the cache's
keys, `globals.cache.s3`/`.azureblob` and the environment. Part of the composition root."""

from __future__ import annotations

import os
from collections.abc import Mapping

from adapters import azure_store, s3_store
from adapters.aws_sigv4 import CredentialsError, find_credentials, find_region
from adapters.azure_store import AzureBlobStore, parse_connection_string
from adapters.blob_cache import BlobCache, key_prefix
from adapters.object_store import ObjectStore
from adapters.s3_store import S3Store
from domain.blob_config import AzureBlobBackendConf, S3BackendConf
from domain.config import GlobalsCacheConf
from domain.errors import ConfigError
from domain.formats import MIXED, find_format
from domain.grid import Grid


def blob_cache(
    name: str,
    backend: S3BackendConf | AzureBlobBackendConf,
    grid: Grid,
    grid_count: int,
    g: GlobalsCacheConf,
    ext: str,
    env: Mapping[str, str] = os.environ,
) -> BlobCache:
    """Cache `name`'s tiles in `grid` as objects; ConfigError naming the key that is missing
    or cannot be used (credentials are looked up now, so that a wrong profile fails at start)."""
    path = f"$.caches[{name!r}].cache"
    fmt = MIXED if ext == MIXED.ext else find_format(ext)
    if fmt is None:
        raise ConfigError("configuration", [f"unknown tile format {ext!r} @ {path}"])
    objects: ObjectStore
    try:
        if isinstance(backend, S3BackendConf):
            objects, logger = _s3(backend, g, env, path), s3_store.LOGGER
            grid_too = backend.include_grid_name
        else:
            objects, logger = _azure(backend, g, env, path), azure_store.LOGGER
            grid_too = False
    except ValueError as exc:
        # Messages name keys, never a secret value.
        raise ConfigError("configuration", [str(exc)]) from None
    if backend.directory is not None and grid_count > 1 and not grid_too:
        # MapProxy would put the tiles of every grid under the same keys, mixing them.
        hint = (
            " (include_grid_name keeps them apart)"
            if isinstance(backend, S3BackendConf)
            else ""
        )
        raise ConfigError(
            "configuration",
            [f"one directory cannot hold several grids{hint} @ {path}.directory"],
        )
    prefix = key_prefix(backend.directory, name, grid.name, grid_too)
    return BlobCache(objects, prefix, backend.directory_layout, fmt, logger)


def _s3(
    s3: S3BackendConf, g: GlobalsCacheConf, env: Mapping[str, str], path: str
) -> S3Store:
    d = g.s3
    bucket = s3.bucket_name or d.bucket_name
    if not bucket:
        raise ValueError(
            f"bucket_name missing (here or in globals.cache.s3) @ {path}.bucket_name"
        )
    profile = s3.profile_name or d.profile_name
    try:
        credentials = find_credentials(profile, env)
    except CredentialsError as exc:
        raise ValueError(f"{exc} @ {path}.profile_name") from None
    try:
        return S3Store(
            bucket,
            find_region(s3.region_name or d.region_name, env),
            s3.endpoint_url or d.endpoint_url,
            credentials,
            s3.access_control_list or d.access_control_list,
            s3.use_http_get,
        )
    except ValueError as exc:
        raise ValueError(f"{exc} @ {path}.endpoint_url") from None


def _azure(
    az: AzureBlobBackendConf,
    g: GlobalsCacheConf,
    env: Mapping[str, str],
    path: str,
) -> AzureBlobStore:
    d = g.azureblob
    container = az.container_name or d.container_name
    if not container:
        raise ValueError(
            "container_name missing (here or in globals.cache.azureblob)"
            f" @ {path}.container_name"
        )
    connection = (
        az.connection_string
        or d.connection_string
        or env.get("AZURE_STORAGE_CONNECTION_STRING")
    )
    if not connection:
        raise ValueError(
            "connection_string missing (here, in globals.cache.azureblob or in"
            f" AZURE_STORAGE_CONNECTION_STRING) @ {path}.connection_string"
        )
    try:
        account = parse_connection_string(connection)
    except ValueError as exc:
        raise ValueError(f"{exc} @ {path}.connection_string") from None
    return AzureBlobStore(account, container)
