"""The Redis cache over TLS (`ssl_certfile`, `ssl_keyfile`, `ssl_ca_certs`) against a real
redis-server listening for TLS only, with certificates made by openssl for each test."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis

from domain.errors import ConfigError
from tests.integration.one_cache import one_cache_conf
from tests.integration.redis_server import redis_server
from tests.integration.test_app import get, make_app
from tests.integration.test_redis_cache import TILE_KEY, TILE_URL
from tests.mapserver import MapServer

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None or shutil.which("openssl") is None,
    reason="redis-server or openssl missing (.ci/install-system-packages)",
)
KEY = f"osm_cache_GLOBAL_MERCATOR-{TILE_KEY}"


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(cwd: Path, name: str) -> None:
    """`<name>.crt`/`<name>.key`: a self-signed certificate authority."""
    _openssl(cwd, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", "-subj", f"/CN={name}")  # fmt: skip


def make_cert(cwd: Path, name: str, ca: str) -> None:
    """`<name>.crt`/`<name>.key`, signed by `ca`, valid for 127.0.0.1 and localhost."""
    _openssl(cwd, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN={name}")  # fmt: skip
    (cwd / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(cwd, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey",
             f"{ca}.key", "-CAcreateserial", "-days", "2", "-out", f"{name}.crt",
             "-extfile", f"{name}.ext")  # fmt: skip


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """A CA, a server certificate and a client certificate it signed, and a CA of nobody's."""
    make_ca(tmp_path, "ca")
    make_ca(tmp_path, "stranger")
    make_cert(tmp_path, "server", "ca")
    make_cert(tmp_path, "client", "ca")
    return tmp_path


def server_tls(pki: Path, *, client_certificates: bool) -> list[str]:
    return [
        *("--tls-cert-file", str(pki / "server.crt")),
        *("--tls-key-file", str(pki / "server.key")),
        *("--tls-ca-cert-file", str(pki / "ca.crt")),
        *("--tls-auth-clients", "yes" if client_certificates else "no"),
    ]


def test_tiles_go_over_tls_with_a_client_certificate(
    pki: Path, map_server: MapServer
) -> None:
    files = {"certfile": "client.crt", "keyfile": "client.key", "ca_certs": "ca.crt"}
    client: dict[str, Any] = {f"ssl_{k}": str(pki / v) for k, v in files.items()}
    client["ssl"] = True
    with redis_server(
        pki, tls=server_tls(pki, client_certificates=True), **client
    ) as port:
        # Paths relative to the configuration's directory, as every other path.
        cache = {"port": port, **{f"ssl_{k}": v for k, v in files.items()}}
        app = make_app(pki, one_cache_conf(map_server, {"type": "redis", **cache}))
        status, _, body = get(app, TILE_URL)
        assert status == 200
        with redis.Redis(port=port, **client) as direct:
            assert direct.get(KEY) == body
        assert get(app, TILE_URL)[2] == body
        assert len(map_server.requests) == 1


def test_a_ca_alone_reaches_a_server_that_asks_no_client_certificate(
    pki: Path, map_server: MapServer
) -> None:
    tls = server_tls(pki, client_certificates=False)
    ca = str(pki / "ca.crt")
    with redis_server(pki, tls=tls, ssl=True, ssl_ca_certs=ca) as port:
        cache = {"type": "redis", "port": port, "ssl_ca_certs": "ca.crt"}
        app = make_app(pki, one_cache_conf(map_server, cache))
        status, _, body = get(app, TILE_URL)
        assert status == 200
        with redis.Redis(port=port, ssl=True, ssl_ca_certs=ca) as direct:
            assert direct.get(KEY) == body


def test_a_server_certificate_from_another_ca_is_refused_and_nothing_stored(
    pki: Path, map_server: MapServer
) -> None:
    tls = server_tls(pki, client_certificates=False)
    ca = str(pki / "ca.crt")
    with redis_server(pki, tls=tls, ssl=True, ssl_ca_certs=ca) as port:
        cache = {"type": "redis", "port": port, "ssl_ca_certs": "stranger.crt"}
        app = make_app(pki, one_cache_conf(map_server, cache))
        # The tile still comes from the source; the Redis it cannot trust gets nothing.
        assert get(app, TILE_URL)[0] == 200
        assert get(app, TILE_URL)[0] == 200
        assert len(map_server.requests) == 2
        with redis.Redis(port=port, ssl=True, ssl_ca_certs=ca) as direct:
            assert direct.keys() == []


@pytest.mark.parametrize(
    ("cache", "problem"),
    [
        (
            {"ssl_certfile": "client.crt"},
            "ssl_certfile and ssl_keyfile go together @ $.caches['osm_cache'].cache",
        ),
        (
            {"ssl_ca_certs": "missing.crt"},
            "cannot be used for TLS: No such file or directory "
            "@ $.caches['osm_cache'].cache.ssl_ca_certs",
        ),
        (
            # A key that does not belong to the certificate.
            {"ssl_certfile": "client.crt", "ssl_keyfile": "server.key"},
            "cannot be used for TLS: KEY_VALUES_MISMATCH "
            "@ $.caches['osm_cache'].cache.ssl_certfile",
        ),
    ],
)
def test_bad_tls_files_are_configuration_errors_naming_their_key(
    pki: Path, map_server: MapServer, cache: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigError) as info:
        make_app(pki, one_cache_conf(map_server, {"type": "redis", **cache}))
    assert info.value.problems == [problem]
