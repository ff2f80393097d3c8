"""The object store servers of the s3 and azureblob cache tests (tests/moto_s3.py,
tests/azurite_blob.py) as fixture functions: a test module makes `moto` and `azurite` (one
server each per module) and `backend` (a new bucket or container per test, of each kind)
fixtures with `pytest.fixture`."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from adapters.object_store import ObjectStore
from tests.azurite_blob import AZURITE_BLOB, AzuriteBlob
from tests.moto_s3 import MOTO_SERVER, MotoS3

_numbers = itertools.count()


@attrs.frozen
class Backend:
    """A running store: the `cache:` section that reaches it, and the store to look inside."""

    kind: str
    cache: dict[str, Any]
    objects: ObjectStore

    def object_keys(self) -> list[str]:
        return sorted(o.key for o in self.objects.list_objects(""))


def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    if not MOTO_SERVER.exists():
        pytest.skip("moto_server missing: pip install -e '.[dev]' brings moto[server]")
    with MotoS3(tmp_path_factory.mktemp("moto")) as server:
        yield server


def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteBlob]:
    if not AZURITE_BLOB.exists():
        pytest.skip(
            "Azurite missing: `make node-packages` installs it in tests/azurite"
        )
    with AzuriteBlob(tmp_path_factory.mktemp("azurite")) as server:
        yield server


def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """A new, empty bucket or container of one server per test module."""
    name = f"tiles-{next(_numbers)}"
    if request.param == "s3":
        s3: MotoS3 = request.getfixturevalue("moto")
        # Credentials as AWS tools find them: the environment.
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.credentials.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.credentials.secret_key)
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        cache = {"type": "s3", "bucket_name": name, "endpoint_url": s3.url}
        return Backend("s3", cache, s3.bucket(name))
    blobs: AzuriteBlob = request.getfixturevalue("azurite")
    cache = {
        "type": "azureblob",
        "container_name": name,
        "connection_string": blobs.connection_string,
    }
    return Backend("azureblob", cache, blobs.container(name))
