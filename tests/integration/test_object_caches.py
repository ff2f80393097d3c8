"""The object store caches (`type: s3`, `type: azureblob`) against real servers: moto's S3,
which checks every request's Signature V4, and Azurite, which checks Shared Key signatures."""

from __future__ import annotations

import datetime
import socket
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.blob_cache import BlobCache
from adapters.config import parse_config
from adapters.object_store import Transport
from adapters.s3_store import S3Store
from domain.errors import ConfigError, SourceTimeoutError, StoreError
from domain.formats import PNG
from domain.grid import TileCoord
from domain.ports import EncodedTile
from entrypoints.bootstrap import bootstrap
from tests import object_servers
from tests.e2e.conftest import free_port
from tests.integration.one_cache import one_cache_conf
from tests.integration.test_app import get, make_app
from tests.integration.test_sqlite_caches import green_at_centre
from tests.mapserver import MapServer
from tests.object_servers import Backend

# TMS level 0 of GLOBAL_MERCATOR is grid level 1; row 1 counted from the south is the north.
TILE_URL = "/tms/1.0.0/osm/EPSG900913/0/0/1.png"
# MapProxy's key: `<cache>/<grid name>/` and the `tms` layout, z/x/y.
TILE_KEY = "osm_cache/GLOBAL_MERCATOR/1/0/1.png"
# One server of each kind per module, a new bucket or container per test.
moto = pytest.fixture(scope="module")(object_servers.moto)
azurite = pytest.fixture(scope="module")(object_servers.azurite)
backend = pytest.fixture(params=["s3", "azureblob"])(object_servers.backend)


def test_tile_is_stored_under_mapproxys_key_and_served_from_the_store(
    tmp_path: Path, map_server: MapServer, backend: Backend
) -> None:
    app = make_app(tmp_path, one_cache_conf(map_server, backend.cache))
    status, headers, body = get(app, TILE_URL)
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert green_at_centre(body) > 128
    assert backend.object_keys() == [TILE_KEY]
    stored = backend.objects.get(TILE_KEY)
    assert stored is not None
    assert stored.data == body
    # A new app (another worker) serves it from the store, with the object's time.
    again = make_app(tmp_path, one_cache_conf(map_server, backend.cache))
    status, again_headers, again_body = get(again, TILE_URL)
    assert (status, again_body) == (200, body)
    assert len(map_server.requests) == 1
    modified = parsedate_to_datetime(again_headers["Last-Modified"]).timestamp()
    assert modified == stored.mtime


def test_wmts_tiles_in_a_directory_with_another_layout_and_format(
    tmp_path: Path, map_server: MapServer, backend: Backend
) -> None:
    conf = one_cache_conf(
        map_server, {**backend.cache, "directory": "/a/b/", "directory_layout": "tc"}
    )
    conf["services"]["wmts"] = None
    conf["caches"]["osm_cache"] |= {
        "grids": ["GLOBAL_WEBMERCATOR"],
        "format": "image/jpeg",
    }
    app = make_app(tmp_path, conf)
    status, headers, body = get(app, "/wmts/osm/GLOBAL_WEBMERCATOR/1/1/0.jpeg")
    assert (status, headers["Content-Type"]) == (200, "image/jpeg")
    # A leading and trailing slash of `directory` are dropped, as MapProxy drops them.
    key = "a/b/01/000/000/001/000/000/000.jpeg"
    assert backend.object_keys() == [key]
    answer = backend.objects._request("GET", key)  # type: ignore[attr-defined]
    assert (answer.data, answer.headers["content-type"]) == (body, "image/jpeg")
    assert get(app, "/wmts/osm/GLOBAL_WEBMERCATOR/1/1/0.jpeg")[2] == body
    assert len(map_server.requests) == 1


def test_stale_tiles_are_made_again_with_refresh_before(
    tmp_path: Path, map_server: MapServer, backend: Backend
) -> None:
    conf = one_cache_conf(map_server, backend.cache)
    assert get(make_app(tmp_path, conf), TILE_URL)[0] == 200
    first = backend.objects.get(TILE_KEY)
    assert first is not None
    # Objects keep whole seconds: refresh what was stored before the next whole second.
    moment = int(time.time()) + 1
    time.sleep(moment - time.time() + 0.05)
    conf["caches"]["osm_cache"]["refresh_before"] = {
        "time": datetime.datetime.fromtimestamp(moment).isoformat()
    }
    app = make_app(tmp_path, conf)
    assert get(app, TILE_URL)[0] == 200
    assert len(map_server.requests) == 2
    second = backend.objects.get(TILE_KEY)
    assert second is not None
    assert second.mtime >= moment > first.mtime
    # The new tile is fresh: served from the store.
    assert get(app, TILE_URL)[0] == 200
    assert len(map_server.requests) == 2


def test_unreachable_store_is_a_quick_ogc_error(
    tmp_path: Path, map_server: MapServer, backend: Backend
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    cache = dict(backend.cache)
    if backend.kind == "s3":
        cache["endpoint_url"] = nobody
    else:
        cache["connection_string"] = cache["connection_string"].replace(
            cache["connection_string"].split("BlobEndpoint=")[1],
            f"{nobody}/devstoreaccount1",
        )
    app = make_app(tmp_path, one_cache_conf(map_server, cache))
    started = time.monotonic()
    status, headers, body = get(app, TILE_URL)
    assert (status, headers["Content-Type"]) == (502, "application/xml")
    assert b"<TileMapServerError>" in body
    assert b"cannot connect" in body
    assert time.monotonic() - started < 5
    # The source is not asked for tiles the store may well hold.
    assert map_server.requests == []


@pytest.mark.parametrize(
    ("cache", "problem"),
    [
        (
            {"type": "s3"},
            "bucket_name missing (here or in globals.cache.s3)"
            " @ $.caches['osm_cache'].cache.bucket_name",
        ),
        (
            {"type": "s3", "bucket_name": "b", "endpoint_url": "ftp://x"},
            "endpoint_url must be an http(s) URL, got 'ftp://x'"
            " @ $.caches['osm_cache'].cache.endpoint_url",
        ),
        (
            {"type": "azureblob", "connection_string": "AccountName=a;AccountKey=a2V5"},
            "container_name missing (here or in globals.cache.azureblob)"
            " @ $.caches['osm_cache'].cache.container_name",
        ),
        (
            {"type": "azureblob", "container_name": "c"},
            "connection_string missing (here, in globals.cache.azureblob or in"
            " AZURE_STORAGE_CONNECTION_STRING) @ $.caches['osm_cache'].cache.connection_string",
        ),
        (
            {
                "type": "azureblob",
                "container_name": "c",
                "connection_string": "AccountName=a;AccountKey=sec ret!",
            },
            "connection_string AccountKey is not base64"
            " @ $.caches['osm_cache'].cache.connection_string",
        ),
        (
            {
                "type": "azureblob",
                "container_name": "c",
                "connection_string": "DefaultEndpointsProtocol=https;AccountName=a",
            },
            "connection_string needs AccountName and AccountKey, or SharedAccessSignature"
            " @ $.caches['osm_cache'].cache.connection_string",
        ),
    ],
)
def test_unusable_store_keys_are_errors_naming_the_key(
    tmp_path: Path,
    map_server: MapServer,
    monkeypatch: pytest.MonkeyPatch,
    cache: dict[str, Any],
    problem: str,
) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    with pytest.raises(ConfigError) as info:
        make_app(tmp_path, one_cache_conf(map_server, cache))
    assert info.value.problems == [problem]


@pytest.mark.parametrize(
    ("cache", "problem"),
    [
        (
            {"type": "s3", "bucket_name": "b", "directory": "d"},
            "one directory cannot hold several grids (include_grid_name keeps them apart)"
            " @ $.caches['osm_cache'].cache.directory",
        ),
        (
            {"type": "azureblob", "container_name": "c", "directory": "d"},
            "one directory cannot hold several grids"
            " @ $.caches['osm_cache'].cache.directory",
        ),
    ],
)
def test_a_directory_of_several_grids_is_an_error(
    tmp_path: Path,
    map_server: MapServer,
    monkeypatch: pytest.MonkeyPatch,
    cache: dict[str, Any],
    problem: str,
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true")
    conf = one_cache_conf(map_server, cache)
    conf["caches"]["osm_cache"]["grids"] = ["GLOBAL_MERCATOR", "GLOBAL_WEBMERCATOR"]
    with pytest.raises(ConfigError) as info:
        make_app(tmp_path, conf)
    assert info.value.problems == [problem]
    # With the grid's name below the directory, each grid has keys of its own.
    if cache["type"] == "s3":
        conf["caches"]["osm_cache"]["cache"]["include_grid_name"] = True
        state = bootstrap(
            parse_config(conf, str(tmp_path / "m.yaml")), None, base_dir=tmp_path
        )
        keys = {ts.cache.key(TileCoord(0, 0, 0)) for ts in state.caches["osm_cache"]}  # type: ignore[attr-defined]
        assert keys == {"d/GLOBAL_MERCATOR/0/0/0.png", "d/GLOBAL_WEBMERCATOR/0/0/0.png"}


def test_globals_give_the_defaults(
    tmp_path: Path, map_server: MapServer, backend: Backend
) -> None:
    own = {"type": backend.kind, "directory": "g"}
    shared = {k: v for k, v in backend.cache.items() if k != "type"}
    conf = one_cache_conf(map_server, own)
    conf["globals"]["cache"] = {backend.kind: shared}
    assert get(make_app(tmp_path, conf), TILE_URL)[0] == 200
    assert backend.object_keys() == ["g/1/0/1.png"]


def test_store_that_never_answers_is_a_timeout_after_the_read_timeout() -> None:
    with socket.socket() as silent:
        # Connections are accepted (by the kernel) and never answered.
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        objects = S3Store(
            "b",
            "us-east-1",
            f"http://127.0.0.1:{port}",
            transport=Transport(connect_timeout=0.5, read_timeout=0.5),
        )
        cache = BlobCache(objects, "c/", "tms", PNG, "mapproxy.cache.s3")
        started = time.monotonic()
        # A 504 for the client; the tile a seeder or request made is served unstored.
        with pytest.raises(SourceTimeoutError, match="no answer in time"):
            cache.load(TileCoord(0, 0, 1))
        with pytest.raises(StoreError, match="no answer in time"):
            cache.store(EncodedTile(TileCoord(0, 0, 1), b"png"))
        assert time.monotonic() - started < 3
