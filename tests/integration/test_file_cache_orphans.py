"""The file cache's temp files: in one directory per cache, swept of writers that are gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from adapters.file_cache import ORPHAN_AGE, TEMP_DIR, TEMP_SUFFIX, FileCache
from domain.grid import TileCoord
from domain.ports import EncodedTile

HOST = socket.gethostname()


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-I", "-S", "-c", ""])
    child.wait()
    return child.pid


def temp_file(directory: Path, host: str, pid: int, age: float = 0) -> Path:
    path = directory / TEMP_DIR / f"{host}.{pid}.0123456789ab{TEMP_SUFFIX}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"half a tile")
    if age:
        os.utime(path, (time.time() - age,) * 2)
    return path


def test_tiles_are_written_through_the_temp_directory_and_leave_nothing(
    tmp_path: Path,
) -> None:
    cache = FileCache(tmp_path, "tc", "png")
    cache.store(EncodedTile(TileCoord(1, 2, 3), b"tile"))
    assert cache.path_for(TileCoord(1, 2, 3)).read_bytes() == b"tile"
    assert list((tmp_path / TEMP_DIR).iterdir()) == []
    assert [p for p in tmp_path.rglob(f"*{TEMP_SUFFIX}") if not p.is_dir()] == []


def test_sweep_removes_files_of_dead_and_old_writers_and_keeps_live_ones(
    tmp_path: Path,
) -> None:
    dead = temp_file(tmp_path, HOST, dead_pid())
    old = temp_file(tmp_path, "elsewhere", os.getpid(), age=ORPHAN_AGE + 60)
    live = temp_file(tmp_path, HOST, os.getpid())
    # Another host's writer (a shared volume): its pid means nothing here, only age counts.
    other_host = temp_file(tmp_path, "elsewhere", dead_pid())
    cache = FileCache(tmp_path, "tms", "png")
    assert cache.remove_orphans() == 2
    assert sorted(p.name for p in (tmp_path / TEMP_DIR).iterdir()) == sorted(
        [live.name, other_host.name]
    )
    assert not dead.exists()
    assert not old.exists()


def test_the_first_store_of_a_process_sweeps(tmp_path: Path) -> None:
    dead = temp_file(tmp_path, HOST, dead_pid())
    FileCache(tmp_path, "quadkey", "png").store(EncodedTile(TileCoord(0, 0, 1), b"t"))
    assert not dead.exists()


def test_a_cache_walk_skips_the_temp_directory(tmp_path: Path) -> None:
    cache = FileCache(tmp_path, "tms", "png")
    cache.store(EncodedTile(TileCoord(0, 0, 1), b"t"))
    # A name a layout could read as a tile, left in the temp directory.
    (tmp_path / TEMP_DIR / "1").mkdir()
    (tmp_path / TEMP_DIR / "1" / "0.png").write_bytes(b"x")
    assert [t.coord for t in cache.stored_tiles([0, 1])] == [TileCoord(0, 0, 1)]
