"""ArcGIS compact caches (`type: compact`, versions 1 and 2): the bundle files, crash safety
with real killed writer processes, and MapProxy 7 reading what Tilegate writes and the other
way round."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from adapters.compact_cache import CompactCache
from adapters.fcntl_locker import FcntlLocker
from adapters.permissions import Permissions
from domain.errors import StoreError
from domain.grid import TileCoord
from domain.ports import EncodedTile
from tests.integration.test_sqlite_caches import tile_png
from tests.mapproxy7 import MAPPROXY_PYTHON, mapproxy_seed, needs_mapproxy
from tests.mapserver import MapServer

VERSIONS = [1, 2]


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("version", VERSIONS)
def test_tiles_round_trip_and_are_replaced_and_removed(
    tmp_path: Path, version: int
) -> None:
    cache = CompactCache(tmp_path, version)
    far = TileCoord(130, 300, 9)  # column 130, row 300: bundle R0100C0080
    assert cache.load(far) is None
    cache.store(EncodedTile(far, b"first"))
    cache.store(EncodedTile(TileCoord(0, 0, 9), b"other"))
    cache.store(EncodedTile(far, b"second, longer"))
    tile = cache.load(far)
    assert tile is not None
    assert tile.data == b"second, longer"
    assert tile.size == len(b"second, longer")
    assert cache.load(TileCoord(131, 300, 9)) is None
    expected = ["L09/R0000C0000.bundle", "L09/R0100C0080.bundle"]
    if version == 1:
        expected = sorted([*expected, "L09/R0000C0000.bundlx", "L09/R0100C0080.bundlx"])
    assert [f for f in _files(tmp_path) if not f.endswith(".lck")] == expected
    assert {t.coord for t in cache.stored_tiles([9])} == {far, TileCoord(0, 0, 9)}
    assert not cache.keeps_timestamps
    assert cache.remove(far)
    assert not cache.remove(far)
    assert cache.load(far) is None
    assert cache.load(TileCoord(0, 0, 9)).data == b"other"  # type: ignore[union-attr]
    assert [t.coord for t in cache.stored_tiles([9, 10])] == [TileCoord(0, 0, 9)]


@pytest.mark.parametrize("version", VERSIONS)
def test_bytes_a_killed_writer_left_after_the_last_tile_are_harmless(
    tmp_path: Path, version: int
) -> None:
    cache = CompactCache(tmp_path, version)
    cache.store(EncodedTile(TileCoord(1, 1, 3), b"kept"))
    with (tmp_path / "L03/R0000C0000.bundle").open("ab") as bundle:
        bundle.write(b"\xff\xff\x00\x00half a tile")
    assert cache.load(TileCoord(1, 1, 3)).data == b"kept"  # type: ignore[union-attr]
    assert cache.load(TileCoord(2, 1, 3)) is None
    cache.store(EncodedTile(TileCoord(2, 1, 3), b"next"))
    assert cache.load(TileCoord(2, 1, 3)).data == b"next"  # type: ignore[union-attr]
    assert cache.load(TileCoord(1, 1, 3)).data == b"kept"  # type: ignore[union-attr]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_bundle_cut_short_is_a_miss_and_is_made_anew(
    tmp_path: Path, version: int
) -> None:
    cache = CompactCache(tmp_path, version)
    cache.store(EncodedTile(TileCoord(1, 1, 3), b"lost"))
    with (tmp_path / "L03/R0000C0000.bundle").open("r+b") as bundle:
        bundle.truncate(100)
    assert cache.load(TileCoord(1, 1, 3)) is None
    cache.store(EncodedTile(TileCoord(2, 1, 3), b"new"))
    assert cache.load(TileCoord(2, 1, 3)).data == b"new"  # type: ignore[union-attr]
    assert cache.load(TileCoord(1, 1, 3)) is None
    assert [t.coord for t in cache.stored_tiles([3])] == [TileCoord(2, 1, 3)]


@pytest.mark.parametrize("version", VERSIONS)
def test_new_bundles_and_levels_get_the_configured_modes(
    tmp_path: Path, version: int
) -> None:
    cache = CompactCache(tmp_path / "c", version, Permissions(0o750, 0o640))
    cache.store(EncodedTile(TileCoord(1, 1, 3), b"tile"))
    made = [p for p in (tmp_path / "c").rglob("*") if p.suffix != ".lck"]
    assert len(made) == version % 2 + 2  # L03 and the bundle (and its .bundlx)
    for path in made:
        mode = 0o750 if path.is_dir() else 0o640
        assert stat.S_IMODE(path.stat().st_mode) == mode, path


def test_a_writer_waits_for_a_bundle_only_up_to_the_lock_timeout(
    tmp_path: Path,
) -> None:
    cache = CompactCache(tmp_path, 2, lock_timeout=0.2)
    locker = FcntlLocker(tmp_path / "L03")
    with locker.lock("R0000C0000", 1) as held:
        assert held
        started = time.monotonic()
        with pytest.raises(StoreError, match="locked by another writer"):
            cache.store(EncodedTile(TileCoord(1, 1, 3), b"late"))
        assert time.monotonic() - started < 2
        # Another bundle of the level is not held up.
        cache.store(EncodedTile(TileCoord(200, 1, 3), b"other"))
    assert cache.load(TileCoord(1, 1, 3)) is None
    cache.store(EncodedTile(TileCoord(1, 1, 3), b"now"))
    assert cache.load(TileCoord(1, 1, 3)).data == b"now"  # type: ignore[union-attr]


def _tile(x: int, round_: int) -> bytes:
    """A tile whose bytes say which it is: a reader can tell a whole one from a torn one."""
    return f"{x}:{round_}:".encode() * (2000 + 37 * x)


def _write_forever(directory: Path, version: int) -> None:
    cache = CompactCache(directory, version)
    round_ = 0
    while True:
        round_ += 1
        for x in range(64):
            cache.store(EncodedTile(TileCoord(x, 5, 7), _tile(x, round_)))


@pytest.mark.parametrize("version", VERSIONS)
def test_writers_killed_mid_write_never_leave_a_torn_tile(
    tmp_path: Path, version: int
) -> None:
    context = multiprocessing.get_context("fork")
    cache = CompactCache(tmp_path, version, lock_timeout=5)
    for kill in range(10):
        writer = context.Process(target=_write_forever, args=(tmp_path, version))
        writer.start()
        # Readers take no lock: read while the writer appends, then kill it somewhere.
        deadline = time.monotonic() + 0.05 + 0.03 * kill
        while time.monotonic() < deadline:
            for x in range(0, 64, 7):
                if (tile := cache.load(TileCoord(x, 5, 7))) is not None:
                    round_ = int(tile.data.split(b":")[1])  # type: ignore[union-attr]
                    assert tile.data == _tile(x, round_)
        assert writer.pid is not None
        os.kill(writer.pid, signal.SIGKILL)
        writer.join(10)
        writer.close()
        # Appending after whatever the killed writer left must not tear any tile either.
        cache.store(EncodedTile(TileCoord(100, 5, 7), _tile(100, kill)))
        assert cache.load(TileCoord(100, 5, 7)).data == _tile(100, kill)  # type: ignore[union-attr]
        stored = [cache.load(TileCoord(x, 5, 7)) for x in range(64)]
        assert any(stored)
        for x, tile in enumerate(stored):
            if tile is not None:
                round_ = int(tile.data.split(b":")[1])  # type: ignore[union-attr]
                assert tile.data == _tile(x, round_)
    # The killed writers' locks went with them: storing works at once.
    cache.store(EncodedTile(TileCoord(3, 5, 7), b"after"))
    assert cache.load(TileCoord(3, 5, 7)).data == b"after"  # type: ignore[union-attr]
    assert sum(1 for _ in cache.stored_tiles([7])) >= 1


def _store_many(directory: Path, version: int, worker: int) -> None:
    cache = CompactCache(directory, version)
    for i in range(40):
        cache.store(EncodedTile(TileCoord(i, worker, 8), f"{worker}-{i}".encode()))


@pytest.mark.parametrize("version", VERSIONS)
def test_concurrent_writer_processes_lose_nothing(tmp_path: Path, version: int) -> None:
    context = multiprocessing.get_context("fork")
    writers = [
        context.Process(target=_store_many, args=(tmp_path, version, w))
        for w in range(4)
    ]
    for p in writers:
        p.start()
    for p in writers:
        p.join(60)
        assert p.exitcode == 0
        p.close()
    cache = CompactCache(tmp_path, version)
    for w in range(4):
        for i in range(40):
            tile = cache.load(TileCoord(i, w, 8))
            assert tile is not None
            assert tile.data == f"{w}-{i}".encode()
    assert sum(1 for _ in cache.stored_tiles([8])) == 160


# --- MapProxy 7 reads what Tilegate writes, and the other way round ------------------------

LEVELS = 2
MAPPROXY_SERVE = """
import json, sys
from mapproxy.wsgiapp import make_wsgi_app

app = make_wsgi_app(sys.argv[1])
out = {}
for path in sys.argv[2:]:
    answer = {}
    def start_response(status, headers, exc_info=None):
        answer["status"] = status
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
               "SERVER_NAME": "localhost", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
               "SCRIPT_NAME": ""}
    body = b"".join(app(environ, start_response))
    out[path] = [answer["status"], body.hex()]
json.dump(out, sys.stdout)
"""


def interop_config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "mapproxy.yaml"
    config.write_text(
        f"""
services: {{wmts: , tms: }}
layers:
  - {{name: l1, title: v1, sources: [c1]}}
  - {{name: l2, title: v2, sources: [c2]}}
sources: {{wms: {{type: wms, req: {{url: '{url}/service', layers: x}}}}}}
globals: {{image: {{paletted: false}}}}
caches:
  c1: {{grids: [GLOBAL_WEBMERCATOR], sources: [wms], cache: {{type: compact, version: 1}}}}
  c2: {{grids: [GLOBAL_WEBMERCATOR], sources: [wms],
        cache: {{type: compact, version: 2, directory: ./v2}}}}
"""
    )
    return config


def wmts_paths() -> list[str]:
    return [
        f"/wmts/{layer}/GLOBAL_WEBMERCATOR/{z}/{x}/{y}.png"
        for layer in ("l1", "l2")
        for z in range(LEVELS + 1)
        for x in range(2**z)
        for y in range(2**z)
    ]


def mapproxy_serves(config: Path) -> dict[str, bytes]:
    result = subprocess.run(
        [MAPPROXY_PYTHON, "-c", MAPPROXY_SERVE, config, *wmts_paths()],
        cwd=config.parent,
        check=True,
        capture_output=True,
        timeout=60,
    )
    answers = json.loads(result.stdout)
    assert {status for status, _ in answers.values()} == {"200 OK"}
    return {path: bytes.fromhex(body) for path, (_, body) in answers.items()}


# Nothing listens on port 9 (discard): a tile that is not in the cache fails.
DEAD = "http://127.0.0.1:9"


def _coord(path: str) -> TileCoord:
    z, x, y = path.removesuffix(".png").split("/")[-3:]
    return TileCoord(int(x), int(y), int(z))


def seed_with_mapproxy(config: Path) -> None:
    mapproxy_seed(
        config,
        f"seeds: {{s: {{caches: [c1, c2], levels: {{to: {LEVELS}}}}}}}\n",
    )


def _bundles(tmp_path: Path) -> dict[str, CompactCache]:
    """The caches of `_config` as Tilegate opens them, by layer."""
    return {
        "l1": CompactCache(tmp_path / "cache_data/c1/GLOBAL_WEBMERCATOR", 1),
        "l2": CompactCache(tmp_path / "v2", 2),
    }


@needs_mapproxy
def test_tilegate_reads_the_bundles_mapproxy_seeds(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = interop_config(tmp_path, map_server.url)
    seed_with_mapproxy(config)
    assert (
        tmp_path / "cache_data/c1/GLOBAL_WEBMERCATOR/L02/R0000C0000.bundlx"
    ).is_file()
    assert (tmp_path / "v2/L02/R0000C0000.bundle").is_file()
    interop_config(tmp_path, DEAD)
    seeded = mapproxy_serves(config)
    assert len(set(seeded.values())) > 2  # real, different tiles
    caches = _bundles(tmp_path)
    for path, data in seeded.items():
        tile = caches[path.split("/")[2]].load(_coord(path))
        assert tile is not None, path
        assert tile.data == data, path
    for cache in caches.values():
        assert len(list(cache.stored_tiles(range(LEVELS + 1)))) == 21


@needs_mapproxy
def test_mapproxy_serves_the_bundles_tilegate_writes(tmp_path: Path) -> None:
    config = interop_config(tmp_path, DEAD)
    made = {}
    for path in wmts_paths():
        coord = _coord(path)
        made[path] = tile_png(coord)
        _bundles(tmp_path)[path.split("/")[2]].store(EncodedTile(coord, made[path]))
    # Replaced tiles too: MapProxy must find the newer bytes.
    replaced = "/wmts/l1/GLOBAL_WEBMERCATOR/1/1/0.png"
    made[replaced] = tile_png(TileCoord(0, 0, 0))
    _bundles(tmp_path)["l1"].store(EncodedTile(TileCoord(1, 0, 1), made[replaced]))
    assert mapproxy_serves(config) == made
