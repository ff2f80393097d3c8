"""One benchmark run: start everything, seed, measure in interleaved rounds, stop everything."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import IO

import attrs
from PIL import Image

from tests.bench import load, workload
from tests.bench.processes import (
    BENCH_DIR,
    REPO,
    VENV_BIN,
    BenchError,
    Processes,
    Server,
    ensure_mapproxy_venv,
    ensure_wrk,
    free_port,
    group_cpu_seconds,
    gunicorn_cmd,
    start_mapserver,
)
from tests.bench.report import CachedResult, MissResult, Results

TILEGATE, MAPPROXY, FLOOR = "Tilegate", "MapProxy", "floor"
SERVER_NAMES = (TILEGATE, MAPPROXY, FLOOR)
CACHES = (TILEGATE, MAPPROXY)  # the servers that have a cache and make misses
SERVICES = ("tms", "wmts")
SEED_CONCURRENCY = 4
MISS_CONCURRENCY = 8


@attrs.frozen
class Options:
    servers: tuple[str, ...]
    rounds: int
    seconds: float
    connections: tuple[int, ...]
    miss_metas: int
    workers: int
    worker_class: str
    threads: int
    wrk_threads: int


@attrs.define
class Bench:
    options: Options
    out: IO[str]
    procs: Processes = attrs.Factory(Processes)
    run_dir: Path = BENCH_DIR / "run"
    wrk: str = ""
    servers: dict[str, Server] = attrs.Factory(dict)
    upstream: Server | None = None
    results: Results = attrs.Factory(Results)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def run(self) -> Results:
        try:
            self._prepare()
            self._start()
            self._seed()
            for round_no in range(self.options.rounds):
                self._round(round_no)
            self._conditional()
        finally:
            self.procs.stop_all()
        (BENCH_DIR / "last-results.json").write_text(
            json.dumps(self.results.as_json(), indent=1)
        )
        return self.results

    def _prepare(self) -> None:
        opts = self.options
        self.wrk = ensure_wrk(self.out)
        if MAPPROXY in opts.servers:
            ensure_mapproxy_venv(self.out)
        if TILEGATE in opts.servers:
            check = subprocess.run(
                [sys.executable, "-c", "import entrypoints.wsgiapp"],
                capture_output=True,
                text=True,
                check=False,
            )
            if check.returncode != 0:
                raise BenchError(
                    f"Tilegate does not import:\n{check.stderr[-2000:]}\n(run without it: --servers mapproxy,floor)"
                )
        if self.run_dir.exists():
            shutil.rmtree(self.run_dir)
        self.run_dir.mkdir(parents=True)
        tiles = workload.cached_tiles()
        for service in SERVICES:
            (self.run_dir / f"{service}.paths").write_text(
                "".join(t.path(service) + "\n" for t in tiles)
            )
        (self.run_dir / "cycle.lua").write_text(load.WRK_SCRIPT)

    def _start(self) -> None:
        opts = self.options
        self.upstream = start_mapserver(self.procs, self.run_dir)
        config = workload.mapproxy_yaml(self.upstream.url)
        self.say(
            f"servers: gunicorn {opts.workers} x {opts.worker_class}"
            + (f" ({opts.threads} threads)" if opts.threads > 1 else "")
            + f", upstream {self.upstream.url}, files in {self.run_dir.relative_to(REPO)}/"
        )
        for name in SERVER_NAMES:
            if name not in opts.servers:
                continue
            home = self.run_dir / name.lower()
            home.mkdir()
            port = free_port()
            if name == TILEGATE:
                (home / "mapproxy.yaml").write_text(config)
                app = f"entrypoints.wsgiapp:make_wsgi_app({str(home / 'mapproxy.yaml')!r})"
                gunicorn = VENV_BIN / "gunicorn"
            elif name == MAPPROXY:
                (home / "mapproxy.yaml").write_text(config)
                (home / "config.py").write_text(
                    "from mapproxy.wsgiapp import make_wsgi_app\n\n"
                    f"application = make_wsgi_app({str(home / 'mapproxy.yaml')!r})\n"
                )
                app = "config:application"
                gunicorn = ensure_mapproxy_venv(self.out)
            else:
                app = f"tests.bench.floorapp:make_app({str(home)!r})"
                gunicorn = VENV_BIN / "gunicorn"
            cmd = gunicorn_cmd(
                gunicorn, app, port, opts.workers, opts.worker_class, opts.threads
            )
            cwd = REPO if name == FLOOR else home
            self.servers[name] = self.procs.start(
                name, cmd, home / "gunicorn.log", cwd, port
            )

    def _seed(self) -> None:
        """Every cached tile once through TMS and WMTS from each cache; the floor's files are
        the TMS answers of the first cache."""
        tiles = workload.cached_tiles()
        floor_files: list[tuple[workload.Tile, bytes]] = []
        for name in CACHES:
            if name not in self.servers:
                continue
            for service in SERVICES:
                batch = load.fetch_all(
                    self.servers[name].url,
                    [t.path(service) for t in tiles],
                    SEED_CONCURRENCY,
                )
                _check_tiles(name, f"seeding {service.upper()}", batch)
                if not floor_files and service == "tms":
                    floor_files = list(
                        zip(tiles, (a.body for a in batch.answers), strict=True)
                    )
            self.say(
                f"seeded {len(tiles)} tiles in {name} ({_metas(tiles)} meta-tiles)"
            )
        if FLOOR in self.servers:
            if not floor_files:
                floor_files = [(t, _blank_png()) for t in tiles]
            root = self.run_dir / "floor"
            for tile, data in floor_files:
                for service in SERVICES:
                    z, x, y = (
                        int(p)
                        for p in tile.path(service).removesuffix(".png").split("/")[-3:]
                    )
                    target = root / service / str(z) / str(x) / f"{y}.png"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
            for service in SERVICES:
                batch = load.fetch_all(
                    self.servers[FLOOR].url,
                    [t.path(service) for t in tiles],
                    SEED_CONCURRENCY,
                )
                _check_tiles(FLOOR, f"checking {service.upper()}", batch)

    def _round(self, round_no: int) -> None:
        opts = self.options
        self.say(f"round {round_no + 1}/{opts.rounds}")
        for service in SERVICES:
            for conns in opts.connections:
                key = f"cached {service.upper()}, {conns} clients"
                line = []
                for name in SERVER_NAMES:
                    if name not in self.servers:
                        continue
                    paths = self.run_dir / f"{service}.paths"
                    script = self.run_dir / "cycle.lua"
                    server = self.servers[name]
                    cpu_before = group_cpu_seconds(server.proc.pid)
                    res = load.run_wrk(
                        self.wrk,
                        server.url,
                        paths,
                        script,
                        conns,
                        opts.seconds,
                        opts.wrk_threads,
                    )
                    cpu = _per(
                        group_cpu_seconds(server.proc.pid),
                        cpu_before,
                        res.requests,
                        1e6,
                    )
                    self.results.add_cached(
                        key,
                        name,
                        CachedResult(
                            res.rps,
                            res.p50_ms,
                            res.p99_ms,
                            res.requests,
                            res.errors,
                            cpu,
                        ),
                    )
                    err = f" ({res.errors} errors)" if res.errors else ""
                    line.append(
                        f"{name} {res.rps:5.0f} req/s p99 {res.p99_ms:5.1f} ms{_cpu_text(cpu, 'us/req')}{err}"
                    )
                self.say(f"  {key:<24} " + " | ".join(line))
        tiles = workload.miss_tiles(round_no, opts.miss_metas)
        key = f"cache misses, {MISS_CONCURRENCY} clients"
        line = []
        for name in CACHES:
            if name not in self.servers:
                continue
            assert self.upstream is not None
            server = self.servers[name]
            load.fetch(self.upstream.url, "/_reset")
            cpu_before = group_cpu_seconds(server.proc.pid)
            batch = load.fetch_all(
                server.url, [t.tms_path() for t in tiles], MISS_CONCURRENCY
            )
            cpu = _per(group_cpu_seconds(server.proc.pid), cpu_before, len(tiles), 1e3)
            stats = json.loads(load.fetch(self.upstream.url, "/_stats").body)
            bad = sum(n for status, n in batch.statuses.items() if status != 200)
            result = MissResult(
                len(tiles) / batch.seconds, stats["total"] / opts.miss_metas, bad, cpu
            )
            self.results.add_misses(key, name, result)
            err = f" ({bad} failed: {batch.statuses})" if bad else ""
            line.append(
                f"{name} {result.tiles_per_s:4.0f} tiles/s {result.upstream_per_meta:.2f} upstream/meta"
                f"{_cpu_text(cpu, 'ms/tile')}{err}"
            )
        if line:
            self.say(f"  {key:<24} " + " | ".join(line))

    def _conditional(self) -> None:
        tile = workload.cached_tiles()[0]
        for name in CACHES:
            if name not in self.servers:
                continue
            url = self.servers[name].url
            first = load.fetch(url, tile.tms_path())
            etag, modified = (
                first.headers.get("etag"),
                first.headers.get("last-modified"),
            )
            inm = (
                str(load.fetch(url, tile.tms_path(), {"If-None-Match": etag}).status)
                if etag
                else "no ETag"
            )
            ims = (
                str(
                    load.fetch(
                        url, tile.tms_path(), {"If-Modified-Since": modified}
                    ).status
                )
                if modified
                else "no Last-Modified"
            )
            self.results.add_status("If-None-Match", name, inm)
            self.results.add_status("If-Modified-Since", name, ims)


def _per(
    after: float | None, before: float | None, count: int, scale: float
) -> float | None:
    if after is None or before is None or count <= 0:
        return None
    return (after - before) / count * scale


def _cpu_text(value: float | None, unit: str) -> str:
    return (
        ""
        if value is None
        else f" CPU {value:5.0f} {unit}"
        if value >= 10
        else f" CPU {value:5.2f} {unit}"
    )


def _metas(tiles: list[workload.Tile]) -> int:
    return len({t.meta for t in tiles})


def _check_tiles(name: str, what: str, batch: load.BatchResult) -> None:
    bad = [
        a
        for a in batch.answers
        if a.status != 200
        or not a.headers.get("content-type", "").startswith("image/png")
    ]
    if bad:
        sample = bad[0]
        raise BenchError(
            f"{name}: {what} got {len(bad)} bad answers of {len(batch.answers)}, e.g. {sample.status} "
            f"{sample.headers.get('content-type')}: {sample.body[:300]!r}"
        )


def _blank_png() -> bytes:
    """A tile for the floor to serve when no cache runs to give it real ones."""
    out = io.BytesIO()
    Image.new("RGB", (256, 256), (255, 255, 255)).save(out, "PNG")
    return out.getvalue()
