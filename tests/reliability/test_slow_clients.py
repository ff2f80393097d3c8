"""Slow clients: a handful of connections that send a request line and then trickle their
headers (slowloris) must not starve the server. Shown for the deployments docs/security.md
recommends (gevent workers, gthread workers with more threads than such connections, nginx in
front of sync workers) and, as the caveat, for bare sync workers, which they do starve.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.nginx import Nginx, needs_nginx
from tests.mapserver import MapServer
from tests.reliability.conftest import amount
from tests.reliability.target import (
    attack_config,
    get_request,
    parse_answer,
    raw_request,
)
from tests.reliability.tile_caches import Gunicorn

SLOW_CONNECTIONS = 10
TILE = "/tiles/osm/EPSG3857/2/1/1.png"
# What a normal client may wait for a cached tile while the slow connections hang on.
PATIENCE = 1.0


class Trickler:
    """Connections that each sent a request line and now send one header byte at a time."""

    def __init__(self, port: int, count: int, interval: float = 0.5) -> None:
        self.socks = [
            socket.create_connection(("127.0.0.1", port), timeout=5)
            for _ in range(count)
        ]
        for sock in self.socks:
            sock.sendall(f"GET {TILE} HTTP/1.1\r\nHost: x\r\n".encode())
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._trickle, args=(interval,))
        self.thread.start()

    def _trickle(self, interval: float) -> None:
        while not self.stopping.wait(interval):
            for sock in self.socks:
                # The server may give up on one (OSError); the others go on.
                with contextlib.suppress(OSError):
                    sock.sendall(b"X")  # never a line end: the headers never finish

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        for sock in self.socks:
            sock.close()


def timed_tile(port: int, timeout: float) -> tuple[int | None, float]:
    """The status of a normal tile request (None if none came in time) and how long it took."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(get_request(TILE))
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except TimeoutError:
        return None, time.monotonic() - started
    return parse_answer(b"".join(chunks)).status, time.monotonic() - started


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with MapServer() as server:
        yield attack_config(tmp_path_factory.mktemp("slow"), server.url)


def attacked(port: int) -> list[tuple[int | None, float]]:
    """Normal tile requests (the tile is cached first) while slow connections hang on."""
    assert raw_request(port, get_request(TILE)).status == 200
    trickler = Trickler(port, SLOW_CONNECTIONS)
    try:
        time.sleep(1)  # the slow connections have reached the workers
        results = []
        for _ in range(amount(3, 20)):
            results.append(timed_tile(port, PATIENCE + 1))
            time.sleep(0.2)
        return results
    finally:
        trickler.close()


RECOMMENDED = {
    "gevent": ("--worker-class", "gevent", "--worker-connections", "1000"),
    "gthread": ("--worker-class", "gthread", "--threads", str(2 * SLOW_CONNECTIONS)),
}


@pytest.mark.parametrize("worker_class", sorted(RECOMMENDED))
def test_slow_header_connections_do_not_starve_recommended_workers(
    worker_class: str, config: Path
) -> None:
    server = Gunicorn(config, workers=2, extra=RECOMMENDED[worker_class])
    try:
        results = attacked(int(server.url.rsplit(":", 1)[1]))
    finally:
        server.close()
    print(f"\n{worker_class}: {[(s, round(t, 3)) for s, t in results]}")
    assert all(status == 200 and took < PATIENCE for status, took in results)


@needs_nginx
def test_nginx_in_front_keeps_slow_header_connections_from_sync_workers(
    config: Path, tmp_path: Path
) -> None:
    server = Gunicorn(config, workers=2)
    proxy = Nginx(
        tmp_path,
        f"location / {{ proxy_pass {server.url}; }}\n"
        "        client_header_timeout 10s;",
    )
    try:
        with proxy:
            results = attacked(proxy.port)
    finally:
        server.close()
    print(f"\nnginx + sync: {[(s, round(t, 3)) for s, t in results]}")
    assert all(status == 200 and took < PATIENCE for status, took in results)


def test_bare_sync_workers_are_starved_by_slow_header_connections(config: Path) -> None:
    """The caveat docs/security.md states: gunicorn's sync workers, alone on the internet,
    each wait for the headers of the connection they took."""
    server = Gunicorn(config, workers=2)
    try:
        results = attacked(int(server.url.rsplit(":", 1)[1]))
    finally:
        server.close()
    print(f"\nsync: {[(s, round(t, 3)) for s, t in results]}")
    assert all(status is None or took >= PATIENCE for status, took in results)
