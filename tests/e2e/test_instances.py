"""Several gunicorn instances on one cache, and each gunicorn worker class, under concurrent load."""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path

import pytest
import yaml

from domain.grid import TileCoord
from tests.e2e.conftest import Server, fetch, start_gunicorn, stop
from tests.e2e.test_tile_services import (
    assert_same_pixels,
    direct_render,
    upstream_getmaps,
    write_config,
)
from tests.mapserver import MapServer

# Pages a sync worker must answer alone: none of them may ask the server itself for anything.
_PAGES = (
    "/demo/",
    "/demo/?wmts_layer=osm&grid=GLOBAL_WEBMERCATOR",
    "/demo/?tms_layer=osm&grid=GLOBAL_MERCATOR",
    "/wmts/1.0.0/WMTSCapabilities.xml",
    "/service?REQUEST=GetCapabilities&SERVICE=WMTS",
    "/tms/1.0.0/",
)


def shared_config(directory: Path, upstream: MapServer) -> Path:
    """write_config's layer with meta-tile locks in their own (local) directory, as on NFS."""
    path = write_config(directory, upstream)
    conf = yaml.safe_load(path.read_text())
    conf["globals"]["cache"] = {
        "base_dir": str(directory / "shared_cache"),
        "tile_lock_dir": str(directory / "local_locks"),
    }
    path.write_text(yaml.safe_dump(conf))
    return path


def meta_tile_urls(base: str, z: int, corner: tuple[int, int], count: int) -> list[str]:
    """`count` requests over the 16 tiles of the 4x4 meta-tile whose top left tile is `corner`."""
    x0, y0 = corner
    return [
        f"{base}/wmts/osm/GLOBAL_WEBMERCATOR/{z:02d}/{x0 + i % 4}/{y0 + i // 4 % 4}.png"
        for i in range(count)
    ]


def fetch_all(urls: list[str]) -> list[int]:
    """Every URL at once, one thread each, released together."""
    barrier = threading.Barrier(len(urls))
    statuses: list[int] = []

    def client(url: str) -> None:
        barrier.wait()
        statuses.append(fetch(url)[0])

    threads = [threading.Thread(target=client, args=(u,)) for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def test_two_instances_on_one_cache_make_each_meta_tile_once(
    tmp_path: Path, upstream: MapServer
) -> None:
    config = shared_config(tmp_path, upstream)
    first = start_gunicorn(config, workers=2)
    try:
        second = start_gunicorn(config, workers=2)
        try:
            upstream.reset()
            urls = []
            for corner in ((8, 12), (12, 12)):
                for i, url in enumerate(meta_tile_urls("", 5, corner, 20)):
                    urls.append((first if i % 2 else second).url + url)
            assert fetch_all(urls) == [200] * 40
            getmaps = upstream_getmaps(upstream)
            assert len(getmaps) == 2
            assert getmaps[0]["BBOX"] != getmaps[1]["BBOX"]
            # Both instances now serve both meta-tiles' tiles from the one cache.
            _, _, data = fetch(f"{first.url}/wmts/osm/GLOBAL_WEBMERCATOR/05/14/13.png")
            assert len(upstream_getmaps(upstream)) == 2
            assert_same_pixels(data, direct_render(upstream, TileCoord(14, 13, 5)))
        finally:
            stop(second.proc)
    finally:
        stop(first.proc)
    assert list((tmp_path / "local_locks").iterdir())
    assert not (tmp_path / "shared_cache" / "tile_locks").exists()


@pytest.mark.parametrize(
    ("workers", "options"),
    [
        pytest.param(1, (), id="one-sync-worker"),
        pytest.param(2, ("--preload",), id="sync-preload"),
        pytest.param(
            2,
            ("--worker-class", "gthread", "--threads", "4"),
            id="gthread",
        ),
        pytest.param(2, ("--worker-class", "gevent"), id="gevent"),
        pytest.param(
            2,
            ("--worker-class", "gevent", "--preload"),
            id="gevent-preload",
        ),
    ],
)
def test_worker_class_serves_tiles_and_pages(
    tmp_path: Path, upstream: MapServer, workers: int, options: tuple[str, ...]
) -> None:
    server: Server = start_gunicorn(write_config(tmp_path, upstream), workers, options)
    try:
        upstream.reset()
        urls = meta_tile_urls(server.url, 6, (20, 24), 24)
        assert fetch_all(urls) == [200] * 24
        assert len(upstream_getmaps(upstream)) == 1
        _, _, data = fetch(urls[5])
        assert_same_pixels(data, direct_render(upstream, TileCoord(21, 25, 6)))
        for page in _PAGES:
            # A lone sync worker that asked itself for anything would hang here.
            with urllib.request.urlopen(server.url + page, timeout=5) as answer:
                assert answer.status == 200
    finally:
        stop(server.proc)
