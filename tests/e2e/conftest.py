"""End-to-end fixtures: real processes (gunicorn, the dev server) on free local ports."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.mapserver import MapServer

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {out}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout:
        proc.stdout.close()


def fetch(
    url: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


class Server:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, config: Path) -> None:
        self.proc = proc
        self.url = url
        self.config = config


def run_command(
    cwd: Path, program: str, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """An installed command of the venv (`tilegate`, `mapproxy-seed`, ...) run in cwd, as a user
    would; its output captured as text, its exit code left to the test."""
    return subprocess.run(
        [str(VENV_BIN / program), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_server(
    cmd: list[str], cwd: Path, port: int
) -> tuple[subprocess.Popen[bytes], str]:
    """Run cmd in cwd and return once it answers HTTP on port (stopped again if it does not)."""
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/", proc)
    except BaseException:
        stop(proc)
        raise
    return proc, url


def serve_develop(cwd: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """`tilegate serve-develop ARGS` in cwd on a free port, answering once this returns."""
    port = free_port()
    bind = f"127.0.0.1:{port}"
    return start_server(
        [str(VENV_BIN / "tilegate"), "serve-develop", *args, "--bind", bind], cwd, port
    )


def start_gunicorn(
    config: Path, workers: int = 2, extra: tuple[str, ...] = ()
) -> Server:
    """gunicorn with `workers` sync workers serving config, on a free port."""
    port = free_port()
    app = f"entrypoints.wsgiapp:make_wsgi_app({str(config)!r})"
    cmd = [
        str(VENV_BIN / "gunicorn"),
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        *extra,
        app,
    ]
    proc, url = start_server(cmd, config.parent, port)
    return Server(proc, url, config)


def upstream_wms(upstream: MapServer) -> dict[str, Any]:
    """A `sources:` entry for the upstream map server's WMS, served in EPSG:3857."""
    return {
        "type": "wms",
        "req": {"url": f"{upstream.url}/service", "layers": "x"},
        "supported_srs": ["EPSG:3857"],
    }


@contextlib.contextmanager
def serving(directory: Path, conf: dict[str, Any]) -> Iterator[Server]:
    """gunicorn serving `conf` (written to directory/mapproxy.yaml) while the block runs."""
    config = directory / "mapproxy.yaml"
    config.write_text(yaml.safe_dump(conf))
    server = start_gunicorn(config)
    try:
        yield server
    finally:
        stop(server.proc)


@pytest.fixture(scope="module")
def upstream() -> Iterator[MapServer]:
    """A real map server for the module's tests (they reset or count what they need)."""
    with MapServer() as server:
        yield server


@pytest.fixture
def gunicorn_app() -> Iterator[object]:
    """Call with a config path to get a running gunicorn (2 workers); stopped after the test."""
    servers: list[Server] = []

    def start(config: Path, workers: int = 2, extra: tuple[str, ...] = ()) -> Server:
        server = start_gunicorn(config, workers, extra)
        servers.append(server)
        return server

    yield start
    for server in servers:
        stop(server.proc)
