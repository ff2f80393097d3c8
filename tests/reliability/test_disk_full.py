"""Disk full: with its caches on a full (small, real tmpfs) file system, a gunicorn worker answers
every new tile with the tile it fetched, stores nothing partial, warns once per interval rather
than once per request, and stores again as soon as there is room, without a restart."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from tests.e2e.conftest import fetch
from tests.mapserver import MapServer
from tests.reliability.conftest import amount
from tests.reliability.tile_caches import (
    Gunicorn,
    caches_config,
    check_caches,
    decodes,
)

KINDS = ("tc", "quadkey", "mbtiles", "sqlite", "geopackage")
REQUESTS = amount(8, 50)  # new tiles per cache while the disk is full
LEVEL = 9
WARNING = "unable to store tile"


@pytest.fixture(scope="module")
def upstream() -> Iterator[MapServer]:
    with MapServer() as server:
        yield server


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs mounted at tmp_path/disk (the test needs root to mount it)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if os.geteuid() != 0 or mount is None or umount is None:
        pytest.skip(
            "the disk-full test mounts a small tmpfs: it needs root and mount(8)"
        )
    mounted = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=16m", "tilegate-disk-full", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run([umount, "--lazy", str(disk)], check=True)


def fill(disk: Path) -> Path:
    """Write a file until the file system has no room left; the file."""
    filler = disk / "filler"
    with (
        filler.open("wb", buffering=0) as f,
        pytest.raises(OSError, match="No space left on device"),
    ):
        _write_forever(f)
    return filler


def _write_forever(f: BinaryIO) -> None:
    while True:
        f.write(b"\0" * 65536)


def tile_url(base: str, kind: str, n: int) -> str:
    """The n-th tile of a cache, each in its own 2 x 2 meta-tile."""
    return f"{base}/tiles/{kind}/{LEVEL}/{2 * n}/{2 * n}.png"


def warnings(server: Gunicorn, expected: int) -> list[str]:
    """The store warnings logged so far, once `expected` of them arrived (or a while passed)."""
    deadline = time.monotonic() + 5
    while True:
        found = [line for line in server.lines if WARNING in line]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_a_full_disk_serves_tiles_unstored_warns_once_and_stores_again(
    tmp_path: Path, upstream: MapServer, small_disk: Path
) -> None:
    cache_dir = small_disk / "cache"
    config = caches_config(tmp_path, upstream.url, KINDS, cache_dir=cache_dir)
    server = Gunicorn(config, workers=1)
    try:
        # Tiles stored while there is room: the SQLite files exist when the disk fills.
        for kind in KINDS:
            status, _, body = fetch(tile_url(server.url, kind, REQUESTS))
            assert (status, decodes(body)) == (200, True), kind
        stored = check_caches(cache_dir)
        assert stored.tiles == 4 * len(KINDS)

        filler = fill(small_disk)
        served: dict[str, bytes] = {}
        for n in range(REQUESTS):
            for kind in KINDS:
                status, headers, body = fetch(tile_url(server.url, kind, n))
                assert (status, headers["Content-Type"], decodes(body)) == (
                    200,
                    "image/png",
                    True,
                ), (kind, n, body[:200])
                served[f"{kind}/{n}"] = body
        full = check_caches(cache_dir)
        logged = warnings(server, len(KINDS))
        print(
            f"{len(served)} requests on the full disk, {len(logged)} warnings:"
            + "".join(f"\n  {line.strip()}" for line in logged)
        )
        assert full.tiles == stored.tiles  # nothing new kept...
        assert full.bad == []  # ...nor half kept
        assert full.temp == []
        assert full.stray_temp == []
        assert set(full.integrity.values()) == {"ok"}
        assert len(logged) == len(KINDS)  # one per cache, not one per request
        assert all("not_logged=0" in line for line in logged)
        assert not [line for line in server.lines if "ERROR" in line]

        filler.unlink()
        for n in range(REQUESTS):
            for kind in KINDS:
                status, _, body = fetch(tile_url(server.url, kind, n))
                assert status == 200
                # The tile served unstored was the tile: the same as the one now kept.
                assert body == served[f"{kind}/{n}"], (kind, n)
        again = [line for line in server.lines if "storing tiles again" in line]
    finally:
        server.close()
    roomy = check_caches(cache_dir)
    print(
        f"after freeing space: {roomy.tiles} tiles stored, {again and again[0].strip()}"
    )
    assert roomy.tiles == stored.tiles + 4 * REQUESTS * len(KINDS)
    assert roomy.bad == []
    assert roomy.temp == []
    assert set(roomy.integrity.values()) == {"ok"}
    assert len(again) == len(KINDS)
