"""`tilegate seed` / `mapproxy-seed` as a user runs them: a real map server, real tile files."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from domain.grid import TileCoord
from domain.grids import resolve_grids
from tests.e2e.conftest import VENV_BIN, run_command
from tests.mapserver import MapServer, render

WEB = resolve_grids({})["GLOBAL_WEBMERCATOR"]
DAY = 86400


@pytest.fixture
def server() -> Iterator[MapServer]:
    with MapServer() as s:
        yield s


def write_config(root: Path, url: str, meta_size: int = 2) -> None:
    (root / "mapproxy.yaml").write_text(
        f"""
globals:
  image: {{paletted: false}}
sources:
  wms:
    type: wms
    req: {{url: "{url}/service", layers: base}}
caches:
  c:
    sources: [wms]
    grids: [GLOBAL_WEBMERCATOR]
    meta_size: [{meta_size}, {meta_size}]
    cache: {{type: file, directory_layout: tms, directory: tiles}}
"""
    )


def seed(
    root: Path, seed_yaml: str, *args: str, script: str = "tilegate"
) -> subprocess.CompletedProcess[str]:
    (root / "seed.yaml").write_text(seed_yaml)
    command = ["seed"] if script == "tilegate" else []
    return run_command(
        root,
        script,
        *command,
        "-f",
        "mapproxy.yaml",
        "-s",
        "seed.yaml",
        *args,
        timeout=120,
    )


def tiles_on_disk(root: Path) -> set[tuple[int, int, int]]:
    found = set()
    for path in (root / "tiles").rglob("*.png"):
        z, x, y = path.relative_to(root / "tiles").with_suffix("").parts
        found.add((int(z), int(x), int(y)))
    return found


def all_tiles(*levels: int) -> set[tuple[int, int, int]]:
    return {(z, x, y) for z in levels for x in range(2**z) for y in range(2**z)}


def tile_path(root: Path, z: int, x: int, y: int) -> Path:
    return root / "tiles" / str(z) / str(x) / f"{y}.png"


def getmaps(server: MapServer) -> int:
    return sum(1 for r in server.requests if r.params.get("REQUEST") == "GetMap")


def test_seeds_every_tile_with_the_source_pixels_one_request_per_meta_tile(
    tmp_path: Path, server: MapServer
) -> None:
    write_config(tmp_path, server.url)
    result = seed(
        tmp_path, "seeds:\n  all:\n    caches: [c]\n    levels: {to: 2}\n", "-c", "1"
    )
    assert result.returncode == 0, result.stderr
    assert tiles_on_disk(tmp_path) == all_tiles(0, 1, 2)
    # Meta-tiles of 2x2: one at level 0 and 1, four at level 2.
    assert getmaps(server) == 6
    for z, x, y in all_tiles(0, 1, 2):
        stored = Image.open(tile_path(tmp_path, z, x, y)).convert("RGB")
        bbox = WEB.tile_bbox(TileCoord(x, y, z)).as_tuple()
        expected = render(bbox, (256, 256), "EPSG:3857")
        assert stored.tobytes() == expected.tobytes(), (z, x, y)
    assert "summary: 21 tiles seeded, 0 skipped (fresh), 0 failed" in result.stdout
    again = seed(tmp_path, "seeds:\n  all:\n    caches: [c]\n    levels: {to: 2}\n")
    assert again.returncode == 0
    assert getmaps(server) == 6
    assert "summary: 0 tiles seeded, 21 skipped (fresh)" in again.stdout


def test_levels_list_seeds_only_those_levels(tmp_path: Path, server: MapServer) -> None:
    write_config(tmp_path, server.url)
    result = seed(tmp_path, "seeds:\n  some:\n    caches: [c]\n    levels: [1, 3]\n")
    assert result.returncode == 0, result.stderr
    assert tiles_on_disk(tmp_path) == all_tiles(1, 3)


def test_polygon_coverage_requests_and_stores_only_meta_tiles_meeting_it(
    tmp_path: Path, server: MapServer
) -> None:
    write_config(tmp_path, server.url)
    # A small square in central Europe: at level 5 only a few meta-tiles of 2x2 meet it.
    (tmp_path / "area.wkt").write_text("POLYGON((5 45, 15 45, 15 52, 5 52, 5 45))\n")
    result = seed(
        tmp_path,
        """
coverages:
  europe: {polygons: area.wkt, srs: "EPSG:4326"}
seeds:
  europe:
    caches: [c]
    coverages: [europe]
    levels: [5]
""",
        "-c",
        "2",
    )
    assert result.returncode == 0, result.stderr
    stored = tiles_on_disk(tmp_path)
    # Level 5 has 32x32 tiles: 5..15 E is x 16..17, 45..52 N is rows 10..11 from the top.
    assert stored == {(5, x, y) for x in (16, 17) for y in (10, 11)}
    assert getmaps(server) == 1


def test_refresh_before_remakes_only_old_meta_tiles(
    tmp_path: Path, server: MapServer
) -> None:
    write_config(tmp_path, server.url)
    task = "seeds:\n  all:\n    caches: [c]\n    levels: [2]\n"
    assert seed(tmp_path, task).returncode == 0
    old = time.time() - 3 * DAY
    for x, y in ((0, 0), (1, 1)):  # both in the first meta-tile
        os.utime(tile_path(tmp_path, 2, x, y), (old, old))
    also_old = tile_path(tmp_path, 2, 3, 3)
    os.utime(also_old, (old + DAY, old + DAY))
    fresh = tile_path(tmp_path, 2, 2, 0)
    fresh_mtime = fresh.stat().st_mtime
    server.reset()
    refresh = task + "    refresh_before: {days: 1}\n"
    result = seed(tmp_path, refresh)
    assert result.returncode == 0, result.stderr
    # The first meta-tile was old; the one with (3, 3) was too (older than a day); two others fresh.
    assert getmaps(server) == 2
    assert tile_path(tmp_path, 2, 0, 0).stat().st_mtime > time.time() - 60
    assert also_old.stat().st_mtime > time.time() - 60
    assert fresh.stat().st_mtime == fresh_mtime
    assert "8 tiles seeded, 8 skipped (fresh)" in result.stdout
    # An absolute time before every tile: nothing to do.
    server.reset()
    result = seed(
        tmp_path, task + '    refresh_before: {time: "2001-01-01T00:00:00"}\n'
    )
    assert result.returncode == 0
    assert getmaps(server) == 0


def test_cleanup_remove_before_and_remove_all(
    tmp_path: Path, server: MapServer
) -> None:
    write_config(tmp_path, server.url)
    assert (
        seed(tmp_path, "seeds:\n  s:\n    caches: [c]\n    levels: [1, 2]\n").returncode
        == 0
    )
    old = time.time() - 10 * DAY
    for x in range(4):
        os.utime(tile_path(tmp_path, 2, x, 0), (old, old))
    os.utime(tile_path(tmp_path, 1, 0, 0), (old, old))
    cleanup = """
cleanups:
  old:
    caches: [c]
    levels: [2]
    remove_before: {days: 7}
"""
    result = seed(tmp_path, cleanup)
    assert result.returncode == 0, result.stderr
    assert tiles_on_disk(tmp_path) == all_tiles(1, 2) - {(2, x, 0) for x in range(4)}
    assert "4 removed" in result.stdout
    remove_all = "cleanups:\n  every:\n    caches: [c]\n    levels: {from: 2}\n    remove_all: true\n"
    assert seed(tmp_path, remove_all).returncode == 0
    assert tiles_on_disk(tmp_path) == all_tiles(1)
    assert getmaps(server) == 1 + 4


def test_dry_run_touches_neither_cache_nor_source(
    tmp_path: Path, server: MapServer
) -> None:
    write_config(tmp_path, server.url)
    before = set(tmp_path.iterdir())
    result = seed(
        tmp_path,
        "seeds:\n  s:\n    caches: [c]\n    levels: {to: 3}\ncleanups:\n  c:\n    caches: [c]\n    remove_all: true\n",
        "--dry-run",
    )
    assert result.returncode == 0, result.stderr
    assert "would check 85 tiles in 22 meta-tiles" in result.stdout
    assert server.requests == []
    assert set(tmp_path.iterdir()) == before | {tmp_path / "seed.yaml"}


def test_two_workers_make_one_request_per_meta_tile(
    tmp_path: Path, server: MapServer
) -> None:
    write_config(tmp_path, server.url)
    result = seed(
        tmp_path,
        "seeds:\n  s:\n    caches: [c]\n    levels: {from: 3, to: 4}\n",
        "-c",
        "2",
    )
    assert result.returncode == 0, result.stderr
    bboxes = [r.params["BBOX"] for r in server.requests]
    # 2x2 meta-tiles: 4x4 of them at level 3, 8x8 at level 4.
    assert len(bboxes) == len(set(bboxes)) == 16 + 64
    assert tiles_on_disk(tmp_path) == all_tiles(3, 4)


def test_upstream_errors_are_retried_reported_and_the_run_goes_on(
    tmp_path: Path, server: MapServer
) -> None:
    write_config(tmp_path, server.url)
    # The first meta-tile to ask upstream fails on its try and on its retry (the worker keeps
    # its turn through the backoff); every other request works. Which of the three meta-tiles
    # (one per level) asks first depends on the worker's two threads, so it is read back.
    server.add_fault(status=500, times=2)
    task = "seeds:\n  s:\n    caches: [c]\n    levels: {to: 2}\n"
    result = seed(tmp_path, task, "-c", "1", "--retries", "1", "--retry-delay", "0.05")
    assert result.returncode == 1
    failures = (tmp_path / "seed-failures.txt").read_text().splitlines()
    assert len(failures) == 1
    assert "500" in failures[0]
    assert "seed-failures.txt" in result.stderr
    level = int(failures[0].split()[2].split("/")[0])
    assert failures[0].startswith(
        f"c GLOBAL_WEBMERCATOR {level}/0/0-{2**level - 1}/{2**level - 1}"
    )
    failed = 4**level  # the meta-tile of a level <= 2 holds all its tiles
    assert (
        f"{21 - failed} tiles seeded, 0 skipped (fresh), {failed} failed"
        in result.stdout
    )
    assert tiles_on_disk(tmp_path) == all_tiles(*({0, 1, 2} - {level}))
    # The same command again retries exactly what failed.
    server.reset()
    again = seed(tmp_path, task)
    assert again.returncode == 0, again.stderr
    assert getmaps(server) == 1
    assert tiles_on_disk(tmp_path) == all_tiles(0, 1, 2)


def test_progress_lines_when_not_a_terminal(tmp_path: Path, server: MapServer) -> None:
    write_config(tmp_path, server.url)
    result = seed(
        tmp_path,
        "seeds:\n  s:\n    caches: [c]\n    levels: {to: 2}\n",
        "-c",
        "1",
        "--progress-interval",
        "0",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("[seed s] cache c, grid GLOBAL_WEBMERCATOR, levels 0-2")
    progress = [line for line in lines if "tiles/s, ETA" in line]
    assert len(progress) >= 6
    assert progress[0].strip().startswith("level 0: 1/21 tiles (4.8%)")
    assert progress[-1].strip().startswith("level 2: 21/21 tiles (100.0%)")
    assert "\r" not in result.stdout
    assert lines[-1].startswith("summary: 21 tiles seeded")


def test_bad_seed_yaml_is_one_error_line_and_nothing_is_done(
    tmp_path: Path, server: MapServer
) -> None:
    write_config(tmp_path, server.url)
    result = seed(
        tmp_path,
        "seeds:\n  s:\n    caches: [c]\n    levels: [2, 25]\n",
        script="mapproxy-seed",
    )
    assert result.returncode == 2
    error_lines = result.stderr.strip().splitlines()
    assert len(error_lines) == 1
    assert "level 25 is outside the grid" in error_lines[0]
    assert "$.seeds['s'].levels[1]" in error_lines[0]
    assert server.requests == []
    assert not (tmp_path / "tiles").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_interrupted_run_continues_to_the_same_tree(
    tmp_path: Path, server: MapServer, sig: signal.Signals
) -> None:
    task = "seeds:\n  s:\n    caches: [c]\n    levels: {from: 2, to: 3}\n"
    reference = tmp_path / "reference"
    reference.mkdir()
    write_config(reference, server.url)
    assert seed(reference, task, "-c", "1").returncode == 0
    total = getmaps(server)
    server.reset()

    run = tmp_path / "run"
    run.mkdir()
    write_config(run, server.url)
    (run / "seed.yaml").write_text(task)
    server.add_fault(delay=0.2)
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "mapproxy-seed"),
            "-f",
            "mapproxy.yaml",
            "seed.yaml",
            "-c",
            "2",
            "--progress-file",
            "progress.json",
        ],
        cwd=run,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while getmaps(server) < total // 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    code = proc.wait(timeout=30)
    done_before = getmaps(server)
    assert done_before < total
    if sig == signal.SIGTERM:
        assert code == 3
        assert (run / "progress.json").exists()
    server.reset()
    result = seed(run, task, "--continue", "--progress-file", "progress.json")
    assert result.returncode == 0, result.stderr
    assert (
        getmaps(server) <= total - done_before + 4
    )  # at most the meta-tiles under way
    assert not (run / "progress.json").exists()
    assert _tree(run / "tiles") == _tree(reference / "tiles")


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_mapproxy_seed_script_takes_the_seed_conf_as_last_argument(
    tmp_path: Path, server: MapServer
) -> None:
    write_config(tmp_path, server.url)
    (tmp_path / "seed.yaml").write_text(
        "seeds:\n  s:\n    caches: [c]\n    levels: [0]\n"
    )
    result = subprocess.run(
        [
            str(VENV_BIN / "mapproxy-seed"),
            "-f",
            "mapproxy.yaml",
            "--seed",
            "s",
            "seed.yaml",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert tiles_on_disk(tmp_path) == {(0, 0, 0)}
    img = Image.open(io.BytesIO(tile_path(tmp_path, 0, 0, 0).read_bytes()))
    assert img.size == (256, 256)
