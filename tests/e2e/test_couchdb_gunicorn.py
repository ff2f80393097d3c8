"""A couchdb cache under gunicorn: workers forked from a preloaded app share one CouchDB
(pouchdb-server) and make each missing tile once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from tests.couchdb_server import CouchServer, needs_pouchdb
from tests.e2e.conftest import fetch, start_gunicorn, stop
from tests.integration.one_cache import one_cache_conf
from tests.mapserver import MapServer

pytestmark = needs_pouchdb


def test_workers_make_a_tile_once_and_all_serve_it_from_couchdb(
    tmp_path: Path, upstream: MapServer
) -> None:
    upstream.reset()
    # Slow enough that the requests below all wait for the one that makes the tile.
    upstream.add_fault(delay=0.5, path="/service")
    with CouchServer(tmp_path / "couch") as couch:
        conf = one_cache_conf(upstream, {"type": "couchdb", "url": couch.url})
        config = tmp_path / "mapproxy.yaml"
        config.write_text(yaml.safe_dump(conf))
        # Preloaded: the caches are made before the fork, their connections after it.
        server = start_gunicorn(config, workers=3, extra=("--preload",))
        try:
            url = f"{server.url}/tms/1.0.0/osm/EPSG900913/1/1/1.png"
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda _: fetch(url), range(8)))
            again = [fetch(url) for _ in range(6)]
        finally:
            stop(server.proc)
        bodies = {body for status, _, body in answers + again if status == 200}
        assert [status for status, _, _ in answers + again] == [200] * 14
        assert len(bodies) == 1
        assert len(upstream.requests) == 1
        assert couch.doc_ids("osm_cache_epsg900913") == ["GLOBAL_MERCATOR-2-1-1"]
        assert (
            couch.attachment("osm_cache_epsg900913", "GLOBAL_MERCATOR-2-1-1") in bodies
        )
