"""Tiles as objects of an object store (`type: s3`, `type: azureblob`), one object per tile,
keyed as MapProxy 7 keys them: `<directory>/<layout path>.<ext>`, the layout one of the file
cache's (MapProxy's default here: `tms`, `z/x/y`).

A store that cannot be read fails the request that needed it with a SourceError (502), or a
SourceTimeoutError (504) if it did not answer in time; a tile that cannot be written is served
unstored, the failure logged once in a while. Cleanups list, date (the object's Last-Modified)
and delete objects; a failure there is a StoreError.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

import attrs

from adapters.file_cache import LAYOUTS, layout_coord
from adapters.object_store import ObjectStore, ObjectStoreError, ObjectStoreTimeoutError
from adapters.store_failures import StoreFailures
from domain.errors import SourceError, SourceTimeoutError, StoreError
from domain.formats import ImageFormat, stored_format
from domain.grid import TileCoord
from domain.ports import EncodedTile, StoredTile

# Layouts whose keys start with the level: a cleanup lists only the levels it cleans.
_LEVEL_FIRST = ("tc", "mp", "tms", "arcgis")


def key_prefix(
    directory: str | None, cache_name: str, grid_name: str, grid_too: bool
) -> str:
    """Where a cache's keys start in its bucket or container, as MapProxy places them.

    Without `directory`: `<cache>/<grid name>/`. A `directory` (leading and trailing slashes
    dropped) holds every grid of the cache, unless `grid_too` (S3's `include_grid_name`)
    adds `<grid name>/` below it.
    """
    if directory is None:
        return f"{cache_name}/{grid_name}/"
    base = directory.strip("/")
    parts = [p for p in (base, grid_name if grid_too else "") if p]
    return "".join(f"{p}/" for p in parts)


@attrs.define
class BlobCache:
    """The tiles of one cache in one grid, below `prefix` in an object store."""

    objects: ObjectStore
    prefix: str
    layout: str = attrs.field(validator=attrs.validators.in_(LAYOUTS))
    format: ImageFormat
    logger: str
    _failures: StoreFailures = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._failures = StoreFailures(
            self.logger, f"{self.objects.where} {self.prefix}"
        )

    def key(self, coord: TileCoord) -> str:
        """The object key of the tile at `coord`."""
        if coord.x < 0 or coord.y < 0 or coord.z < 0:
            raise ValueError(f"tile coordinates are never negative, got {coord}")
        path = LAYOUTS[self.layout](coord.x, coord.y, coord.z)
        return f"{self.prefix}{path}.{self.format.ext}"

    def load(self, coord: TileCoord) -> StoredTile | None:
        key = self.key(coord)
        try:
            found = self.objects.get(key)
        except ObjectStoreError as exc:
            # Not a miss: the request fails (502, 504) rather than going to the source
            # for every tile, or answering blank tiles where the cache has no source.
            error = (
                SourceTimeoutError
                if isinstance(exc, ObjectStoreTimeoutError)
                else SourceError
            )
            raise error(f"tile store {self.objects.where}: {exc}") from None
        if found is None:
            return None
        return StoredTile(coord, found.mtime, len(found.data), data=found.data)

    def store(self, tile: EncodedTile) -> None:
        key = self.key(tile.coord)
        # A `mixed` cache's tiles are PNG or JPEG each: the type is read from the bytes.
        content_type = stored_format(self.format, tile.data[:3]).mime
        try:
            self.objects.put(key, tile.data, content_type)
        except ObjectStoreError as exc:
            raise self._failures.failed(key, exc) from exc
        self._failures.stored()

    def remove(self, coord: TileCoord) -> bool:
        """Remove the tile at `coord`; False if there was none (where the store tells)."""
        key = self.key(coord)
        try:
            return self.objects.delete(key)
        except ObjectStoreError as exc:
            raise StoreError(f"tile {key} not removed: {exc}") from exc

    @property
    def keeps_timestamps(self) -> bool:
        return True  # each object's Last-Modified

    def stored_tiles(self, levels: Collection[int]) -> Iterator[StoredTile]:
        """Every tile stored for `levels`, found by listing keys (for cleanups)."""
        wanted = set(levels)
        if self.layout in _LEVEL_FIRST:
            prefixes = [
                self.prefix + LAYOUTS[self.layout](0, 0, z).split("/")[0] + "/"
                for z in sorted(wanted)
            ]
        else:
            prefixes = [self.prefix]
        suffix = f".{self.format.ext}"
        try:
            for prefix in prefixes:
                for found in self.objects.list_objects(prefix):
                    if not found.key.endswith(suffix):
                        continue
                    relative = found.key[len(self.prefix) : -len(suffix)]
                    coord = layout_coord(self.layout, relative)
                    # Only keys the layout would write: stray objects are not tiles.
                    if (
                        coord is not None
                        and coord.z in wanted
                        and self.key(coord) == found.key
                    ):
                        yield StoredTile(coord, found.mtime, found.size)
        except ObjectStoreError as exc:
            raise StoreError(
                f"tiles of {self.objects.where} not listed: {exc}"
            ) from exc
