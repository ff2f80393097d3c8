"""Who may read and write an object store cache: credentials that the stores check for real
(moto: AWS Signature V4, with session tokens; Azurite: Shared Key and shared access
signatures), public buckets read with plain GETs, and no secret in any message."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import urllib3

from adapters import logs
from adapters.s3_store import S3Store
from domain.errors import ConfigError
from tests import object_servers
from tests.azurite_blob import AzuriteBlob
from tests.integration.one_cache import one_cache_conf
from tests.integration.test_app import get, make_app
from tests.integration.test_object_caches import TILE_KEY, TILE_URL
from tests.mapserver import MapServer
from tests.moto_s3 import MotoS3
from tests.object_servers import Backend

moto = pytest.fixture(scope="module")(object_servers.moto)
azurite = pytest.fixture(scope="module")(object_servers.azurite)
backend = pytest.fixture(params=["s3", "azureblob"])(object_servers.backend)


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


def test_use_http_get_reads_tiles_with_plain_unsigned_gets(
    tmp_path: Path, map_server: MapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A public bucket is any HTTP server with the objects: the map server's /tiles/z/x/y.png.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTILES")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    cache = {
        "type": "s3",
        "bucket_name": "tiles",
        "endpoint_url": map_server.url,
        "directory": "/",
        "use_http_get": True,
    }
    app = make_app(tmp_path, one_cache_conf(map_server, cache))
    status, headers, body = get(app, TILE_URL)
    assert (status, headers["Content-Type"]) == (200, "image/png")
    (request,) = map_server.requests
    assert request.path == "/tiles/1/0/1.png"
    assert "authorization" not in request.headers
    assert body == map_server_tile(map_server, "/tiles/1/0/1.png")


def map_server_tile(server: MapServer, path: str) -> bytes:
    http = urllib3.PoolManager()
    try:
        return http.request("GET", server.url + path).data
    finally:
        http.clear()


def test_refused_signature_is_an_ogc_error_that_shows_no_secret(
    tmp_path: Path,
    map_server: MapServer,
    backend: Backend,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logs.configure()
    cache = dict(backend.cache)
    # A valid base64 key (the Azure connection string parses) that is not the right one.
    secret = "c2VjcmV0LWtleQ=="  # noqa: S105
    if backend.kind == "s3":
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    else:
        cache["connection_string"] = cache["connection_string"].replace(
            cache["connection_string"].split("AccountKey=")[1].split(";")[0], secret
        )
    with caplog.at_level(logging.INFO, logger="mapproxy"):
        app = make_app(tmp_path, one_cache_conf(map_server, cache))
        status, _, body = get(app, TILE_URL)
    assert status == 502
    code = b"SignatureDoesNotMatch" if backend.kind == "s3" else b"AuthorizationFailure"
    assert b"HTTP 403 " + code in body
    assert "request failed" in caplog.text
    assert secret not in caplog.text
    assert secret.encode() not in body
    assert map_server.requests == []
    assert backend.object_keys() == []


def test_temporary_credentials_sign_with_their_session_token(
    tmp_path: Path,
    map_server: MapServer,
    moto: MotoS3,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moto.bucket("temporary")
    temporary = moto.temporary_credentials()
    assert temporary.token
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", temporary.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", temporary.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", temporary.token)
    cache = {"type": "s3", "bucket_name": "temporary", "endpoint_url": moto.url}
    app = make_app(tmp_path, one_cache_conf(map_server, cache))
    assert get(app, TILE_URL)[0] == 200
    assert get(app, TILE_URL)[0] == 200
    assert len(map_server.requests) == 1
    # The token counts: another one is refused.
    monkeypatch.setenv("AWS_SESSION_TOKEN", "not-the-token")
    other = make_app(tmp_path, one_cache_conf(map_server, cache))
    status, _, body = get(other, "/tms/1.0.0/osm/EPSG900913/0/1/1.png")
    assert (status, b"HTTP 400 InvalidToken" in body) == (502, True)
    store = S3Store("temporary", "us-east-1", moto.url, temporary)
    assert [o.key for o in store.list_objects("")] == [TILE_KEY]


def test_a_shared_access_signature_instead_of_the_account_key(
    tmp_path: Path, map_server: MapServer, azurite: AzuriteBlob
) -> None:
    container = azurite.container("sas")
    cache = {
        "type": "azureblob",
        "container_name": "sas",
        "connection_string": azurite.sas_connection_string(),
    }
    app = make_app(tmp_path, one_cache_conf(map_server, cache))
    status, _, body = get(app, TILE_URL)
    assert status == 200
    assert get(app, TILE_URL)[2] == body
    assert len(map_server.requests) == 1
    stored = container.get(TILE_KEY)
    assert stored is not None
    assert stored.data == body
    # A signature that allows reading only: tiles are served, none is stored.
    cache["connection_string"] = azurite.sas_connection_string("rl")
    read_only = make_app(tmp_path, one_cache_conf(map_server, cache))
    assert get(read_only, TILE_URL)[2] == body
    assert get(read_only, "/tms/1.0.0/osm/EPSG900913/0/1/1.png")[0] == 200
    assert [o.key for o in container.list_objects("")] == [TILE_KEY]
    assert len(map_server.requests) == 2
