"""One benchmark run: start everything, seed, measure in interleaved rounds, stop everything."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import IO

import attrs

from tests.bench import (
    load,
    misses_scenario,
    nginx_scenario,
    seed_scenario,
    seeding,
    startup,
    wms_scenario,
    workload,
)
from tests.bench.processes import (
    BENCH_DIR,
    REPO,
    TILEGATE_BIN,
    VENV_BIN,
    BenchError,
    Processes,
    Server,
    ensure_mapproxy_venv,
    ensure_tilegate_venv,
    ensure_tool,
    free_port,
    group_cpu_seconds,
    gunicorn_cmd,
    start_mapserver,
)
from tests.bench.results import CachedResult, Results, cpu_text, per_item

TILEGATE, MAPPROXY, FLOOR = "Tilegate", "MapProxy", "floor"
SERVER_NAMES = (TILEGATE, MAPPROXY, FLOOR)
CACHES = (TILEGATE, MAPPROXY)  # the servers that have a cache and make misses
SERVICES = ("tms", "wmts")

# Scenarios in the order they run; `--only` picks some.
SCENARIOS = ("startup", "seeding", "cached", "misses", "conditional", "nginx", "wms")
SERVED = ("cached", "misses", "conditional", "nginx", "wms")  # they need the gunicorns
ROUNDS = ("cached", "misses", "nginx")  # measured in the interleaved rounds


@attrs.frozen
class Options:
    servers: tuple[str, ...]
    scenarios: tuple[str, ...]
    rounds: int
    seconds: float
    connections: tuple[int, ...]
    services: tuple[str, ...]
    miss_metas: int
    startup_runs: int
    workers: int
    worker_classes: tuple[str, ...]
    threads: int
    wrk_threads: int
    wms_requests: int


@attrs.define
class Bench:
    options: Options
    out: IO[str]
    procs: Processes = attrs.Factory(Processes)
    run_dir: Path = BENCH_DIR / "run"
    wrk: str = ""
    nginx: str = ""
    # (server name, gunicorn worker class) -> the running gunicorn
    servers: dict[tuple[str, str], Server] = attrs.Factory(dict)
    upstream: Server | None = None
    # the nginx scenario's variants, in front of the first worker class's gunicorns
    fronts: list[nginx_scenario.Front] = attrs.Factory(list)
    results: Results = attrs.Factory(Results)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def wants(self, scenario: str) -> bool:
        return scenario in self.options.scenarios

    def run(self) -> Results:
        opts = self.options
        try:
            self._prepare()
            self.upstream = start_mapserver(self.procs, self.run_dir)
            if self.wants("startup"):
                self._startup()
            if self.wants("seeding"):
                seed_scenario.run(
                    [n for n in CACHES if n in opts.servers],
                    self.upstream.url,
                    self.run_dir / "seeding",
                    opts.rounds,
                    self.results,
                    self.say,
                )
            if any(self.wants(s) for s in SERVED):
                self._start()
                self._seed()
                if self.wants("nginx"):
                    self._start_nginx()
                if any(self.wants(s) for s in ROUNDS):
                    for round_no in range(opts.rounds):
                        self._round(round_no)
                if self.wants("conditional"):
                    worker_class = self.options.worker_classes[0]
                    misses_scenario.run_conditional(
                        {
                            n: self.servers[n, worker_class]
                            for n in CACHES
                            if (n, worker_class) in self.servers
                        },
                        self.results,
                    )
                if self.wants("wms"):
                    self._wms()
        finally:
            self.procs.stop_all()
        (BENCH_DIR / "last-results.json").write_text(
            json.dumps(self.results.as_json(), indent=1)
        )
        return self.results

    def _prepare(self) -> None:
        opts = self.options
        if self.wants("cached") or self.wants("nginx"):
            self.wrk = ensure_tool("wrk", "wrk", self.out)
        if self.wants("nginx"):
            if TILEGATE not in opts.servers:
                raise BenchError(
                    "the nginx scenario needs Tilegate (--servers tilegate,...)"
                )
            self.nginx = ensure_tool("nginx", "nginx-light", self.out)
        if MAPPROXY in opts.servers:
            ensure_mapproxy_venv(self.out)
        if TILEGATE in opts.servers:
            python = ensure_tilegate_venv(self.out) / "python"
            check = subprocess.run(
                [str(python), "-c", "import entrypoints.wsgiapp"],
                capture_output=True,
                text=True,
                check=False,
                cwd=BENCH_DIR,
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

    def _startup(self) -> None:
        assert self.upstream is not None
        homes = self.run_dir / "startup"
        probes = [
            startup.probe(name, homes / name.lower())
            for name in CACHES
            if name in self.options.servers
        ]
        startup.run(
            probes, self.upstream.url, self.options.startup_runs, self.results, self.say
        )

    def _start(self) -> None:
        opts = self.options
        assert self.upstream is not None
        config = workload.mapproxy_yaml(self.upstream.url)
        self.say(
            f"servers: gunicorn {opts.workers} workers of each class: {', '.join(_class_text(c, opts.threads) for c in opts.worker_classes)};"
            f" upstream {self.upstream.url}, files in {self.run_dir.relative_to(REPO)}/"
        )
        for name in SERVER_NAMES:
            if name not in opts.servers:
                continue
            home = self.run_dir / name.lower()
            home.mkdir()
            if name == TILEGATE:
                (home / "mapproxy.yaml").write_text(config)
                app = f"entrypoints.wsgiapp:make_wsgi_app({str(home / 'mapproxy.yaml')!r})"
                gunicorn = TILEGATE_BIN / "gunicorn"
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
            # Every worker class of one server serves the same configuration and cache.
            for worker_class in opts.worker_classes:
                port = free_port()
                threads = opts.threads if worker_class == "gthread" else 1
                cmd = gunicorn_cmd(
                    gunicorn, app, port, opts.workers, worker_class, threads
                )
                cwd = REPO if name == FLOOR else home
                log = home / f"gunicorn-{worker_class}.log"
                self.servers[name, worker_class] = self.procs.start(
                    f"{name} ({worker_class})", cmd, log, cwd, port
                )

    def _seed(self) -> None:
        """Every cached tile once through each service from each cache (through the first worker
        class; the others are checked); the floor's files are the first cache's answers."""
        opts = self.options
        first_class, *other_classes = opts.worker_classes
        floor_files: list[bytes] = []
        tiles = workload.cached_tiles()
        for name in SERVER_NAMES:
            if name not in opts.servers:
                continue
            if name == FLOOR:
                seeding.write_floor_files(self.run_dir / "floor", floor_files)
                self.say(
                    f"floor files written in {self.run_dir.relative_to(REPO)}/floor/"
                )
            else:
                bodies = seeding.seed(
                    name, self.servers[name, first_class].url, SERVICES
                )
                floor_files = floor_files or bodies
                self.say(
                    f"seeded {len(tiles)} tiles in {name} ({_metas(tiles)} meta-tiles)"
                )
            for worker_class in other_classes if name != FLOOR else opts.worker_classes:
                seeding.seed(name, self.servers[name, worker_class].url, SERVICES)

    def _round(self, round_no: int) -> None:
        opts = self.options
        self.say(f"round {round_no + 1}/{opts.rounds}")
        if self.wants("cached"):
            for worker_class in opts.worker_classes:
                for service in opts.services:
                    for conns in opts.connections:
                        self._cached(worker_class, service, conns)
        if self.wants("misses"):
            self._misses(round_no)
        if self.wants("nginx"):
            for conns in opts.connections:
                self._nginx(conns)

    def _cached(self, worker_class: str, service: str, conns: int) -> None:
        key = f"cached {service.upper()}, {conns} clients, {worker_class}"
        line = []
        for name in SERVER_NAMES:
            if (name, worker_class) not in self.servers:
                continue
            server = self.servers[name, worker_class]
            result = self._wrk(server.url, (server.proc.pid,), service, conns)
            self.results.add_cached(key, name, result)
            line.append(_wrk_text(name, result))
        self.say(f"  {key:<34} " + " | ".join(line))

    def _start_nginx(self) -> None:
        """The nginx scenario's variants, in front of the first worker class's gunicorns."""
        first_class = self.options.worker_classes[0]
        self.fronts = nginx_scenario.start_fronts(
            self.procs,
            self.nginx,
            self.run_dir / "nginx",
            self.servers[TILEGATE, first_class],
            self.run_dir / TILEGATE.lower() / "mapproxy.yaml",
            self.servers.get((MAPPROXY, first_class)),
            self.options.workers,
        )
        nginx_scenario.check_fronts(self.fronts)
        self.say(
            f"nginx: {', '.join(f.variant + ' ' + f.nginx.url for f in self.fronts)}"
            f" ({self.options.workers} worker processes each, in front of {first_class} gunicorns)"
        )

    def _nginx(self, conns: int) -> None:
        """Cached WMTS tiles through each nginx variant; CPU: nginx's and its gunicorn's."""
        key = f"nginx WMTS, {conns} clients"
        line = []
        for front in self.fronts:
            result = self._wrk(
                front.nginx.url, front.groups, nginx_scenario.SERVICE, conns
            )
            self.results.add_nginx(key, front.variant, result)
            line.append(_wrk_text(front.variant, result))
        self.say(f"  {key:<34} " + " | ".join(line))

    def _wrk(
        self, url: str, groups: tuple[int, ...], service: str, conns: int
    ) -> CachedResult:
        """wrk over the cached tiles' `service` URLs; CPU: the process groups `groups`."""
        opts = self.options
        cpu_before = _groups_cpu(groups)
        res = load.run_wrk(
            self.wrk,
            url,
            self.run_dir / f"{service}.paths",
            self.run_dir / "cycle.lua",
            conns,
            opts.seconds,
            opts.wrk_threads,
        )
        cpu = per_item(_groups_cpu(groups), cpu_before, res.requests, 1e6)
        return CachedResult(
            res.rps, res.p50_ms, res.p99_ms, res.requests, res.errors, cpu
        )

    def _misses(self, round_no: int) -> None:
        """Misses through the first worker class only."""
        assert self.upstream is not None
        worker_class = self.options.worker_classes[0]
        misses_scenario.run_misses(
            {
                n: self.servers[n, worker_class]
                for n in CACHES
                if (n, worker_class) in self.servers
            },
            self.upstream.url,
            workload.miss_tiles(round_no, self.options.miss_metas),
            f"cache misses, {misses_scenario.CONCURRENCY} clients, {worker_class}",
            self.results,
            self.say,
        )

    def _wms(self) -> None:
        """WMS GetMap through the first worker class of each cache."""
        assert self.upstream is not None
        first_class = self.options.worker_classes[0]
        wms_scenario.run(
            {
                n: self.servers[n, first_class]
                for n in CACHES
                if (n, first_class) in self.servers
            },
            self.upstream.url,
            self.options.wms_requests,
            self.results,
            self.say,
        )


def _class_text(worker_class: str, threads: int) -> str:
    return (
        f"{worker_class} ({threads} threads)"
        if worker_class == "gthread"
        else worker_class
    )


def _groups_cpu(groups: tuple[int, ...]) -> float | None:
    seconds = [group_cpu_seconds(g) for g in groups]
    return None if None in seconds else sum(s for s in seconds if s is not None)


def _wrk_text(name: str, result: CachedResult) -> str:
    err = f" ({result.errors} errors)" if result.errors else ""
    cpu = cpu_text(result.cpu_us_per_req, "us/req")
    return f"{name} {result.rps:5.0f} req/s p99 {result.p99_ms:5.1f} ms{cpu}{err}"


def _metas(tiles: list[workload.Tile]) -> int:
    return len({t.meta for t in tiles})
