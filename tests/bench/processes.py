"""Starting and stopping what the benchmark runs: the map server, three gunicorns, nginx, wrk.

Every server is started in its own session (process group), registered with a `Processes`
and stopped by group id when the benchmark ends, however it ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import IO

import attrs

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
BENCH_DIR = REPO / ".bench"
MAPPROXY_VENV = BENCH_DIR / "mapproxy-venv"
# Tilegate as a user installs it: a wheel, byte-compiled, without the dev tools (import-linter
# brings rich, which structlog then imports: +0.1 s on every start of the dev venv's tilegate).
TILEGATE_VENV = BENCH_DIR / "tilegate-venv"
TILEGATE_BIN = TILEGATE_VENV / "bin"
_TILEGATE_SOURCES = ("pyproject.toml", "domain", "adapters", "entrypoints")
MAPPROXY_REQUIREMENTS = ("MapProxy==7.0.0", "gunicorn")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class BenchError(Exception):
    """The benchmark cannot go on (a server did not start, a tool is missing)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@attrs.define
class Server:
    """A started server process: `url` is its base URL on 127.0.0.1."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log: Path


@attrs.define
class Processes:
    """The processes the benchmark started; `stop_all` ends each by its own process group."""

    servers: list[Server] = attrs.Factory(list)

    def start(
        self,
        name: str,
        cmd: list[str],
        log: Path,
        cwd: Path,
        port: int,
        ready_path: str = "/",
    ) -> Server:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        server = Server(name, proc, f"http://127.0.0.1:{port}", log)
        self.servers.append(server)
        _wait_for_http(server, ready_path)
        return server

    def stop(self, server: Server) -> None:
        if server in self.servers:
            self.servers.remove(server)
        _stop_group(server.proc)

    def stop_all(self) -> None:
        while self.servers:
            self.stop(self.servers[-1])


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_TIMEOUT)
    # gunicorn workers outlive a master that was killed hard: end what is left of the group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def group_cpu_seconds(pgid: int) -> float | None:
    """User + system CPU time of the live processes in process group `pgid` (Linux /proc), or None.

    Throughput on a shared machine moves with whatever else runs; the CPU a server spends per
    request does not, so it is the steadier number to compare.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        # the command name in parentheses may hold spaces: count fields after its closing one
        fields = stat[stat.rindex(b")") + 2 :].split()
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def _wait_for_http(server: Server, path: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise BenchError(
                f"{server.name} exited with {server.proc.returncode}:\n{_tail(server.log)}"
            )
        try:
            with urllib.request.urlopen(server.url + path, timeout=5):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise BenchError(
        f"{server.name} did not answer within {START_TIMEOUT:.0f} s:\n{_tail(server.log)}"
    )


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def interrupt_on_signals() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt, so `finally` blocks stop the servers.

    SIGINT too: a shell starts background jobs with it ignored, and Python keeps it so.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def start_mapserver(procs: Processes, run_dir: Path) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "tests.mapserver", "--port", str(port)]
    return procs.start(
        "map server", cmd, run_dir / "mapserver.log", REPO, port, "/_stats"
    )


def gunicorn_cmd(
    gunicorn: Path, app: str, port: int, workers: int, worker_class: str, threads: int
) -> list[str]:
    return [
        str(gunicorn),
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--backlog",
        "2048",
        "--log-level",
        "warning",
        app,
    ]


def ensure_mapproxy_venv(out: IO[str]) -> Path:
    """The MapProxy venv's gunicorn, creating the venv once (cached under .bench/)."""
    gunicorn = MAPPROXY_VENV / "bin" / "gunicorn"
    marker = MAPPROXY_VENV / ".installed"
    if (
        marker.exists()
        and marker.read_text() == "\n".join(MAPPROXY_REQUIREMENTS)
        and gunicorn.exists()
    ):
        return gunicorn
    print(
        f"creating {MAPPROXY_VENV.relative_to(REPO)} with {' '.join(MAPPROXY_REQUIREMENTS)} (once) ...",
        file=out,
        flush=True,
    )
    try:
        subprocess.run(
            ["python3", "-m", "venv", str(MAPPROXY_VENV)], check=True, timeout=300
        )
        pip = [
            str(MAPPROXY_VENV / "bin" / "pip"),
            "install",
            "-q",
            *MAPPROXY_REQUIREMENTS,
        ]
        subprocess.run(pip, check=True, timeout=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise BenchError(
            f"could not create the MapProxy venv: {exc} (on Debian, `apt-get install python3-venv`)"
        ) from exc
    marker.write_text("\n".join(MAPPROXY_REQUIREMENTS))
    return gunicorn


def ensure_tilegate_venv(out: IO[str]) -> Path:
    """TILEGATE_BIN, with the working tree's Tilegate (and gunicorn) installed there; made
    once, and Tilegate reinstalled whenever its sources changed."""
    stamp = _sources_stamp()
    marker = TILEGATE_VENV / ".installed"
    if marker.exists() and marker.read_text() == stamp:
        return TILEGATE_BIN
    fresh = not (TILEGATE_BIN / "python").exists()
    print(
        f"{'creating' if fresh else 'updating'} {TILEGATE_VENV.relative_to(REPO)} (a wheel install of this tree) ...",
        file=out,
        flush=True,
    )
    pip = [str(TILEGATE_BIN / "pip"), "install", "-q"]
    # setuptools builds the wheel in the tree's build/; leave no such leftover behind.
    leftover = not (REPO / "build").exists()
    try:
        if fresh:
            subprocess.run(
                ["python3", "-m", "venv", str(TILEGATE_VENV)], check=True, timeout=300
            )
            subprocess.run([*pip, str(REPO), "gunicorn"], check=True, timeout=900)
        else:
            subprocess.run(
                [*pip, "--no-deps", "--force-reinstall", str(REPO)],
                check=True,
                timeout=900,
            )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise BenchError(
            f"could not install Tilegate for the benchmark: {exc}"
        ) from exc
    finally:
        if leftover:
            shutil.rmtree(REPO / "build", ignore_errors=True)
    marker.write_text(stamp)
    return TILEGATE_BIN


def _sources_stamp() -> str:
    digest = hashlib.sha256()
    for top in _TILEGATE_SOURCES:
        path = REPO / top
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(REPO)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


def ensure_tool(tool: str, package: str, out: IO[str]) -> str:
    """The path of `tool`, installing Debian's `package` when it is missing and we are root."""
    # nginx lives in /usr/sbin, which a normal user's PATH may lack
    found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BenchError(
            f"{tool} is missing: install it (Debian: `apt-get install -y {package}`) and run again"
        )
    print(
        f"{tool} is missing: running `apt-get install -y {package}` ...",
        file=out,
        flush=True,
    )
    cmd = ["apt-get", "install", "-y", "-q", package]
    done = subprocess.run(cmd, capture_output=True, timeout=600, check=False)
    if done.returncode != 0:
        subprocess.run(
            ["apt-get", "update", "-q"], capture_output=True, timeout=600, check=False
        )
        done = subprocess.run(cmd, capture_output=True, timeout=600, check=False)
    found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
    if done.returncode != 0 or not found:
        raise BenchError(
            f"could not install {package}:\n{done.stdout.decode(errors='replace')[-2000:]}{done.stderr.decode(errors='replace')[-2000:]}"
        )
    return found
