"""Load generation: wrk for throughput and latency, a small http.client for everything else."""

from __future__ import annotations

import http.client
import json
import subprocess
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import attrs

# Each wrk thread walks the whole URL list from its own starting point; `done` prints one JSON
# line with the numbers wrk measured (latencies in microseconds).
WRK_SCRIPT = """\
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  paths = {}
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  n = #paths
  i = (id * 97) % n
end

function request()
  i = i % n + 1
  return wrk.format("GET", paths[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
"""

REQUEST_TIMEOUT = 60.0


class LoadError(Exception):
    """wrk failed or printed no result."""


@attrs.frozen
class WrkResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(
    wrk: str,
    base_url: str,
    paths_file: Path,
    script: Path,
    connections: int,
    seconds: float,
    threads: int,
) -> WrkResult:
    """wrk against `base_url`, cycling through the paths in `paths_file` for `seconds`."""
    cmd = [
        wrk,
        f"--threads={min(threads, connections)}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        "--timeout=10s",
        f"--script={script}",
        base_url,
        "--",
        str(paths_file),
    ]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            raw = json.loads(line.removeprefix("WRK_RESULT "))
            errors = sum(
                raw[k] for k in ("connect", "read", "write", "status", "timeout")
            )
            return WrkResult(
                raw["requests"],
                raw["duration_us"] / 1e6,
                errors,
                raw["p50_us"] / 1000,
                raw["p99_us"] / 1000,
            )
    raise LoadError(
        f"wrk exited with {done.returncode} and no result:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    )


@attrs.frozen
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


def fetch(
    base_url: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    timeout: float = REQUEST_TIMEOUT,
) -> Answer:
    """One GET on a new connection (gunicorn's sync workers close it after each answer anyway)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=timeout
    )
    try:
        conn.request("GET", path, headers=dict(headers or {}))
        resp = conn.getresponse()
        body = resp.read()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        conn.close()


@attrs.frozen
class BatchResult:
    seconds: float
    statuses: dict[int, int]
    answers: list[Answer]


def fetch_all(base_url: str, paths: list[str], concurrency: int) -> BatchResult:
    """Every path once, `concurrency` requests at a time; each request is bounded by its timeout."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        answers = list(pool.map(lambda p: _fetch_or_error(base_url, p), paths))
    seconds = time.perf_counter() - start
    statuses: dict[int, int] = {}
    for a in answers:
        statuses[a.status] = statuses.get(a.status, 0) + 1
    return BatchResult(seconds, statuses, answers)


def _fetch_or_error(base_url: str, path: str) -> Answer:
    try:
        return fetch(base_url, path)
    except (OSError, http.client.HTTPException) as exc:
        return Answer(0, {}, str(exc).encode())
