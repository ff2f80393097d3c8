"""Bounded resources: crafted worst-case requests against a real gunicorn worker, whose peak
memory (VmHWM, reset before each request) and CPU time (utime + stime) are read from /proc; and
a load run after which the worker's RSS and open file descriptors have not grown.

Defaults as MapProxy's (max_output_pixels 4000x4000, max_tile_limit 500, meta-tiles of 4x4
tiles with an 80 pixel buffer), a cache and a direct WMS source in front of a real map server.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from entrypoints.app import MAX_QUERY_BYTES
from tests.mapserver import MapServer
from tests.reliability.conftest import amount
from tests.reliability.target import (
    attack_config,
    cpu_seconds,
    fd_count,
    get_request,
    raw_request,
    status_kb,
    worker_pids,
)
from tests.reliability.test_fuzz import in_process
from tests.reliability.tile_caches import Gunicorn

MAX_ADDED_MB = 200
MAX_CPU_SECONDS = 2.0
WORLD = "-20037508,-20037508,20037508,20037508"
# A map whose level needs 441 tiles (max_tile_limit is 500): the largest mosaic there is.
MOST_TILES = "0,0,13200000,13200000"
GETMAP = "/service?SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&SRS=EPSG:3857&STYLES=&FORMAT=image/png"


def getmap(layers: str, bbox: str, size: str = "4000", extra: str = "") -> str:
    return f"{GETMAP}&LAYERS={layers}&BBOX={bbox}&WIDTH={size}&HEIGHT={size}{extra}"


# (what, request, status): each the worst of its kind that defaults allow, or just past a bound.
CRAFTED = [
    (
        "exception image, 100000x100000",
        getmap("nope", WORLD, "100000", "&EXCEPTIONS=application/vnd.ogc.se_inimage"),
        400,
    ),
    (
        "blank exception, 100000x100000",
        getmap("nope", WORLD, "100000", "&EXCEPTIONS=application/vnd.ogc.se_blank"),
        400,
    ),
    ("map of 4000x4001", getmap("osm", WORLD, "4001"), 400),
    ("direct map 4000x4000", getmap("direct", WORLD), 200),
    (
        "cached map 4000x4000, tiles made",
        getmap("osm", WORLD, extra="&TRANSPARENT=TRUE"),
        200,
    ),
    ("cached map of 441 tiles, tiles made", getmap("osm", MOST_TILES), 200),
    (
        "two layers of 4000x4000 over 441 tiles",
        getmap("direct,osm", MOST_TILES, extra="&TRANSPARENT=TRUE"),
        200,
    ),
    ("three cached layers of 4000x4000", getmap("osm,osm,osm", WORLD), 200),
    ("four layers of 4000x4000", getmap("osm,osm,osm,osm", WORLD), 400),
    ("101 layers", getmap(",".join(["direct"] * 101), WORLD, "16"), 400),
    ("more tiles than max_tile_limit", getmap("osm", "0,0,14500000,14500000"), 400),
    (
        "feature info of a 4000x4000 map",
        "/service?SERVICE=WMS&REQUEST=GetFeatureInfo&VERSION=1.1.1&SRS=EPSG:3857&STYLES="
        f"&LAYERS=direct&QUERY_LAYERS=direct&BBOX={WORLD}&WIDTH=4000&HEIGHT=4000&X=3999"
        "&Y=3999&INFO_FORMAT=text/plain&FEATURE_COUNT=2147483647",
        200,
    ),
    ("KML of the deepest level", "/kml/osm/EPSG3857/19/0/0.kml", 200),
    ("tile below the deepest level", "/tiles/osm/EPSG3857/99/0/0.png", 404),
    ("WMTS capabilities", "/wmts/1.0.0/WMTSCapabilities.xml", 200),
    ("a 60 kB query string", f"{GETMAP}&LAYERS={'x' * 60_000}", 400),
]


@pytest.fixture(scope="module")
def upstream() -> Iterator[MapServer]:
    with MapServer() as server:
        yield server


@pytest.fixture(scope="module")
def worker(
    tmp_path_factory: pytest.TempPathFactory, upstream: MapServer
) -> Iterator[tuple[int, int]]:
    """One sync worker (the port and its pid), warmed up by a request of each kind."""
    config = attack_config(tmp_path_factory.mktemp("bounded"), upstream.url, False)
    server = Gunicorn(
        config,
        workers=1,
        # Headers past gunicorn's default size limit: the 60 kB query is the app's to refuse.
        extra=("--timeout", "60", "--limit-request-line", "0"),
    )
    try:
        port = int(server.url.rsplit(":", 1)[1])
        [pid] = worker_pids(server.proc.pid, 1)
        for target in (getmap("osm", "0,0,100000,100000", "256"), "/demo/"):
            raw_request(port, get_request(target))
        yield port, pid
    finally:
        server.close()


@pytest.mark.parametrize(
    ("what", "target", "status"), CRAFTED, ids=[c[0] for c in CRAFTED]
)
def test_a_crafted_request_stays_within_its_memory_and_cpu(
    what: str, target: str, status: int, worker: tuple[int, int]
) -> None:
    port, pid = worker
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM starts again from VmRSS
    rss, cpu = status_kb(pid, "VmRSS"), cpu_seconds(pid)
    answer = raw_request(port, get_request(target), timeout=60)
    added_mb = (status_kb(pid, "VmHWM") - rss) / 1024
    used = cpu_seconds(pid) - cpu
    print(f"\n{what}: {answer.status}, peak +{added_mb:.0f} MB, {used:.2f} s CPU")
    assert answer.status == status, answer.body[:300]
    assert added_mb < MAX_ADDED_MB
    assert used < MAX_CPU_SECONDS
    if "exception" in what:
        assert (
            len(answer.body) < 100_000
        )  # an image of the fallback size, not the asked one


def test_a_megabyte_request_line_is_refused_at_once(worker: tuple[int, int]) -> None:
    """Even with gunicorn's line limit off (as the worker here runs), the app answers 414."""
    port, pid = worker
    cpu = cpu_seconds(pid)
    started = time.monotonic()
    answer = raw_request(port, get_request(f"{GETMAP}&LAYERS={'x' * 1_000_000}"))
    assert answer.status == 414
    assert time.monotonic() - started < 1
    assert cpu_seconds(pid) - cpu < 0.5


def test_the_app_refuses_a_long_query_string_itself(tmp_path: Path) -> None:
    """For servers without a request line limit (mod_wsgi, custom ones)."""
    from entrypoints.wsgiapp import make_wsgi_app

    app = make_wsgi_app(attack_config(tmp_path, "http://127.0.0.1:9"))
    status, headers, _ = in_process(app, f"/service?a={'x' * MAX_QUERY_BYTES}")
    assert status == 414
    assert headers["x-content-type-options"] == "nosniff"
    assert in_process(app, "/service?" + "a&" * 1000)[0] == 400


def test_gunicorn_with_its_defaults_refuses_a_megabyte_request_line(
    tmp_path: Path, upstream: MapServer
) -> None:
    server = Gunicorn(attack_config(tmp_path, upstream.url), workers=1)
    try:
        port = int(server.url.rsplit(":", 1)[1])
        started = time.monotonic()
        answer = raw_request(port, get_request(f"{GETMAP}&LAYERS={'x' * 1_000_000}"))
        assert answer.status in (400, 414)
        assert time.monotonic() - started < 1
    finally:
        server.close()


def load_targets(rng: random.Random) -> str:
    """A request of the mix a map client sends: tiles, small maps, capabilities, errors."""
    z = rng.randint(1, 5)
    x, y = rng.randrange(2**z), rng.randrange(2**z)
    minx = rng.uniform(-2e7, 1.9e7)
    return rng.choice(
        [
            f"/tiles/osm/EPSG3857/{z}/{x}/{y}.png",
            f"/wmts/osm/GLOBAL_WEBMERCATOR/{z:02d}/{x}/{y}.png",
            f"/kml/osm/EPSG3857/{z}/{x}/{y}.kml",
            getmap("osm", f"{minx},{minx},{minx + 1e6},{minx + 1e6}", "512"),
            getmap("direct", f"{minx},0,{minx + 1e6},1e6", "300"),
            "/service?SERVICE=WMS&REQUEST=GetCapabilities",
            f"/tiles/osm/EPSG3857/{z + 30}/{x}/{y}.png",
            getmap("nope", WORLD, "256", "&EXCEPTIONS=application/vnd.ogc.se_inimage"),
        ]
    )


def test_worker_memory_and_descriptors_stay_flat_under_load(
    tmp_path: Path, upstream: MapServer
) -> None:
    server = Gunicorn(attack_config(tmp_path, upstream.url, False), workers=1)
    try:
        port = int(server.url.rsplit(":", 1)[1])
        [pid] = worker_pids(server.proc.pid, 1)
        statuses: Counter[int] = Counter()
        lock = threading.Lock()

        def run(seconds: float, seed: int) -> None:
            rng = random.Random(seed)  # noqa: S311 - a repeatable load, no secret
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                answer = raw_request(port, get_request(load_targets(rng)))
                with lock:
                    statuses[answer.status] += 1

        def load(seconds: float, seed: int) -> None:
            threads = [
                threading.Thread(target=run, args=(seconds, seed + i)) for i in range(4)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        load(
            amount(3, 20), 1
        )  # warm up: caches, connection pools, lazily imported modules
        rss, fds = status_kb(pid, "VmRSS"), fd_count(pid)
        load(amount(10, 300), 2)
        rss_after, fds_after = status_kb(pid, "VmRSS"), fd_count(pid)
        print(
            f"\nload: {sum(statuses.values())} requests {dict(statuses)}; worker RSS"
            f" {rss / 1024:.0f} -> {rss_after / 1024:.0f} MB, fds {fds} -> {fds_after}"
        )
        assert 500 not in statuses
        assert rss_after - rss < 20 * 1024
        assert fds_after <= fds + 2
    finally:
        server.close()
