"""Crash safety: gunicorn workers killed with SIGKILL while they make and store tiles, in every
cache type, leave only whole tiles, intact SQLite files and no temp file after the next start."""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from adapters.file_cache import ORPHAN_AGE, TEMP_DIR, TEMP_SUFFIX, FileCache
from domain.grid import TileCoord
from domain.ports import EncodedTile
from tests.e2e.conftest import fetch
from tests.mapserver import MapServer
from tests.reliability.conftest import amount
from tests.reliability.tile_caches import (
    LAYOUTS,
    SQLITE_TYPES,
    Gunicorn,
    caches_config,
    check_caches,
    decodes,
)

KINDS = (*LAYOUTS, *SQLITE_TYPES)
ROUNDS = amount(20, 200)
CLIENTS = 4
WORKERS = 3
LEVEL = 8  # 256 x 256 tiles: room for thousands of uncached meta-tiles


@pytest.fixture(scope="module")
def upstream() -> Iterator[MapServer]:
    with MapServer() as server:
        yield server


def tile_url(base: str, kind: str, n: int) -> str:
    """The n-th uncached tile of a cache: each in its own 2 x 2 meta-tile."""
    x, y = 2 * (n % 128), 2 * (n // 128 % 128)
    return f"{base}/tiles/{kind}/{LEVEL}/{x}/{y}.png"


class Load:
    """Clients asking for uncached tiles of every cache until stopped."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.answers: Counter[str] = Counter()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(i,)) for i in range(CLIENTS)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self, first: int) -> None:
        n = first
        while not self._stop.is_set():
            url = tile_url(self.base, KINDS[n % len(KINDS)], n // len(KINDS))
            try:
                status, _, body = fetch(url)
            except (OSError, http.client.HTTPException):  # its worker was killed
                self.answers["cut off"] += 1
            else:
                ok = status == 200 and decodes(body)
                self.answers["200" if ok else f"bad {status}"] += 1
            n += CLIENTS

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


def kill_workers(server: Gunicorn, rng: random.Random) -> int:
    """SIGKILL some of the workers now; how many."""
    pids = server.workers()
    killed = 0
    for pid in rng.sample(pids, k=rng.randint(1, len(pids))) if pids else []:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            killed += 1
    return killed


# A tile so big that writing it takes long enough to be killed in the middle, every time.
BIG_TILE = 128 * 1024 * 1024
_WRITER = """
import sys
from adapters.file_cache import FileCache
from domain.grid import TileCoord
from domain.ports import EncodedTile
data = b"\\x89PNG" + bytes(int(sys.argv[3]))
FileCache(sys.argv[1], sys.argv[2], "png").store(EncodedTile(TileCoord(0, 0, 0), data))
"""


def kill_mid_write(directory: Path, layout: str, tile: Path) -> Path | None:
    """SIGKILL a real process while FileCache.store replaces `tile`; the temp file it left."""
    temp_dir = directory / TEMP_DIR
    size = tile.stat().st_size

    def writing() -> bool:
        return (temp_dir.is_dir() and any(temp_dir.iterdir())) or (
            tile.stat().st_size != size
        )

    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(directory), layout, str(BIG_TILE)]
        )
        try:
            while proc.poll() is None and not writing():
                time.sleep(0.001)
        finally:
            proc.kill()
            finished = proc.wait() == 0
        if not finished:
            left = list(temp_dir.iterdir()) if temp_dir.is_dir() else []
            assert len(left) <= 1, left
            return left[0] if left else None
    raise AssertionError("the writer finished every time before it was killed")


def test_killed_workers_leave_whole_tiles_intact_databases_and_no_orphans(
    tmp_path: Path, upstream: MapServer
) -> None:
    config = caches_config(tmp_path, upstream.url, KINDS)
    cache_dir = tmp_path / "cache"
    rng = random.Random(20)  # noqa: S311 - a repeatable kill schedule, no secret
    # --preload: a killed worker is replaced by a fork at once, so the load goes on.
    server = Gunicorn(config, workers=WORKERS, extra=("--preload",))
    kills = 0
    try:
        load = Load(server.url)
        try:
            for _ in range(ROUNDS):
                time.sleep(rng.uniform(0.15, 0.4))
                kills += kill_workers(server, rng)
        finally:
            load.stop()
    finally:
        server.close()

    after_kills = check_caches(cache_dir)
    print(
        f"{ROUNDS} rounds, {kills} workers killed, answers {dict(load.answers)},"
        f" {after_kills.tiles} tiles read back, {len(after_kills.temp)} temp files left"
        f" by killed writers, SQLite files {after_kills.integrity}"
    )
    assert load.answers["200"] > ROUNDS  # the kills met a working load
    assert not [a for a in load.answers if a.startswith("bad")], load.answers
    assert after_kills.tiles > 0
    assert after_kills.bad == []
    assert after_kills.stray_temp == []  # nothing unfinished inside a tile tree
    assert len(after_kills.integrity) >= len(SQLITE_TYPES)
    assert set(after_kills.integrity.values()) == {"ok"}

    # A writer killed while it replaces a tile: the old tile stays whole, its file an orphan.
    directory = next(cache_dir.glob(f"{KINDS[0]}_*"))
    files = FileCache(directory, KINDS[0], "png")
    whole = io.BytesIO()
    Image.new("RGB", (256, 256), (1, 2, 3)).save(whole, "PNG")
    files.store(EncodedTile(TileCoord(0, 0, 0), whole.getvalue()))
    tile = files.path_for(TileCoord(0, 0, 0))
    orphan = kill_mid_write(directory, KINDS[0], tile)
    assert tile.read_bytes() == whole.getvalue()
    assert orphan is not None
    temp_dir = directory / TEMP_DIR
    # A writer still at work (this process) keeps its file; an old one goes whoever wrote it.
    live = temp_dir / f"{socket.gethostname()}.{os.getpid()}.0123456789ab{TEMP_SUFFIX}"
    old = temp_dir / f"elsewhere.{os.getpid()}.0123456789ab{TEMP_SUFFIX}"
    for path in (live, old):
        path.write_bytes(b"\x89PNG")
    os.utime(old, (time.time() - ORPHAN_AGE - 60,) * 2)

    restarted = Gunicorn(config, workers=1)
    try:
        after_start = check_caches(cache_dir)
        for kind in KINDS:
            status, _, body = fetch(tile_url(restarted.url, kind, 0))
            assert (status, decodes(body)) == (200, True), kind
    finally:
        restarted.close()
    print(f"after the restart: temp files {after_start.temp}")
    assert not orphan.exists()
    assert after_start.temp == [str(live.relative_to(cache_dir))]
    assert after_start.bad == []
