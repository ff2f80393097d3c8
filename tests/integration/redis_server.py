"""A redis-server of the test's own: on a free port, nothing saved to disk, stopped at the end."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from tests.e2e.conftest import free_port


@contextlib.contextmanager
def redis_server(
    cwd: Path, *, tls: list[str] | None = None, **client: Any
) -> Iterator[int]:
    """Its port once it answers PING; with `tls` (redis-server's --tls-* options) it listens
    for TLS only, and `client` holds what a redis.Redis needs to reach it."""
    port = free_port()
    listen = (
        ["--port", str(port)]
        if tls is None
        else ["--port", "0", "--tls-port", str(port), *tls]
    )
    proc = subprocess.Popen(
        ["redis-server", "--save", "", "--appendonly", "no", *listen],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    probe = redis.Redis(port=port, **client)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        yield port
    finally:
        probe.close()
        proc.terminate()
        proc.wait(timeout=10)
