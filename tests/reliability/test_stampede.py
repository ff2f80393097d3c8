"""Stampedes and lock timeouts: many clients asking at once for the tiles of one uncached meta-tile
make one upstream request; a client whose lock wait runs out gets the tile if it has arrived, else
a 503 with Retry-After and the OGC exception of its service, never a 500.
"""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import attrs
import pytest
import yaml
from PIL import Image, ImageChops

from domain.grid import TileCoord
from domain.tiles import TileSet, render_meta_tile
from entrypoints.app import TilegateApp
from tests.e2e.conftest import Server, fetch, start_gunicorn, stop
from tests.integration.test_app import WEBMERCATOR, get, make_app, same_pixels
from tests.mapserver import MapServer, render
from tests.reliability.conftest import amount
from tests.reliability.test_failing_sources import (
    OWS,
    assert_ogc_exception,
    config,
)
from tests.reliability.test_failing_sources import Service as ServiceKind

CLIENTS = 200
# Meta-tiles of 4x4 tiles: a tile inside one has all its neighbours in it too, so a WMS map of
# exactly that tile reads no other meta-tile.
META = (4, 4)
# gthread workers x threads: waiters in several processes and in several threads of each.
GUNICORN = ("--worker-class", "gthread", "--threads", "8")
WORKERS = 4


@attrs.frozen
class Ask:
    """One request: which service, for which tile (WMS: a map of exactly that tile)."""

    kind: str
    coord: TileCoord

    @property
    def path(self) -> str:
        c, south = self.coord, 2**self.coord.z - 1 - self.coord.y
        if self.kind == "tms":
            # the web mercator TMS profile starts one level below the grid
            return f"/tms/1.0.0/cached/EPSG3857/{c.z - 1}/{c.x}/{south}.png"
        if self.kind == "kml":
            return f"/kml/cached/EPSG3857/{c.z}/{c.x}/{south}.png"
        if self.kind == "wmts":
            return f"/wmts/cached/GLOBAL_WEBMERCATOR/{c.z:02d}/{c.x}/{c.y}.png"
        bbox = ",".join(map(repr, WEBMERCATOR.tile_bbox(c).as_tuple()))
        query = urlencode(
            {
                "SERVICE": "WMS",
                "REQUEST": "GetMap",
                "VERSION": "1.1.1",
                "LAYERS": "cached",
                "STYLES": "",
                "SRS": "EPSG:3857",
                "BBOX": bbox,
                "WIDTH": "256",
                "HEIGHT": "256",
                "FORMAT": "image/png",
            }
        )
        return f"/service?{query}"

    @property
    def exception(self) -> ServiceKind:
        root = {
            "tms": "TileMapServerError",
            "kml": "TileMapServerError",
            "wmts": f"{OWS}ExceptionReport",
            "wms": "ServiceExceptionReport",
        }[self.kind]
        return ServiceKind(self.kind, self.path, "", root)


@attrs.frozen
class Answer:
    ask: Ask
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


def meta_tile_asks(corner: TileCoord, count: int) -> list[Ask]:
    """`count` requests over the tiles of the meta-tile at `corner`, every service in turn; the
    WMS maps are of a tile inside it."""
    kinds = ("wmts", "tms", "kml", "wms")
    asks = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        dx, dy = (1 + i % 2, 1 + i // 2 % 2) if kind == "wms" else (i % 4, i // 4 % 4)
        asks.append(Ask(kind, TileCoord(corner.x + dx, corner.y + dy, corner.z)))
    return asks


def ask_all(base: str, asks: list[Ask]) -> list[Answer]:
    """Every request at once, one thread each, released together."""
    barrier = threading.Barrier(len(asks))
    answers: list[Answer] = []

    def client(ask: Ask) -> None:
        barrier.wait()
        started = time.monotonic()
        status, headers, body = fetch(base + ask.path)
        answers.append(Answer(ask, status, headers, body, time.monotonic() - started))

    threads = [threading.Thread(target=client, args=(a,)) for a in asks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def upstream_getmaps(upstream: MapServer) -> int:
    return sum(
        1
        for r in upstream.stats()["requests"]
        if r["params"].get("REQUEST") == "GetMap"
    )


def assert_real_tile(answer: Answer) -> None:
    assert answer.headers["Content-Type"] == "image/png"
    if answer.ask.kind != "wms":
        assert same_pixels(answer.body, answer.ask.coord)
        return
    got = Image.open(io.BytesIO(answer.body)).convert("RGB")
    bbox = WEBMERCATOR.tile_bbox(answer.ask.coord).as_tuple()
    assert (
        ImageChops.difference(got, render(bbox, (256, 256), "EPSG:3857")).getbbox()
        is None
    )


def assert_retry_later(
    status: int, headers: dict[str, str], body: bytes, ask: Ask
) -> None:
    assert status == 503
    assert int(headers["Retry-After"]) > 0
    assert_ogc_exception(body, headers, ask.exception)


@pytest.fixture(scope="module")
def upstream() -> Iterator[MapServer]:
    with MapServer() as server:
        yield server


def served(tmp_path: Path, upstream: MapServer, lock_timeout: float) -> Server:
    path = tmp_path / "mapproxy.yaml"
    conf = config(
        upstream.url, client_timeout=30, lock_timeout=lock_timeout, meta_size=META
    )
    path.write_text(yaml.safe_dump(conf))
    return start_gunicorn(path, workers=WORKERS, extra=GUNICORN)


@pytest.fixture(scope="module")
def gunicorn(
    tmp_path_factory: pytest.TempPathFactory, upstream: MapServer
) -> Iterator[Callable[[float], Server]]:
    """Gunicorn serving the config with a given lock timeout, started once for the module."""
    servers: dict[float, Server] = {}

    def server(lock_timeout: float) -> Server:
        if lock_timeout not in servers:
            directory = tmp_path_factory.mktemp("served")
            servers[lock_timeout] = served(directory, upstream, lock_timeout)
        return servers[lock_timeout]

    yield server
    for each in servers.values():
        stop(each.proc)


def corners(z: int) -> list[TileCoord]:
    """The top left tiles of distinct meta-tiles of level z, one per round (each test its own
    level, so that no test finds another's tiles in the cache)."""
    return [TileCoord(4 * (i % 4), 4 * (i // 4), z) for i in range(amount(1, 8))]


def test_a_stampede_makes_one_upstream_request_and_every_client_gets_the_tile(
    gunicorn: Callable[[float], Server], upstream: MapServer
) -> None:
    # The upstream answers well within the lock timeout: every waiter gets the tile.
    server = gunicorn(20)
    for corner in corners(4):
        upstream.reset()
        upstream.add_fault(delay=1.0)
        answers = ask_all(server.url, meta_tile_asks(corner, CLIENTS))
        assert Counter(a.status for a in answers) == {200: CLIENTS}
        assert upstream_getmaps(upstream) == 1
        for answer in answers:
            assert_real_tile(answer)


def test_waiters_past_the_lock_timeout_get_503_with_retry_after_never_500(
    gunicorn: Callable[[float], Server], upstream: MapServer
) -> None:
    lock_timeout, delay = 1.0, 3.0
    server = gunicorn(lock_timeout)
    for corner in corners(4):
        upstream.reset()
        upstream.add_fault(delay=delay)
        asks = meta_tile_asks(corner, CLIENTS)
        answers = ask_all(server.url, asks)
        statuses = Counter(a.status for a in answers)
        assert set(statuses) <= {200, 503}, statuses
        assert statuses[503] > 0  # the upstream took longer than the waits
        assert upstream_getmaps(upstream) == 1
        for answer in answers:
            if answer.status == 200:
                assert_real_tile(answer)
            else:
                assert_retry_later(
                    answer.status, answer.headers, answer.body, answer.ask
                )
        # Every wait is bounded: a request queued behind busy threads waits its lock
        # timeout once it is taken up, so the last answers come about when the tile does.
        assert max(a.seconds for a in answers) < delay + lock_timeout + 2.0
        # Retrying later works, from the cache.
        for ask in {a.ask.kind: a.ask for a in answers}.values():
            status, headers, body = fetch(server.url + ask.path)
            assert status == 200
            assert_real_tile(Answer(ask, status, headers, body, 0))
        assert upstream_getmaps(upstream) == 1


def test_a_stampede_on_a_failing_source_shares_its_failure_instead_of_retrying_in_turn(
    gunicorn: Callable[[float], Server], upstream: MapServer
) -> None:
    """Clients that waited for an attempt that failed get its 502 at once; without that, each
    waiter in turn asked the failing source again (93 upstream requests for 200 clients, clients
    still waiting after 30 s)."""
    server = gunicorn(20)
    for corner in corners(5):
        upstream.reset()
        upstream.add_fault("error", delay=0.3)
        answers = ask_all(server.url, meta_tile_asks(corner, CLIENTS))
        assert Counter(a.status for a in answers) == {502: CLIENTS}
        for answer in answers:
            assert_ogc_exception(answer.body, answer.headers, answer.ask.exception)
        # Some attempts, far fewer than clients: requests that gunicorn takes up after a failure
        # try again (measured 18 to 28).
        assert upstream_getmaps(upstream) <= CLIENTS // 4
        assert max(a.seconds for a in answers) < 10


# In-process, with the meta-tile's lock held by the test itself: exactly what a waiter does when
# its wait runs out.
LOCK_TIMEOUT = 0.8
HOLD = 2.5 * LOCK_TIMEOUT
KINDS = ("tms", "kml", "wmts", "wms")
COORD = TileCoord(5, 2, 3)


@contextmanager
def hold_lock(tileset: TileSet, coord: TileCoord, make_tile: bool) -> Iterator[None]:
    """Hold the lock of coord's meta-tile for HOLD seconds from now; after a moment (a waiter is
    waiting by then) make and store the meta-tile's tiles if asked to."""
    locked, done = threading.Event(), threading.Event()

    def holder() -> None:
        with tileset.locker.lock(tileset.lock_name(coord), 5.0) as acquired:
            assert acquired
            locked.set()
            if make_tile:
                time.sleep(LOCK_TIMEOUT / 2)
                for tile in render_meta_tile(
                    tileset.meta_grid.meta_tile(coord), tileset
                ):
                    tileset.cache.store(tile)
            done.wait(HOLD)

    thread = threading.Thread(target=holder)
    thread.start()
    locked.wait(5)
    try:
        yield
    finally:
        done.set()
        thread.join()


def cached_app(tmp_path: Path, upstream: MapServer) -> tuple[TilegateApp, TileSet]:
    app = make_app(
        tmp_path,
        config(
            upstream.url, client_timeout=30, lock_timeout=LOCK_TIMEOUT, meta_size=META
        ),
    )
    (tileset,) = app.state.caches["c"]
    return app, tileset


# what a waiter does after its wait is the same for every service: two of them suffice
@pytest.mark.parametrize("kind", ["wmts", "wms"])
def test_a_waiter_whose_wait_runs_out_takes_the_tile_that_arrived_meanwhile(
    tmp_path: Path, upstream: MapServer, kind: str
) -> None:
    upstream.reset()
    app, tileset = cached_app(tmp_path, upstream)
    ask = Ask(kind, COORD)
    with hold_lock(tileset, COORD, make_tile=True):
        started = time.monotonic()
        status, headers, body = get(app, *ask.path.partition("?")[::2])
        elapsed = time.monotonic() - started
    assert status == 200, body[:300]
    assert_real_tile(Answer(ask, status, headers, body, elapsed))
    # it waited its full lock timeout (the tile was not there when it came), not for the holder
    assert LOCK_TIMEOUT <= elapsed < HOLD
    assert upstream_getmaps(upstream) == 1  # the holder's


@pytest.mark.parametrize("kind", KINDS)
def test_a_waiter_whose_wait_runs_out_without_a_tile_gets_503_retry_after(
    tmp_path: Path, upstream: MapServer, kind: str
) -> None:
    upstream.reset()
    app, tileset = cached_app(tmp_path, upstream)
    ask = Ask(kind, COORD)
    with hold_lock(tileset, COORD, make_tile=False):
        started = time.monotonic()
        status, headers, body = get(app, *ask.path.partition("?")[::2])
        elapsed = time.monotonic() - started
    assert_retry_later(status, headers, body, ask)
    assert LOCK_TIMEOUT <= elapsed < HOLD
    assert upstream_getmaps(upstream) == 0
