"""`type: compact`: an ArcGIS compact cache (bundle format version 1 or 2), as MapProxy keeps one.

Files are named as ArcGIS and MapProxy name them: `<directory>/L<zz>/R<rrrr>C<cccc>.bundle`
(and `.bundlx` in version 1), `rrrr`/`cccc` the hex row and column of the bundle's first tile,
rows as the grid counts them. Writers of a bundle take its lock (`R<rrrr>C<cccc>.lck` beside it,
the file MapProxy locks), so workers and seeders in any process append one at a time; readers
take none (see `adapters/compact_bundle.py` for why they need not). A bundle keeps no time per
tile: a tile's mtime is its bundle's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import attrs

from adapters.compact_bundle import FORMATS, SIDE, BundleFormat
from adapters.fcntl_locker import FcntlLocker
from adapters.permissions import Permissions
from adapters.store_failures import StoreFailures
from domain.grid import TileCoord
from domain.ports import EncodedTile, StoredTile

LOGGER = "mapproxy.cache.compact"


@attrs.define
class CompactCache:
    """The tiles of one cache in one grid, in bundles under `directory`."""

    directory: Path = attrs.field(converter=Path)
    version: int = attrs.field(validator=attrs.validators.in_(FORMATS))
    permissions: Permissions = attrs.field(factory=Permissions)
    # Seconds a writer waits for a bundle another writer holds.
    lock_timeout: float = 60.0
    _format: BundleFormat = attrs.field(init=False)
    _failures: StoreFailures = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._format = FORMATS[self.version]
        self._failures = StoreFailures(LOGGER, str(self.directory))

    def load(self, coord: TileCoord) -> StoredTile | None:
        base, col, row = self._where(coord)
        try:
            found = self._format.read(base, col, row)
        except OSError:
            return None  # an unreadable bundle is a miss: the tile is made again
        if found is None:
            return None
        data, mtime = found
        return StoredTile(coord, mtime, len(data), data=data)

    def store(self, tile: EncodedTile) -> None:
        c = tile.coord
        base, col, row = self._where(c)
        try:
            with self._locked(base) as acquired:
                if not acquired:
                    raise TimeoutError(f"bundle {base.name} locked by another writer")
                if not self._format.exists(base):
                    self._format.create(base, c.y - row, c.x - col, self.permissions)
                self._format.append(base, col, row, tile.data)
        except OSError as exc:
            # Nothing points at a tile half written: the bundle holds what it held before.
            raise self._failures.failed(f"{c.z}/{c.x}/{c.y}", exc) from exc
        self._failures.stored()

    def remove(self, coord: TileCoord) -> bool:
        """Remove the tile at `coord` (its index entry; the bytes stay); False if there was none."""
        base, col, row = self._where(coord)
        if not self._format.exists(base):
            return False
        with self._locked(base) as acquired:
            if not acquired:
                raise TimeoutError(f"bundle {base.name} locked by another writer")
            return self._format.clear(base, col, row)

    @property
    def keeps_timestamps(self) -> bool:
        return False  # one mtime per bundle

    def stored_tiles(self, levels: Collection[int]) -> Iterator[StoredTile]:
        """Every tile stored in `levels`, from the bundles' indexes, with its bundle's mtime."""
        for z in sorted(set(levels)):
            level_dir = self._level_dir(z)
            try:
                bundles = sorted(level_dir.glob("R*C*.bundle"))
            except OSError:
                continue
            for bundle in bundles:
                origin = _bundle_origin(bundle.stem)
                if origin is None:
                    continue
                try:
                    mtime = bundle.stat().st_mtime
                    entries = list(self._format.sizes(bundle.with_suffix("")))
                except OSError:
                    continue
                for col, row, size in entries:
                    coord = TileCoord(origin[1] + col, origin[0] + row, z)
                    yield StoredTile(coord, mtime, size)

    def _where(self, coord: TileCoord) -> tuple[Path, int, int]:
        """The bundle's path without extension, and the tile's column and row within it."""
        col, row = coord.x % SIDE, coord.y % SIDE
        name = f"R{coord.y - row:04x}C{coord.x - col:04x}"
        return self._level_dir(coord.z) / name, col, row

    def _level_dir(self, z: int) -> Path:
        return self.directory / f"L{z:02d}"

    def _locked(self, base: Path) -> AbstractContextManager[bool]:
        return FcntlLocker(base.parent, self.permissions).lock(
            base.name, self.lock_timeout
        )


def _bundle_origin(stem: str) -> tuple[int, int] | None:
    """Row and column of the first tile of bundle `R<hex>C<hex>`, None for other names."""
    row, sep, col = stem[1:].partition("C")
    try:
        return (int(row, 16), int(col, 16)) if sep and stem[0] == "R" else None
    except ValueError:
        return None
