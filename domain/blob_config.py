"""The configuration of the object store caches (`type: s3`, `type: azureblob`) and of their
defaults in `globals.cache.s3` and `globals.cache.azureblob`."""

from __future__ import annotations

from typing import Literal

import attrs

# How tile paths (file caches) and object keys (s3, azureblob) are made from z, x and y.
DirectoryLayout = Literal["tc", "mp", "tms", "reverse_tms", "quadkey", "arcgis"]


@attrs.frozen
class S3BackendConf:
    """`type: s3`: one object per tile in an S3 bucket (AWS or any S3-compatible store), at
    `<directory>/<layout path>.<ext>`; unset keys come from `globals.cache.s3`."""

    type: Literal["s3"] = "s3"
    bucket_name: str | None = None
    # Default `<cache name>/<grid name>`; a set directory holds every grid of the cache,
    # unless `include_grid_name` adds the grid's name below it.
    directory: str | None = None
    directory_layout: DirectoryLayout = "tms"
    include_grid_name: bool = False
    profile_name: str | None = None
    region_name: str | None = None
    endpoint_url: str | None = None
    access_control_list: str | None = None
    # Tiles are read with plain, unsigned GET requests (a public bucket).
    use_http_get: bool = False
    tile_lock_dir: str | None = None


@attrs.frozen
class S3GlobalsConf:
    """`globals.cache.s3`: the defaults of every s3 cache."""

    bucket_name: str | None = None
    profile_name: str | None = None
    region_name: str | None = None
    endpoint_url: str | None = None
    access_control_list: str | None = None


@attrs.frozen
class AzureBlobBackendConf:
    """`type: azureblob`: one block blob per tile in an Azure Blob Storage container, named as
    S3 objects are; unset keys come from `globals.cache.azureblob`."""

    type: Literal["azureblob"] = "azureblob"
    connection_string: str | None = attrs.field(default=None, repr=False)
    container_name: str | None = None
    directory: str | None = None
    directory_layout: DirectoryLayout = "tms"
    tile_lock_dir: str | None = None


@attrs.frozen
class AzureBlobGlobalsConf:
    """`globals.cache.azureblob`: the defaults of every azureblob cache."""

    connection_string: str | None = attrs.field(default=None, repr=False)
    container_name: str | None = None
