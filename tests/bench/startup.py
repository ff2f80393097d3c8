"""The start-up scenario: how long each server takes to load a large configuration, and its memory.

Each measurement is a fresh interpreter of the server's own venv running `PROBE`: it imports
the server's WSGI module, loads the configuration with `make_wsgi_app` (what every gunicorn
worker pays at start), loads it a second time in the same process (what a reload pays: the
modules and per-process caches are warm then), and reads its resident memory before and after
the first load. Tilegate and MapProxy take turns, so that load on the machine falls on both.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import attrs

from tests.bench.bigconfig import CACHES, LAYERS_PER_CACHE, big_mapproxy_yaml
from tests.bench.processes import MAPPROXY_VENV, REPO, TILEGATE_BIN, BenchError
from tests.bench.results import Results, StartupResult

LAYERS = CACHES * LAYERS_PER_CACHE
PROBE_TIMEOUT = 300.0

# Run as `python -c PROBE MODULE CONFIG`; prints one JSON line. The load's CPU time moves less
# than its wall time when other work shares the machine. MapProxy imports part of its
# code lazily during the first load, Tilegate all of it on import: "import" and "load" are
# therefore only comparable together; "reload" is comparable on its own.
PROBE = """\
import importlib, json, resource, sys, time

def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

module, config = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
wsgiapp = importlib.import_module(module)
t1 = time.perf_counter()
base = rss_mb()
c1 = time.process_time()
app = wsgiapp.make_wsgi_app(config)
t2, c2 = time.perf_counter(), time.process_time()
loaded = rss_mb()
again = wsgiapp.make_wsgi_app(config)
t3 = time.perf_counter()
print("PROBE_RESULT " + json.dumps({
    "import_ms": (t1 - t0) * 1000, "load_ms": (t2 - t1) * 1000, "reload_ms": (t3 - t2) * 1000,
    "load_cpu_ms": (c2 - c1) * 1000,
    "rss_base_mb": base, "rss_loaded_mb": loaded,
    "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


@attrs.frozen
class Probe:
    """How to start one server's interpreter on the configuration."""

    name: str
    python: Path
    module: str
    home: Path

    @property
    def config(self) -> Path:
        return self.home / "mapproxy.yaml"


def probe(name: str, home: Path) -> Probe:
    """The probe of "Tilegate" or "MapProxy", each in the python of its own venv."""
    if name == "MapProxy":
        return Probe(name, MAPPROXY_VENV / "bin" / "python", "mapproxy.wsgiapp", home)
    return Probe(name, TILEGATE_BIN / "python", "entrypoints.wsgiapp", home)


def run(
    probes: list[Probe],
    upstream: str,
    runs: int,
    results: Results,
    say: Callable[[str], None],
) -> None:
    """`runs` measurements of each probe, taking turns; the same configuration next to each
    server (relative paths resolve there), its WMS sources at `upstream`."""
    text = big_mapproxy_yaml(upstream)
    for p in probes:
        p.home.mkdir(parents=True, exist_ok=True)
        p.config.write_text(text)
    key = f"start-up, {LAYERS} layers ({runs} runs)"
    if not probes:
        say(f"{key}: skipped, neither Tilegate nor MapProxy is among the servers")
        return
    say(f"{key}: {CACHES} caches and sources in {probes[0].config.relative_to(REPO)}")
    for run_no in range(runs):
        line = []
        for p in probes:
            res = measure(p)
            results.add_startup(key, p.name, res)
            line.append(
                f"{p.name} import {res.import_ms:4.0f} load {res.load_ms:4.0f} reload {res.reload_ms:4.0f} ms,"
                f" RSS +{res.rss_mb:.0f} = {res.total_rss_mb:.0f} MB"
            )
        say(f"  run {run_no + 1}/{runs}  " + " | ".join(line))


def measure(probe: Probe) -> StartupResult:
    """One fresh interpreter loading the configuration twice."""
    cmd = [str(probe.python), "-c", PROBE, probe.module, str(probe.config)]
    try:
        done = subprocess.run(
            cmd,
            cwd=probe.home,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(
            f"{probe.name} did not load the start-up configuration within {PROBE_TIMEOUT:.0f} s"
        ) from exc
    for line in done.stdout.splitlines():
        if line.startswith("PROBE_RESULT "):
            raw = json.loads(line.removeprefix("PROBE_RESULT "))
            return StartupResult(
                import_ms=raw["import_ms"],
                load_ms=raw["load_ms"],
                load_cpu_ms=raw["load_cpu_ms"],
                reload_ms=raw["reload_ms"],
                rss_mb=raw["rss_loaded_mb"] - raw["rss_base_mb"],
                total_rss_mb=raw["rss_loaded_mb"],
            )
    raise BenchError(
        f"{probe.name} failed to load the start-up configuration ({probe.config}), exit {done.returncode}:\n"
        f"{done.stderr[-3000:]}"
    )
