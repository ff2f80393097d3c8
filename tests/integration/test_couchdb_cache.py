"""The CouchDB cache (`type: couchdb`) against a real CouchDB-compatible server (pouchdb-server),
the local map server and MapProxy 7."""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters import logs
from adapters.config import load_config
from adapters.couchdb_cache import CouchDBCache
from domain.errors import ConfigError
from domain.grid import TileCoord
from domain.tiles import get_tile
from entrypoints.bootstrap import bootstrap
from tests.couchdb_server import CouchServer, needs_pouchdb
from tests.e2e.conftest import free_port, run_command
from tests.integration.one_cache import one_cache_conf
from tests.integration.store_interop import mapproxy_md5s, tilegate_md5s
from tests.integration.test_app import get, make_app
from tests.integration.test_sqlite_caches import green_at_centre
from tests.mapproxy7 import mapproxy_seed, needs_mapproxy
from tests.mapserver import MapServer

pytestmark = needs_pouchdb
# TMS level 0 of GLOBAL_MERCATOR is grid level 1; row 1 counted from the south is the north.
TILE_URL = "/tms/1.0.0/osm/EPSG900913/0/0/1.png"
# MapProxy's database and document id for it: cache name and grid SRS, grid name and z-x-y.
DB = "osm_cache_epsg900913"
DOC = "GLOBAL_MERCATOR-1-0-1"
LEVELS_0_1 = [(0, 0, 0), (1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1)]


@pytest.fixture(scope="module")
def couch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CouchServer]:
    with CouchServer(tmp_path_factory.mktemp("couchdb")) as server:
        yield server


@pytest.fixture
def db_name(request: pytest.FixtureRequest) -> str:
    """A database of this test's own in the module's server."""
    return (
        "t" + hashlib.md5(request.node.name.encode(), usedforsecurity=False).hexdigest()
    )


def conf(server: MapServer, cache: dict[str, Any]) -> dict[str, Any]:
    return one_cache_conf(server, {"type": "couchdb", **cache})


def test_tile_is_a_document_with_its_image_attached_and_served_from_it(
    tmp_path: Path, map_server: MapServer, couch: CouchServer
) -> None:
    before = time.time()
    app = make_app(tmp_path, conf(map_server, {"url": couch.url}))
    status, headers, body = get(app, TILE_URL)
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert green_at_centre(body) > 128
    assert len(map_server.requests) == 1
    # The database is made on first store, named as MapProxy names it.
    assert couch.doc_ids(DB) == [DOC]
    doc = couch.get(f"/{DB}/{DOC}")
    assert before <= doc["timestamp"] <= time.time()
    assert set(doc) == {"_id", "_rev", "_attachments", "timestamp"}
    assert doc["_attachments"]["tile"]["content_type"] == "image/png"
    assert doc["_attachments"]["tile"]["length"] == len(body)
    assert couch.attachment(DB, DOC) == body
    status, again_headers, again = get(app, TILE_URL)
    assert (status, again) == (200, body)
    assert len(map_server.requests) == 1
    # Its age is the stored timestamp.
    assert parsedate_to_datetime(again_headers["Last-Modified"]).timestamp() == int(
        doc["timestamp"]
    )


def test_tile_metadata_templates_db_name_and_tile_id(
    tmp_path: Path, map_server: MapServer, couch: CouchServer, db_name: str
) -> None:
    cache = {
        "url": couch.url + "/",
        "db_name": db_name.upper(),
        # MapProxy 7 takes an id template that starts with the database's URL.
        "tile_id": "%(couch_url)s/t_%(grid_name)s_%(z)02d_%(x)s_%(y)d",
        "tile_metadata": {
            "mydata": "myvalue",
            "nested": {"a": "{{x}}"},
            "text": "col {{x}}",
            "tile_col": "{{x}}",
            "tile_row": "{{y}}",
            "tile_level": "{{z}}",
            "level": "{{level}}",
            "created_ts": "{{timestamp}}",
            "created": "{{utc_iso}}",
            "center": "{{wgs_tile_centroid}}",
            "native_center": "{{tile_centroid}}",
        },
    }
    app = make_app(tmp_path, conf(map_server, cache))
    status, _, body = get(app, TILE_URL)
    assert status == 200
    doc_id = "t_GLOBAL_MERCATOR_01_0_1"
    assert couch.doc_ids(db_name) == [doc_id]
    doc = couch.get(f"/{db_name}/{doc_id}")
    stored_at = doc.pop("created_ts")
    assert doc.pop("created") == datetime.fromtimestamp(stored_at, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    lon, lat = doc.pop("center")
    assert (lon, lat) == pytest.approx((-90, 66.51326), abs=1e-4)
    assert doc.pop("native_center") == pytest.approx(
        [-10018754.171394622, 10018754.171394622]
    )
    doc.pop("_rev")
    doc.pop("_attachments")
    # Only whole template values are replaced; no `timestamp` key besides created_ts.
    assert doc == {
        "_id": doc_id,
        "mydata": "myvalue",
        "nested": {"a": "{{x}}"},
        "text": "col {{x}}",
        "tile_col": 0,
        "tile_row": 1,
        "tile_level": 1,
        "level": 1,
    }
    assert couch.attachment(db_name, doc_id) == body
    # Served from the document, its age from created_ts.
    status, headers, again = get(app, TILE_URL)
    assert (status, again) == (200, body)
    assert len(map_server.requests) == 1
    assert parsedate_to_datetime(headers["Last-Modified"]).timestamp() == int(stored_at)


def test_the_time_of_storing_replaces_a_plain_timestamp_value(
    tmp_path: Path, map_server: MapServer, couch: CouchServer, db_name: str
) -> None:
    cache = {"url": couch.url, "db_name": db_name, "tile_metadata": {"timestamp": 5}}
    app = make_app(tmp_path, conf(map_server, cache))
    before = time.time()
    assert get(app, TILE_URL)[0] == 200
    assert before <= couch.get(f"/{db_name}/{DOC}")["timestamp"] <= time.time()


def test_wmts_tile_and_an_existing_document_replaced_on_refresh(
    tmp_path: Path, map_server: MapServer, couch: CouchServer, db_name: str
) -> None:
    app_conf = conf(map_server, {"url": couch.url, "db_name": db_name})
    app_conf["services"] = {"wmts": None}
    app_conf["caches"]["osm_cache"]["refresh_before"] = {"minutes": 1}
    app = make_app(tmp_path, app_conf)
    path = "/wmts/osm/GLOBAL_MERCATOR/1/0/0.png"  # row 0 from the north: grid row 1
    status, _, body = get(app, path)
    assert status == 200
    first = couch.get(f"/{db_name}/{DOC}")
    # Stored two minutes ago as far as the document says: too old, made and stored again.
    old = {**first, "timestamp": time.time() - 120}
    old["_attachments"]["tile"] = {
        "content_type": "image/png",
        "data": base64.b64encode(b"stale").decode(),
    }
    assert couch.request("PUT", f"/{db_name}/{DOC}", old)[0] == 201
    status, _, again = get(app, path)
    assert (status, again) == (200, body)
    assert len(map_server.requests) == 2
    doc = couch.get(f"/{db_name}/{DOC}")
    assert doc["_rev"].startswith("3-")
    assert doc["timestamp"] > old["timestamp"] + 100
    assert couch.attachment(db_name, DOC) == body


def test_grids_sharing_a_database_list_only_their_own_tiles(
    tmp_path: Path, map_server: MapServer, couch: CouchServer, db_name: str
) -> None:
    app_conf = conf(
        map_server,
        {
            "url": couch.url,
            "db_name": db_name,
            "tile_id": "%(couch_url)s/t_%(grid_name)s_%(z)02d_%(x)s_%(y)d",
        },
    )
    app_conf["caches"]["osm_cache"]["grids"] = ["GLOBAL_MERCATOR", "GLOBAL_WEBMERCATOR"]
    config = tmp_path / "mapproxy.yaml"
    config.write_text(yaml.safe_dump(app_conf))
    state = bootstrap(load_config(config), config)
    merc, webmerc = state.caches["osm_cache"]
    assert isinstance(merc.cache, CouchDBCache)
    assert isinstance(webmerc.cache, CouchDBCache)
    for z, x, y in LEVELS_0_1[:3]:
        get_tile(TileCoord(x, y, z), merc)
    get_tile(TileCoord(0, 0, 0), webmerc)
    # A document that is no tile of either (a design document, say) is passed over.
    assert couch.request("PUT", f"/{db_name}/_design/x", {"views": {}})[0] == 201
    assert sorted(couch.doc_ids(db_name)) == [
        "_design/x",
        "t_GLOBAL_MERCATOR_00_0_0",
        "t_GLOBAL_MERCATOR_01_0_0",
        "t_GLOBAL_MERCATOR_01_0_1",
        "t_GLOBAL_WEBMERCATOR_00_0_0",
    ]

    def listed(cache: CouchDBCache, levels: list[int]) -> list[tuple[int, int, int]]:
        return sorted(
            (t.coord.z, t.coord.x, t.coord.y) for t in cache.stored_tiles(levels)
        )

    assert listed(merc.cache, [0, 1]) == LEVELS_0_1[:3]
    # Page by page: the same tiles, each once.
    merc.cache.page = 2
    assert listed(merc.cache, [0, 1]) == LEVELS_0_1[:3]
    merc.cache.page = 1
    assert listed(merc.cache, [0, 1]) == LEVELS_0_1[:3]
    assert listed(merc.cache, [1]) == LEVELS_0_1[1:3]
    assert listed(webmerc.cache, [0, 1]) == [(0, 0, 0)]
    assert webmerc.cache.remove(TileCoord(0, 0, 0)) is True
    assert webmerc.cache.remove(TileCoord(0, 0, 0)) is False
    assert listed(webmerc.cache, [0, 1]) == []
    assert len(couch.doc_ids(db_name)) == 4


def test_seeding_and_cleanup_by_the_stored_timestamps(
    tmp_path: Path, couch: CouchServer, db_name: str, map_server: MapServer
) -> None:
    config = tmp_path / "mapproxy.yaml"
    config.write_text(
        yaml.safe_dump(conf(map_server, {"url": couch.url, "db_name": db_name}))
    )
    (tmp_path / "seed.yaml").write_text(
        "seeds: {s: {caches: [osm_cache], levels: {to: 1}},"
        " r: {caches: [osm_cache], levels: {to: 1}, refresh_before: {minutes: 1}}}\n"
        "cleanups: {c: {caches: [osm_cache], levels: {from: 1},"
        " remove_before: {minutes: 1}}}\n"
    )
    ids = [f"GLOBAL_MERCATOR-{z}-{x}-{y}" for z, x, y in LEVELS_0_1]
    seed(tmp_path, "--seed", "s")
    assert sorted(couch.doc_ids(db_name)) == ids
    assert len(map_server.requests) == 5
    # Two tiles of level 1 stored long ago (by their documents): refreshed, the rest kept.
    for doc_id in ids[1:3]:
        age(couch, db_name, doc_id, 3600)
    seed(tmp_path, "--seed", "r")
    assert len(map_server.requests) == 7
    # Now one old tile of level 0 and one of level 1: the cleanup takes level 1's.
    age(couch, db_name, ids[0], 3600)
    age(couch, db_name, ids[4], 3600)
    result = seed(tmp_path, "--cleanup", "c")
    assert "removed 1 tiles" in result.stdout
    assert sorted(couch.doc_ids(db_name)) == ids[:4]


def age(couch: CouchServer, db: str, doc_id: str, seconds: float) -> None:
    doc = couch.get(f"/{db}/{doc_id}")
    doc["timestamp"] -= seconds
    assert couch.request("PUT", f"/{db}/{doc_id}", doc)[0] == 201


def seed(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_command(
        root, "mapproxy-seed", "-f", "mapproxy.yaml", "-s", "seed.yaml", *args
    )
    assert result.returncode == 0, result.stderr
    return result


def test_database_down_is_a_quick_ogc_error_without_credentials(
    tmp_path: Path, map_server: MapServer, caplog: pytest.LogCaptureFixture
) -> None:
    logs.configure()
    # Nothing listens on this port.
    url = f"http://tiles:s3cret-pw@127.0.0.1:{free_port()}"
    with caplog.at_level(logging.DEBUG, logger="mapproxy"):
        app = make_app(tmp_path, conf(map_server, {"url": url}))
        started = time.monotonic()
        status, headers, body = get(app, TILE_URL)
        assert time.monotonic() - started < 2
    assert (status, headers["Content-Type"]) == (502, "application/xml")
    assert b"<TileMapServerError>" in body
    # The URL only in the log (http.hide_error_details), there without the password.
    assert b"CouchDB cache: cannot connect to [source]" in body
    log = caplog.text
    assert "cannot connect to http://127.0.0.1:" in log
    assert "s3cret" not in log
    assert b"s3cret" not in body
    assert map_server.requests == []


def test_cleanup_of_a_database_that_is_down_is_an_error_line(
    tmp_path: Path, map_server: MapServer
) -> None:
    url = f"http://tiles:s3cret-pw@127.0.0.1:{free_port()}"
    (tmp_path / "mapproxy.yaml").write_text(
        yaml.safe_dump(conf(map_server, {"url": url}))
    )
    (tmp_path / "seed.yaml").write_text(
        "cleanups: {c: {caches: [osm_cache], levels: {to: 1}, remove_all: true}}\n"
    )
    result = run_command(
        tmp_path, "mapproxy-seed", "-f", "mapproxy.yaml", "-s", "seed.yaml"
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "mapproxy-seed: error: cannot write tiles: tiles not listed: CouchDB cache: cannot"
        f" connect to {url.replace('tiles:s3cret-pw@', '')}/{DB}/_all_docs"
    )
    assert "s3cret" not in result.stdout + result.stderr


def test_database_that_does_not_answer_is_a_504_in_bounded_time(
    tmp_path: Path, map_server: MapServer
) -> None:
    # A socket that takes connections but never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        app = make_app(tmp_path, conf(map_server, {"url": url}))
        started = time.monotonic()
        status, _, body = get(app, TILE_URL)
        took = time.monotonic() - started
    assert status == 504
    assert b"did not answer within 5 s" in body
    assert 4.5 < took < 8
    assert map_server.requests == []


def test_basic_auth_from_the_url(tmp_path: Path, map_server: MapServer) -> None:
    with CouchServer(tmp_path / "auth") as couch:
        couch.add_admin("tiles", "s3cret-pw")
        host = couch.url.removeprefix("http://")
        good = make_app(
            tmp_path, conf(map_server, {"url": f"http://tiles:s3cret-pw@{host}"})
        )
        status, _, body = get(good, TILE_URL)
        assert status == 200
        assert couch.attachment(DB, DOC) == body
        # The wrong password: CouchDB says no, and the answer says so, without it.
        bad = make_app(
            tmp_path, conf(map_server, {"url": f"http://tiles:wrong-pw@{host}"})
        )
        status, _, body = get(bad, TILE_URL)
        assert status == 502
        assert b"answered 401" in body
        assert b"wrong-pw" not in body


@pytest.mark.parametrize(
    ("cache", "problem"),
    [
        (
            {"tile_metadata": {"r": "{{row}}"}},
            "unknown tile_metadata value '{{row}}' of 'r', expected one of {{x}}, {{y}},"
            " {{z}}, {{level}}, {{timestamp}}, {{utc_iso}}, {{tile_centroid}},"
            " {{wgs_tile_centroid}} (or a plain value) @ $.caches['c'].cache",
        ),
        (
            {"tile_metadata": {"_id": "x"}},
            "tile_metadata key '_id' starts with '_', which CouchDB keeps for itself"
            " @ $.caches['c'].cache",
        ),
        (
            {"tile_metadata": ["x"]},
            "expected a mapping @ $.caches['c'].cache.tile_metadata",
        ),
        (
            {"tile_id": "%(grid_name)s-%(level)d-%(x)d-%(y)d"},
            "tile_id may use %(x)d, %(y)d, %(z)d and %(grid_name)s, not %(level)"
            " (in '%(grid_name)s-%(level)d-%(x)d-%(y)d') @ $.caches['c'].cache",
        ),
        (
            {"tile_id": "%(z)d-%(x)d"},
            "tile_id needs %(x)d, %(y)d and %(z)d to tell tiles apart, got"
            " '%(z)d-%(x)d' @ $.caches['c'].cache",
        ),
        (
            {"tile_id": "%(z)d/%(x)d/%(y)d"},
            "tile_id must not hold '/' nor start with '_' (CouchDB ids), got"
            " '%(z)d/%(x)d/%(y)d' @ $.caches['c'].cache",
        ),
        (
            {"tile_id": "_%(z)d-%(x)d-%(y)d"},
            "tile_id must not hold '/' nor start with '_' (CouchDB ids), got"
            " '_%(z)d-%(x)d-%(y)d' @ $.caches['c'].cache",
        ),
        (
            {"tile_id": "%(z)d-%(x)x-%(y)d"},
            "tile_id formats %(x) as a whole number (d, i, u or s), got 'x' in"
            " '%(z)d-%(x)x-%(y)d' @ $.caches['c'].cache",
        ),
        (
            {"tile_id": "%(z)d-%(x)d-%(y)d-%s"},
            "tile_id takes only named fields such as %(z)d, got '%(z)d-%(x)d-%(y)d-%s'"
            " @ $.caches['c'].cache",
        ),
        (
            {"db_name": "1tiles"},
            "db_name must start with a letter and hold only letters, digits and _$()+-/,"
            " got '1tiles' @ $.caches['c'].cache",
        ),
        (
            {"url": "ftp://user:pw@host"},
            "url must be an http:// or https:// URL @ $.caches['c'].cache",
        ),
        (
            {"url": 5984},
            "url must be an http:// or https:// URL @ $.caches['c'].cache",
        ),
    ],
)
def test_bad_couchdb_options_name_their_key(
    tmp_path: Path, cache: dict[str, Any], problem: str
) -> None:
    (tmp_path / "mapproxy.yaml").write_text(
        yaml.safe_dump(
            {
                "sources": {"s": {"type": "debug"}},
                "caches": {
                    "c": {"sources": ["s"], "cache": {"type": "couchdb", **cache}}
                },
            }
        )
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "mapproxy.yaml")
    assert info.value.problems == [problem]


@needs_mapproxy
def test_mapproxy_and_tilegate_read_each_others_documents(
    tmp_path: Path, map_server: MapServer, couch: CouchServer, db_name: str
) -> None:
    config = tmp_path / "mapproxy.yaml"
    metadata = {"created": "{{utc_iso}}", "z": "{{z}}"}
    caches: dict[str, dict[str, Any]] = {
        # MapProxy fills this one, Tilegate the other, each in its own database.
        "by_mapproxy": {"url": couch.url, "db_name": f"{db_name}_mp"},
        "by_tilegate": {
            "url": couch.url,
            "db_name": f"{db_name}_tg",
            "tile_metadata": metadata,
        },
    }
    app_conf = conf(map_server, {})
    app_conf["layers"] = [{"name": n, "title": n, "sources": [n]} for n in caches]
    app_conf["caches"] = {
        name: {
            "sources": ["wms"],
            "meta_size": [1, 1],
            "meta_buffer": 0,
            "cache": {"type": "couchdb", **cache},
        }
        for name, cache in caches.items()
    }
    config.write_text(yaml.safe_dump(app_conf))
    mapproxy_seed(config, "seeds: {s: {caches: [by_mapproxy], levels: {to: 1}}}\n")
    ids = sorted(f"GLOBAL_MERCATOR-{z}-{x}-{y}" for z, x, y in LEVELS_0_1)
    assert sorted(couch.doc_ids(f"{db_name}_mp")) == ids
    seeded = len(map_server.requests)
    # Tilegate serves MapProxy's documents as they are, without asking the source.
    app = make_app(tmp_path, app_conf)
    status, _, body = get(app, "/tms/1.0.0/by_mapproxy/EPSG900913/0/0/1.png")
    assert (status, body) == (200, couch.attachment(f"{db_name}_mp", DOC))
    assert len(map_server.requests) == seeded
    # ...and lists them for cleanups, with MapProxy's timestamps.
    state = bootstrap(load_config(config), config)
    (mp_tiles,) = state.caches["by_mapproxy"]
    assert isinstance(mp_tiles.cache, CouchDBCache)
    listed = {
        (t.coord.z, t.coord.x, t.coord.y): t.mtime
        for t in mp_tiles.cache.stored_tiles([0, 1])
    }
    assert sorted(listed) == LEVELS_0_1
    assert listed[(1, 0, 1)] == couch.get(f"/{db_name}_mp/{DOC}")["timestamp"]
    # Tilegate's documents: the same ids, and MapProxy loads the same bytes from them.
    (tiles,) = state.caches["by_tilegate"]
    made = tilegate_md5s(tiles, "by_tilegate")
    assert sorted(couch.doc_ids(f"{db_name}_tg")) == ids
    assert mapproxy_md5s(config, "by_tilegate") == made
