"""The two ArcGIS compact cache bundle formats: where a tile's bytes and its index entry are.

A bundle holds the tiles of 128 x 128 columns and rows of one level. Each tile is stored as a
4-byte little-endian size followed by its bytes.
- Version 1 (ArcGIS 10.0 to 10.2): the index is a separate `.bundlx` file: 16 header bytes,
  then 5 bytes per tile, column by column (the offset of the tile's size field in the
  `.bundle`), then 16 footer bytes. The `.bundle` starts with a 60-byte header and a 4-byte
  zero size per tile that empty index entries point at.
- Version 2 (ArcGIS 10.3 on): one `.bundle`, a 64-byte header, then 8 bytes per tile, row by
  row: the offset of the tile's bytes in the low 40 bits and their size in the high 24.

A bundle is only ever appended to; `append` writes the tile first and its index entry after,
each with one write, so a reader (which takes no lock) sees either the old tile or the new one.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from adapters.permissions import Permissions

SIDE = 128
TILES = SIDE * SIDE
_SIZE = struct.Struct("<I")
_U64 = struct.Struct("<Q")

_V1_INDEX_HEADER = struct.pack("<4I", 3, 16, TILES, 5)
_V1_INDEX_FOOTER = struct.pack("<4I", 0, 16, 16, 0)
_V1_INDEX_START = len(_V1_INDEX_HEADER)
_V1_INDEX_SIZE = _V1_INDEX_START + 5 * TILES + len(_V1_INDEX_FOOTER)
_V1_HEADER = struct.Struct("<4I3Q5I")
_V1_DATA_START = _V1_HEADER.size + 4 * TILES

_V2_HEADER = struct.Struct("<4I3Q6I")
_V2_INDEX_SIZE = 8 * TILES
_V2_DATA_START = _V2_HEADER.size + _V2_INDEX_SIZE
_V2_OFFSET_BITS = 40


class BundleFormat(Protocol):
    """One version of the bundle format; `base` is a bundle's path without its extension."""

    def exists(self, base: Path) -> bool:
        """Whether the bundle's files are there, at least as long as an empty bundle's."""
        ...

    def create(self, base: Path, row0: int, col0: int, perms: Permissions) -> None:
        """Make the empty files of a bundle whose first tile is at `row0`, `col0`."""
        ...

    def read(self, base: Path, col: int, row: int) -> tuple[bytes, float] | None:
        """The tile at `col`, `row` within the bundle and the bundle's mtime; None if absent."""
        ...

    def append(self, base: Path, col: int, row: int, data: bytes) -> None: ...

    def clear(self, base: Path, col: int, row: int) -> bool:
        """Empty the index entry of the tile; False if it had none."""
        ...

    def sizes(self, base: Path) -> Iterator[tuple[int, int, int]]:
        """Column, row and size of every tile the bundle's index holds."""
        ...


def _pread(fd: int, size: int, offset: int) -> bytes | None:
    """Exactly `size` bytes at `offset`, or None where the file ends before (a damaged file)."""
    data = os.pread(fd, size, offset)
    return data if len(data) == size else None


def _pwrite(fd: int, data: bytes, offset: int) -> None:
    written = os.pwrite(fd, data, offset)
    while written < len(data):
        written += os.pwrite(fd, data[written:], offset + written)


def _open(path: Path, flags: int = os.O_RDONLY) -> int | None:
    try:
        return os.open(path, flags | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _append_tile(fd: int, data: bytes) -> int:
    """Write size and bytes at the file's end; where the size field starts.

    The end is the file's real size, not the header's: a writer killed after appending left
    bytes there that no index entry points at.
    """
    end = os.fstat(fd).st_size
    _pwrite(fd, _SIZE.pack(len(data)) + data, end)
    return end


def _make(path: Path, content: bytes, perms: Permissions) -> None:
    """Write a new file whole under a temp name, then rename it into place.

    Only the bundle's lock holder makes files, so one temp name per file suffices; a temp file
    of a writer killed meanwhile is overwritten.
    """
    perms.makedirs(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        perms.set_file_mode(fd)
        _pwrite(fd, content, 0)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class V1:
    """Version 1: a `.bundle` with the tiles and a `.bundlx` with the index."""

    def exists(self, base: Path) -> bool:
        return (
            _size(base.with_suffix(".bundle")) >= _V1_DATA_START
            and _size(base.with_suffix(".bundlx")) == _V1_INDEX_SIZE
        )

    def create(self, base: Path, row0: int, col0: int, perms: Permissions) -> None:
        # The data file first: an index without its data file would point into nothing.
        bundle = base.with_suffix(".bundle")
        if _size(bundle) < _V1_DATA_START:
            header = _V1_HEADER.pack(
                3, TILES, 0, 5, 0, _V1_DATA_START, 40, 16,
                row0, row0 + SIDE - 1, col0, col0 + SIDE - 1,
            )  # fmt: skip
            _make(bundle, header + bytes(4 * TILES), perms)
        index = b"".join(_U64.pack(_V1_HEADER.size + 4 * i)[:5] for i in range(TILES))
        _make(
            base.with_suffix(".bundlx"),
            _V1_INDEX_HEADER + index + _V1_INDEX_FOOTER,
            perms,
        )

    def read(self, base: Path, col: int, row: int) -> tuple[bytes, float] | None:
        offset = self._offset(base, col, row)
        if not offset:
            return None
        fd = _open(base.with_suffix(".bundle"))
        if fd is None:
            return None
        try:
            size_field = _pread(fd, 4, offset)
            if size_field is None or not (size := _SIZE.unpack(size_field)[0]):
                return None
            data = _pread(fd, size, offset + 4)
            return None if data is None else (data, os.fstat(fd).st_mtime)
        finally:
            os.close(fd)

    def append(self, base: Path, col: int, row: int, data: bytes) -> None:
        had_tile = self._offset(base, col, row) is not None
        fd = os.open(base.with_suffix(".bundle"), os.O_RDWR | os.O_CLOEXEC)
        try:
            offset = _append_tile(fd, data)
            self._set(base, col, row, _U64.pack(offset)[:5])
            # The header's counts only inform other readers: it goes last.
            header = list(_V1_HEADER.unpack(os.pread(fd, _V1_HEADER.size, 0)))
            header[2] = max(header[2], len(data))
            header[4] += 0 if had_tile else 4
            header[5] = offset + 4 + len(data)
            _pwrite(fd, _V1_HEADER.pack(*header), 0)
        finally:
            os.close(fd)

    def clear(self, base: Path, col: int, row: int) -> bool:
        if self._offset(base, col, row) is None:
            return False
        self._set(base, col, row, bytes(5))
        return True

    def sizes(self, base: Path) -> Iterator[tuple[int, int, int]]:
        index = _read_all(base.with_suffix(".bundlx"))
        fd = _open(base.with_suffix(".bundle"))
        if index is None or fd is None:
            return
        try:
            for i in range(TILES):
                start = _V1_INDEX_START + 5 * i
                offset = _U64.unpack(index[start : start + 5] + bytes(3))[0]
                size_field = _pread(fd, 4, offset) if offset else None
                if size_field is not None and (size := _SIZE.unpack(size_field)[0]):
                    yield i // SIDE, i % SIDE, size
        finally:
            os.close(fd)

    def _offset(self, base: Path, col: int, row: int) -> int | None:
        """Where the tile's size field is, if the index has an entry with a non-zero size."""
        fd = _open(base.with_suffix(".bundlx"))
        if fd is None:
            return None
        try:
            entry = _pread(fd, 5, _V1_INDEX_START + 5 * (col * SIDE + row))
        finally:
            os.close(fd)
        offset = 0 if entry is None else _U64.unpack(entry + bytes(3))[0]
        # Empty entries point at one of the zero sizes after the header (or are 0).
        return offset if offset >= _V1_DATA_START else None

    def _set(self, base: Path, col: int, row: int, entry: bytes) -> None:
        fd = os.open(base.with_suffix(".bundlx"), os.O_WRONLY | os.O_CLOEXEC)
        try:
            _pwrite(fd, entry, _V1_INDEX_START + 5 * (col * SIDE + row))
        finally:
            os.close(fd)


class V2:
    """Version 2: one `.bundle` holding its index after the header."""

    def exists(self, base: Path) -> bool:
        return _size(base.with_suffix(".bundle")) >= _V2_DATA_START

    def create(self, base: Path, row0: int, col0: int, perms: Permissions) -> None:
        header = _V2_HEADER.pack(
            3, TILES, 0, 5, 0, _V2_DATA_START, 40, 20 + _V2_INDEX_SIZE,
            3, 16, TILES, 5, _V2_INDEX_SIZE,
        )  # fmt: skip
        _make(base.with_suffix(".bundle"), header + bytes(_V2_INDEX_SIZE), perms)

    def read(self, base: Path, col: int, row: int) -> tuple[bytes, float] | None:
        fd = _open(base.with_suffix(".bundle"))
        if fd is None:
            return None
        try:
            entry = self._entry(fd, col, row)
            if entry is None:
                return None
            data = _pread(fd, entry[1], entry[0])
            return None if data is None else (data, os.fstat(fd).st_mtime)
        finally:
            os.close(fd)

    def append(self, base: Path, col: int, row: int, data: bytes) -> None:
        fd = os.open(base.with_suffix(".bundle"), os.O_RDWR | os.O_CLOEXEC)
        try:
            offset = _append_tile(fd, data) + 4
            entry = offset | (len(data) << _V2_OFFSET_BITS)
            _pwrite(fd, _U64.pack(entry), self._entry_at(col, row))
            # Largest tile and file size: informative, so after the entry.
            largest = _SIZE.unpack(os.pread(fd, 4, 8))[0]
            _pwrite(fd, _SIZE.pack(max(largest, len(data))), 8)
            _pwrite(fd, _U64.pack(offset + len(data)), 24)
        finally:
            os.close(fd)

    def clear(self, base: Path, col: int, row: int) -> bool:
        fd = _open(base.with_suffix(".bundle"), os.O_RDWR)
        if fd is None:
            return False
        try:
            if self._entry(fd, col, row) is None:
                return False
            _pwrite(fd, bytes(8), self._entry_at(col, row))
            return True
        finally:
            os.close(fd)

    def sizes(self, base: Path) -> Iterator[tuple[int, int, int]]:
        data = _read_all(base.with_suffix(".bundle"))
        if data is None or len(data) < _V2_DATA_START:
            return
        for i in range(TILES):
            (entry,) = _U64.unpack_from(data, _V2_HEADER.size + 8 * i)
            if size := entry >> _V2_OFFSET_BITS:
                yield i % SIDE, i // SIDE, size

    def _entry_at(self, col: int, row: int) -> int:
        return _V2_HEADER.size + 8 * (row * SIDE + col)

    def _entry(self, fd: int, col: int, row: int) -> tuple[int, int] | None:
        """Offset and size of the tile's bytes, if its entry holds a tile."""
        raw = _pread(fd, 8, self._entry_at(col, row))
        if raw is None:
            return None
        (entry,) = _U64.unpack(raw)
        size = entry >> _V2_OFFSET_BITS
        return (entry & ((1 << _V2_OFFSET_BITS) - 1), size) if size else None


def _size(path: Path) -> int:
    """The file's size; -1 if there is none. A shorter file than an empty bundle's is damaged
    (cut short by a disk that filled up, or by hand) and is made anew."""
    try:
        return path.stat().st_size
    except (FileNotFoundError, NotADirectoryError):
        return -1


def _read_all(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None


FORMATS: dict[int, BundleFormat] = {1: V1(), 2: V2()}
