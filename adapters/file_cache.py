"""Tiles as files in MapProxy's directory layouts, written atomically (temp file + rename)."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
import stat
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

import attrs

from adapters import logs
from adapters.permissions import Permissions
from adapters.store_failures import StoreFailures
from domain.config import FileCacheBackendConf
from domain.grid import Grid, TileCoord
from domain.ports import EncodedTile, StoredTile

# Writers make each file in TEMP_DIR (in the cache directory: the same file system, so the
# rename into place is atomic), named `<host>.<pid>.<random>.tmp`. A writer killed mid-write
# leaves its file there, never in the tile tree: sweeping orphans reads one small directory.
TEMP_DIR = "tmp"
TEMP_SUFFIX = ".tmp"
# A temp file this old is an orphan whatever its name says (its pid may have been reused).
ORPHAN_AGE = 3600.0
SINGLE_COLOR_DIR = "single_color_tiles"
_HOST = socket.gethostname().replace("/", "_")


def _tc(x: int, y: int, z: int) -> str:
    return (
        f"{z:02d}/{x // 1000000:03d}/{x // 1000 % 1000:03d}/{x % 1000:03d}"
        f"/{y // 1000000:03d}/{y // 1000 % 1000:03d}/{y % 1000:03d}"
    )


def _mp(x: int, y: int, z: int) -> str:
    return f"{z:02d}/{x // 10000:04d}/{x % 10000:04d}/{y // 10000:04d}/{y % 10000:04d}"


def _tms(x: int, y: int, z: int) -> str:
    return f"{z}/{x}/{y}"


def _reverse_tms(x: int, y: int, z: int) -> str:
    return f"{y}/{x}/{z}"


def _quadkey(x: int, y: int, z: int) -> str:
    # Rows are used as the grid counts them; level 0 gives an empty key (MapProxy's `.png`).
    digits = []
    for bit in range(z - 1, -1, -1):
        digits.append(str(((x >> bit) & 1) | (((y >> bit) & 1) << 1)))
    return "".join(digits)


def _arcgis(x: int, y: int, z: int) -> str:
    return f"L{z:02d}/R{y:08x}/C{x:08x}"


LAYOUTS: dict[str, Callable[[int, int, int], str]] = {
    "tc": _tc,
    "mp": _mp,
    "tms": _tms,
    "reverse_tms": _reverse_tms,
    "quadkey": _quadkey,
    "arcgis": _arcgis,
}

_EXT = re.compile(r"[A-Za-z0-9]+")


def _check_ext(
    instance: FileCache, attribute: attrs.Attribute[str], value: str
) -> None:
    if not _EXT.fullmatch(value):
        raise ValueError(f"a tile file extension is letters and digits, got {value!r}")


@attrs.define
class FileCache:
    """The tiles of one cache in one grid, one file each under `directory`."""

    directory: Path = attrs.field(converter=Path)
    layout: str = attrs.field(validator=attrs.validators.in_(LAYOUTS))
    ext: str = attrs.field(validator=_check_ext)
    link_single_color_images: bool = False
    permissions: Permissions = attrs.field(factory=Permissions)
    _prefix: str = attrs.field(init=False)
    _relative: Callable[[int, int, int], str] = attrs.field(init=False)
    _temp_dir: str = attrs.field(init=False)
    _failures: StoreFailures = attrs.field(init=False)
    # The process that last swept orphans: a forked worker sweeps again on its first write.
    _swept_pid: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        self._prefix = os.path.abspath(self.directory).rstrip("/") + "/"
        self._relative = LAYOUTS[self.layout]
        self._temp_dir = self._prefix + TEMP_DIR
        self._failures = StoreFailures(logs.CACHE_FILE, self._prefix.rstrip("/"))

    def for_dimensions(self, path: str) -> FileCache:
        """This cache for one combination of dimension values, in `path` below its directory
        (MapProxy's `time-<value>/...`; Chosen.path checked each part)."""
        return attrs.evolve(self, directory=Path(self._prefix) / path)

    def path_for(self, coord: TileCoord) -> Path:
        """The file that holds the tile at `coord`."""
        return Path(self._location(coord))

    def load(self, coord: TileCoord) -> StoredTile | None:
        path = self._location(coord)
        try:
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                # A single-colour link: when it was made is its own mtime (the shared target
                # is older); the bytes served are the target's.
                size = os.stat(path).st_size
            elif stat.S_ISREG(st.st_mode):
                size = st.st_size
            else:
                return None
        except (FileNotFoundError, NotADirectoryError):
            return None
        return StoredTile(coord, st.st_mtime, size, path=path)

    def store(self, tile: EncodedTile) -> None:
        """Write the tile whole (temp file + rename); StoreError if the disk refuses it."""
        path = self._location(tile.coord)
        if self._swept_pid != os.getpid():
            self._swept_pid = os.getpid()
            self.remove_orphans()
        try:
            if self.link_single_color_images and tile.color is not None:
                self._store_link(path, tile.data, tile.color)
            else:
                _write_atomic(path, tile.data, self._temp_dir, self.permissions)
        except OSError as exc:
            c = tile.coord
            raise self._failures.failed(f"{c.z}/{c.x}/{c.y}", exc) from exc
        self._failures.stored()

    def remove_orphans(self, now: float | None = None) -> int:
        """Delete the temp files of writers that are gone or old; how many were deleted.

        Best effort (a sweep that cannot read the directory leaves it for the next one);
        files of live writers on this host are kept.
        """
        now = time.time() if now is None else now
        removed = 0
        with contextlib.suppress(OSError), os.scandir(self._temp_dir) as entries:
            for entry in entries:
                if _is_orphan(entry, now):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                        removed += 1
        return removed

    def remove(self, coord: TileCoord) -> bool:
        """Remove the tile at `coord`; False if there was none."""
        try:
            os.unlink(self._location(coord))
        except (FileNotFoundError, NotADirectoryError):
            return False
        return True

    @property
    def keeps_timestamps(self) -> bool:
        return True  # each tile's own file mtime

    def stored_tiles(self, levels: Collection[int]) -> Iterator[StoredTile]:
        """Every tile stored for `levels`, found by walking the cache directory (for cleanups)."""
        wanted = set(levels)
        for dirpath, dirnames, filenames in os.walk(self._prefix):
            if dirpath + "/" == self._prefix:
                dirnames[:] = [d for d in dirnames if _may_hold(self.layout, d, wanted)]
            for name in filenames:
                stem, dot, ext = name.rpartition(".")
                if not dot or ext != self.ext:
                    continue
                relative = os.path.join(dirpath, stem)[len(self._prefix) :]
                coord = layout_coord(self.layout, relative)
                # Only names the layout would write: stray files are not tiles.
                if (
                    coord is not None
                    and coord.z in wanted
                    and self._relative(coord.x, coord.y, coord.z) == relative
                    and (tile := self.load(coord)) is not None
                ):
                    yield tile

    def _location(self, coord: TileCoord) -> str:
        x, y, z = coord.x, coord.y, coord.z
        if x < 0 or y < 0 or z < 0:
            raise ValueError(f"tile coordinates are never negative, got {coord}")
        path = f"{self._prefix}{self._relative(x, y, z)}.{self.ext}"
        if not os.path.normpath(path).startswith(self._prefix):
            raise ValueError(
                f"tile path {path!r} leaves the cache directory {self._prefix!r}"
            )
        return path

    def _store_link(self, path: str, data: bytes, color: tuple[int, ...]) -> None:
        name = "".join(f"{c:02x}" for c in color)
        target = f"{self._prefix}{SINGLE_COLOR_DIR}/{name}.{self.ext}"
        if not os.path.isfile(target):
            _write_atomic(target, data, self._temp_dir, self.permissions)
        link = os.path.relpath(target, os.path.dirname(path))
        # A link made under a temp name and renamed replaces a tile file or older link at once
        # (its target is relative to where the link ends up, not to the temp directory).
        _replace_atomic(
            path, lambda tmp: os.symlink(link, tmp), self._temp_dir, self.permissions
        )


def layout_coord(layout: str, relative: str) -> TileCoord | None:
    """The tile a path below the cache directory (without extension) names, or None."""
    parts = relative.split("/")
    try:
        match layout, parts:
            case "tc", [z, x1, x2, x3, y1, y2, y3]:
                x = int(x1) * 1000000 + int(x2) * 1000 + int(x3)
                return TileCoord(
                    x, int(y1) * 1000000 + int(y2) * 1000 + int(y3), int(z)
                )
            case "mp", [z, x1, x2, y1, y2]:
                return TileCoord(
                    int(x1) * 10000 + int(x2), int(y1) * 10000 + int(y2), int(z)
                )
            case "tms", [z, x, y]:
                return TileCoord(int(x), int(y), int(z))
            case "reverse_tms", [y, x, z]:
                return TileCoord(int(x), int(y), int(z))
            case "arcgis", [z, y, x] if z[:1] == "L" and y[:1] == "R" and x[:1] == "C":
                return TileCoord(int(x[1:], 16), int(y[1:], 16), int(z[1:]))
            case "quadkey", [key] if set(key) <= set("0123"):
                qx = qy = 0
                for digit in key:
                    qx, qy = 2 * qx + (int(digit) & 1), 2 * qy + (int(digit) >> 1)
                return TileCoord(qx, qy, len(key))
    except ValueError:
        return None
    return None


def _may_hold(layout: str, directory: str, levels: set[int]) -> bool:
    """False if a top-level directory holds only tiles of other levels."""
    level = directory[1:] if layout == "arcgis" else directory
    if layout not in ("tc", "mp", "tms", "arcgis") or not level.isdigit():
        return directory not in (SINGLE_COLOR_DIR, TEMP_DIR)
    return int(level) in levels


def _write_atomic(path: str, data: bytes, temp_dir: str, perms: Permissions) -> None:
    def write(tmp: str) -> None:
        # O_EXCL: the name is ours alone; mode 0o666 lets the umask decide, as for any file.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        perms.set_file_mode(fd)
        with open(fd, "wb") as f:
            f.write(data)

    _replace_atomic(path, write, temp_dir, perms)


def _replace_atomic(
    path: str, make: Callable[[str], None], temp_dir: str, perms: Permissions
) -> None:
    """Make a new file system entry with `make(temp_path)`, then rename it onto `path`."""
    try:
        _make_and_rename(path, make, temp_dir, perms)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # The tile's directory is on another file system (a mount point inside the cache):
        # the temp file goes beside the tile there, as rename cannot cross file systems.
        _make_and_rename(path, make, os.path.dirname(path), perms)


def _make_and_rename(
    path: str, make: Callable[[str], None], temp_dir: str, perms: Permissions
) -> None:
    tmp = f"{temp_dir}/{_HOST}.{os.getpid()}.{os.urandom(6).hex()}{TEMP_SUFFIX}"
    try:
        for attempt in range(3):
            try:
                make(tmp)
                break
            except FileNotFoundError:
                # The temp directory is missing: a new cache, or one emptied by hand.
                if attempt == 2:
                    raise
                perms.makedirs(temp_dir)
        for attempt in range(3):
            try:
                os.replace(tmp, path)
                return
            except FileNotFoundError:
                # The tile's directory is missing, or was just removed by a cleanup of empty
                # directories.
                if attempt == 2:
                    raise
                perms.makedirs(os.path.dirname(path))
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _is_orphan(entry: os.DirEntry[str], now: float) -> bool:
    """True if a temp file's writer is gone: a dead process of this host, or long ago."""
    try:
        mtime = entry.stat(follow_symlinks=False).st_mtime
    except FileNotFoundError:
        return False
    if now - mtime > ORPHAN_AGE:
        return True
    parts = entry.name.rsplit(".", 3)
    if len(parts) != 4 or parts[0] != _HOST or not parts[1].isdigit():
        return False  # another host's writer (a shared volume): only age tells
    return not _alive(int(parts[1]))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def cache_directory(
    base_dir: Path,
    cache_name: str,
    grid: Grid,
    backend: FileCacheBackendConf,
    cache_dir: str | None,
) -> Path:
    """The directory of cache `cache_name`'s tiles in `grid`, named as MapProxy names it.

    A relative `directory` or `cache_dir` is returned relative: MapProxy reads it from the
    directory of the configuration file, which the caller knows. MapProxy rejects
    `directory` on a cache with several grids; that check belongs to whoever sees all grids.
    """
    if backend.directory:
        # MapProxy ignores the cache's `cache_dir` then (and logs a warning).
        return Path(backend.directory)
    base = Path(cache_dir) if cache_dir else base_dir
    if backend.use_grid_names:
        return base / cache_name / grid.name
    return base / f"{cache_name}_{grid.srs.path_code}"
