"""The seeding scenario: `tilegate seed` and MapProxy's `mapproxy-seed` fill the same area and
levels from the bench's map server, and the map server alone renders the same meta-tiles.

Each run is the command a user types (`-f mapproxy.yaml -s seed.yaml -c N`), a fresh process on
an empty cache. Per round and concurrency: Tilegate seeds, then the GetMap requests it made (the
map server records them) are fetched again with N parallel clients and no seeder at all -- the
time the source needs for those meta-tiles, the *floor* of any seeder -- then MapProxy seeds.
A dry run of each seeder (configuration loaded, tiles planned, nothing requested) shows the
fixed start-up part of a run's wall time.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from tests.bench import load, workload
from tests.bench.processes import MAPPROXY_VENV, TILEGATE_BIN, BenchError
from tests.bench.results import Results, SeedResult

TILEGATE, MAPPROXY, FLOOR = "Tilegate", "MapProxy", "floor"
CONCURRENCIES = (1, 2)
# 34 meta-tiles (544 tiles) of levels 8 and 9 over central Europe: a run takes a few seconds.
BBOX = (5.0, 47.0, 15.0, 54.0)
LEVELS = (8, 9)
RUN_TIMEOUT = 300.0

SEED_YAML = f"""\
coverages:
  bench_area:
    bbox: [{", ".join(map(str, BBOX))}]
    srs: "EPSG:4326"

seeds:
  bench_seed:
    caches: [bench_cache]
    coverages: [bench_area]
    levels: {{from: {LEVELS[0]}, to: {LEVELS[-1]}}}
"""


def seeder_cmd(name: str, concurrency: int, dry_run: bool = False) -> list[str]:
    """The seed command line, the same for both (mapproxy-seed's options)."""
    exe = (
        [str(TILEGATE_BIN / "tilegate"), "seed"]
        if name == TILEGATE
        else [str(MAPPROXY_VENV / "bin" / "mapproxy-seed")]
    )
    args = ["-f", "mapproxy.yaml", "-s", "seed.yaml", "-c", str(concurrency)]
    return exe + args + (["--dry-run"] if dry_run else [])


def run(
    names: list[str],
    upstream: str,
    home: Path,
    rounds: int,
    results: Results,
    say: Callable[[str], None],
) -> None:
    """`rounds` interleaved rounds of each seeder in `names` at each concurrency."""
    config = workload.mapproxy_yaml(upstream)
    for name in names:
        (home / name.lower()).mkdir(parents=True, exist_ok=True)
        (home / name.lower() / "mapproxy.yaml").write_text(config)
        (home / name.lower() / "seed.yaml").write_text(SEED_YAML)
    if not names:
        say("seeding: skipped, neither Tilegate nor MapProxy is among the servers")
        return
    say(
        f"seeding: levels {LEVELS[0]}-{LEVELS[-1]} of bbox {BBOX} (EPSG:4326), configurations in"
        f" {home}/"
    )
    for round_no in range(rounds):
        for concurrency in CONCURRENCIES:
            key = f"seeding, -c {concurrency}"
            line = []
            for name in names:
                res = _seed(name, home / name.lower(), upstream, concurrency)
                results.add_seeding(key, name, res)
                line.append(_text(name, res))
                if name == TILEGATE:
                    floor = _source_alone(upstream, res, concurrency)
                    results.add_seeding(key, FLOOR, floor)
                    line.append(_text("source alone", floor))
            say(f"  round {round_no + 1}/{rounds} {key:<14} " + " | ".join(line))


def _text(name: str, res: SeedResult) -> str:
    cpu = (
        ""
        if res.cpu_ms_per_tile is None
        else f", CPU {res.cpu_ms_per_tile:.2f} ms/tile"
    )
    start = "" if res.startup_s is None else f" (start-up {res.startup_s:.2f} s)"
    return (
        f"{name} {res.seconds:.2f} s{start} {res.tiles_per_s:4.0f} tiles/s,"
        f" {res.upstream_per_meta:.2f} upstream/meta{cpu}"
    )


def _seed(name: str, home: Path, upstream: str, concurrency: int) -> SeedResult:
    """One dry run (start-up), then one seeding run on an empty cache."""
    cache = home / "cache_data"
    shutil.rmtree(cache, ignore_errors=True)
    startup_s, _ = _timed(name, home, seeder_cmd(name, concurrency, dry_run=True))
    load.fetch(upstream, "/_reset")
    seconds, cpu_s = _timed(name, home, seeder_cmd(name, concurrency))
    stats = json.loads(load.fetch(upstream, "/_stats").body)
    tiles = stored_tiles(cache)
    if not tiles:
        raise BenchError(f"{name} seeded no tile into {cache}")
    metas = len(
        {(z, x // workload.META_SIZE, y // workload.META_SIZE) for z, x, y in tiles}
    )
    return SeedResult(
        tiles=len(tiles),
        meta_tiles=metas,
        upstream=stats["total"],
        seconds=seconds,
        cpu_ms_per_tile=cpu_s / len(tiles) * 1e3,
        startup_s=startup_s,
        requests=[_request_path(r) for r in stats["requests"]],
    )


def _timed(name: str, home: Path, cmd: list[str]) -> tuple[float, float]:
    """Wall seconds of a command and the CPU seconds of its whole process tree (the workers
    are children the seeder waits for, so they count in RUSAGE_CHILDREN)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        done = subprocess.run(
            cmd,
            cwd=home,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(
            f"{name}: {' '.join(cmd)} took over {RUN_TIMEOUT:.0f} s"
        ) from exc
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise BenchError(
            f"{name}: {' '.join(cmd)} (in {home}) exited with {done.returncode}:\n"
            f"{done.stdout[-1500:]}\n{done.stderr[-1500:]}"
        )
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return seconds, cpu


def _source_alone(upstream: str, seeded: SeedResult, concurrency: int) -> SeedResult:
    """The GetMap requests of a seeding run again, with as many parallel clients and no
    seeder: how fast the source alone renders those meta-tiles."""
    batch = load.fetch_all(upstream, seeded.requests, concurrency)
    if bad := sum(n for status, n in batch.statuses.items() if status != 200):
        raise BenchError(
            f"the map server failed {bad} replayed GetMap requests: {batch.statuses}"
        )
    return SeedResult(
        tiles=seeded.tiles,
        meta_tiles=len(seeded.requests),
        upstream=len(seeded.requests),
        seconds=batch.seconds,
        cpu_ms_per_tile=None,
        startup_s=None,
    )


def _request_path(recorded: dict[str, object]) -> str:
    params = recorded["params"]
    assert isinstance(params, dict)
    return f"{recorded['path']}?{urlencode(params)}"


def stored_tiles(cache: Path) -> set[tuple[int, int, int]]:
    """(z, x, y) of every tile file under `cache`, in the `tc` layout (both seeders' default,
    `ZZ/XXX/XXX/XXX/YYY/YYY/YYY.png`) or the `tms` one (`Z/X/Y.png`), one folder per cache and
    grid. Only their grouping into meta-tiles matters, not which way rows count."""
    found = set()
    for path in cache.rglob("*.png"):
        parts = path.relative_to(cache).with_suffix("").parts[1:]
        if len(parts) == 7:
            parts = (parts[0], "".join(parts[1:4]), "".join(parts[4:7]))
        if len(parts) != 3:
            raise BenchError(f"{path}: not a tile of a tc or tms directory layout")
        z, x, y = (int(p) for p in parts)
        found.add((z, x, y))
    return found
