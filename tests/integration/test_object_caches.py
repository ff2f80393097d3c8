"""The object store caches (`type: s3`, `type: azureblob`) against real servers: moto's S3,
which checks every request's Signature V4, and Azurite, which checks Shared Key signatures."""

from __future__ import annotations

import datetime
import itertools
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import attrs
import pytest

from adapters.object_store import ObjectStore
from domain.errors import ConfigError
from tests.e2e.conftest import free_port
from tests.integration.one_cache import one_cache_conf
from tests.integration.test_app import get, make_app
from tests.integration.test_sqlite_caches import green_at_centre
from tests.mapserver import MapServer
from tests.object_servers import AZURITE_BLOB, MOTO_SERVER, AzuriteBlob, MotoS3

# TMS level 0 of GLOBAL_MERCATOR is grid level 1; row 1 counted from the south is the north.
TILE_URL = "/tms/1.0.0/osm/EPSG900913/0/0/1.png"
# MapProxy's key: `<cache>/<grid name>/` and the `tms` layout, z/x/y.
TILE_KEY = "osm_cache/GLOBAL_MERCATOR/1/0/1.png"
_numbers = itertools.count()


@attrs.frozen
class Backend:
    """A running store: the `cache:` section that reaches it, and the store to look inside."""

    kind: str
    cache: dict[str, Any]
    objects: ObjectStore

    def keys(self) -> list[str]:
        return sorted(o.key for o in self.objects.list_objects(""))


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    if not MOTO_SERVER.exists():
        pytest.skip("moto_server missing: pip install -e '.[dev]' brings moto[server]")
    with MotoS3(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteBlob]:
    if not AZURITE_BLOB.exists():
        pytest.skip(
            "Azurite missing: `make node-packages` installs it in tests/azurite"
        )
    with AzuriteBlob(tmp_path_factory.mktemp("azurite")) as server:
        yield server


@pytest.fixture(params=["s3", "azureblob"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """A new, empty bucket or container of one server per test module."""
    name = f"tiles-{next(_numbers)}"
    if request.param == "s3":
        moto: MotoS3 = request.getfixturevalue("moto")
        # Credentials as AWS tools find them: the environment.
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto.credentials.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto.credentials.secret_key)
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        cache = {"type": "s3", "bucket_name": name, "endpoint_url": moto.url}
        return Backend("s3", cache, moto.bucket(name))
    azurite: AzuriteBlob = request.getfixturevalue("azurite")
    cache = {
        "type": "azureblob",
        "container_name": name,
        "connection_string": azurite.connection_string,
    }
    return Backend("azureblob", cache, azurite.container(name))


def test_tile_is_stored_under_mapproxys_key_and_served_from_the_store(
    tmp_path: Path, map_server: MapServer, backend: Backend
) -> None:
    app = make_app(tmp_path, one_cache_conf(map_server, backend.cache))
    status, headers, body = get(app, TILE_URL)
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert green_at_centre(body) > 128
    assert backend.keys() == [TILE_KEY]
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
    assert backend.keys() == [key]
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


def test_unreachable_store_serves_tiles_from_the_source_quickly(
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
    for _ in range(2):
        status, headers, body = get(app, TILE_URL)
        assert (status, headers["Content-Type"]) == (200, "image/png")
        assert green_at_centre(body) > 128
    # Nothing stored anywhere: each request asks the source, without waiting long.
    assert len(map_server.requests) == 2
    assert time.monotonic() - started < 5
    assert backend.keys() == []


def test_store_refusing_the_signature_stores_nothing(
    tmp_path: Path,
    map_server: MapServer,
    backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = dict(backend.cache)
    if backend.kind == "s3":
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    else:
        # A valid base64 key that is not the account's.
        cache["connection_string"] = cache["connection_string"].replace(
            "AccountKey=Eby8", "AccountKey=Aby8"
        )
    app = make_app(tmp_path, one_cache_conf(map_server, cache))
    assert get(app, TILE_URL)[0] == 200
    assert get(app, TILE_URL)[0] == 200
    assert len(map_server.requests) == 2
    assert backend.keys() == []


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


def test_unknown_profile_is_an_error_naming_the_key_and_no_secret(
    tmp_path: Path, map_server: MapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = s3cr3t\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    cache = {"type": "s3", "bucket_name": "b", "profile_name": "tiles"}
    with pytest.raises(ConfigError) as info:
        make_app(tmp_path, one_cache_conf(map_server, cache))
    assert info.value.problems == [
        f"profile 'tiles' has no aws_access_key_id and aws_secret_access_key in"
        f" {credentials} @ $.caches['osm_cache'].cache.profile_name"
    ]
    assert "s3cr3t" not in str(info.value)


def test_globals_give_the_defaults(
    tmp_path: Path, map_server: MapServer, backend: Backend
) -> None:
    own = {"type": backend.kind, "directory": "g"}
    shared = {k: v for k, v in backend.cache.items() if k != "type"}
    conf = one_cache_conf(map_server, own)
    conf["globals"]["cache"] = {backend.kind: shared}
    assert get(make_app(tmp_path, conf), TILE_URL)[0] == 200
    assert backend.keys() == ["g/1/0/1.png"]
