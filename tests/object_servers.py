"""Real object store servers for the s3 and azureblob cache tests, each on a free port, its data
in memory, stopped at the end; `moto`, `azurite` and `backend` are fixture functions (a test
module makes them fixtures with `pytest.fixture`).

- `MotoS3`: moto's standalone server (`moto_server`, from the dev extras) with IAM
  authentication on: after the set-up calls that make a user and its access key, every request
  must carry a valid AWS Signature V4 of that key, or moto answers 403.
- `AzuriteBlob`: Azurite's blob service (`make node-packages` installs it under
  tests/azurite), which checks Shared Key signatures of its well-known dev account.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import itertools
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode

import attrs
import pytest
import urllib3

from adapters.aws_sigv4 import AwsCredentials, sign
from adapters.azure_store import AzureBlobStore, parse_connection_string
from adapters.object_store import ObjectStore, Transport
from adapters.s3_store import S3Store
from tests.e2e.conftest import free_port, stop

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
AZURITE_BLOB = (
    Path(__file__).parent / "azurite" / "node_modules" / ".bin" / "azurite-blob"
)
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_numbers = itertools.count()
# The IAM calls that set up the user, its key and its policy go without a signature.
_SETUP_CALLS = 3


class _Server:
    proc: subprocess.Popen[bytes]
    url: str

    def _start(self, args: list[str], workdir: Path, ready: str) -> None:
        # A log file, not a pipe: a server logging every request would fill a pipe and stall.
        log = workdir / f"{Path(args[0]).name}.log"
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                args, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, env=self._env()
            )
        http = urllib3.PoolManager(retries=False, timeout=1)
        deadline = time.monotonic() + 30
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{args[0]} exited: {log.read_text()}")
                try:
                    http.request("GET", ready)
                    return
                except urllib3.exceptions.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        except BaseException:
            stop(self.proc)
            raise
        finally:
            http.clear()

    def _env(self) -> dict[str, str]:
        return {"PATH": "/usr/bin:/bin:/usr/local/bin"}

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Killed, not terminated: the data is in memory only, and Azurite's graceful stop
        # waits 10 s for clients' idle keep-alive connections.
        self.proc.kill()
        self.proc.wait()


class MotoS3(_Server):
    """moto's S3 on a free port, checking signatures; `.credentials` are a valid key."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._start(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(self.port)],
            workdir,
            f"{self.url}/moto-api/",
        )
        self.credentials = self._iam_user()

    def _env(self) -> dict[str, str]:
        return {**super()._env(), "INITIAL_NO_AUTH_ACTION_COUNT": str(_SETUP_CALLS)}

    def _iam_user(self) -> AwsCredentials:
        http = urllib3.PoolManager(retries=False, timeout=10)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:*", "sts:*", "iam:*"],
                    "Resource": "*",
                }
            ],
        }
        answers = [
            http.request(
                "POST",
                f"{self.url}/",
                fields={**call, "Version": "2010-05-08", "UserName": "tiles"},
                encode_multipart=False,
                # moto routes by the service of the credential scope; not checked yet.
                headers={
                    "Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1"
                    "/iam/aws4_request, SignedHeaders=host, Signature=x"
                },
            ).data.decode()
            for call in (
                {"Action": "CreateUser"},
                {"Action": "CreateAccessKey"},
                {
                    "Action": "PutUserPolicy",
                    "PolicyName": "tiles",
                    "PolicyDocument": json.dumps(policy),
                },
            )
        ]
        http.clear()
        key = re.search("<AccessKeyId>(.+?)</AccessKeyId>", answers[1])
        secret = re.search("<SecretAccessKey>(.+?)</SecretAccessKey>", answers[1])
        assert key, answers
        assert secret, answers
        return AwsCredentials(key.group(1), secret.group(1))

    def temporary_credentials(self) -> AwsCredentials:
        """Credentials with a session token, from STS AssumeRole of a role that may use S3."""
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        s3_only = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        role = "tiles-role"
        self._signed(
            "iam",
            Action="CreateRole",
            RoleName=role,
            AssumeRolePolicyDocument=json.dumps(trust),
            Version="2010-05-08",
        )
        self._signed(
            "iam",
            Action="PutRolePolicy",
            RoleName=role,
            PolicyName="s3",
            PolicyDocument=json.dumps(s3_only),
            Version="2010-05-08",
        )
        answer = self._signed(
            "sts",
            Action="AssumeRole",
            RoleArn=f"arn:aws:iam::123456789012:role/{role}",
            RoleSessionName="tiles",
            Version="2011-06-15",
        )
        found = [
            re.search(f"<{tag}>(.+?)</{tag}>", answer)
            for tag in ("AccessKeyId", "SecretAccessKey", "SessionToken")
        ]
        key, secret, token = (m.group(1) if m else "" for m in found)
        assert key, answer
        return AwsCredentials(key, secret, token)

    def _signed(self, service: str, **params: str) -> str:
        """A query API call (IAM, STS) signed with `.credentials`; its answer's text."""
        body = urlencode(params).encode()
        headers = sign(
            "POST",
            f"127.0.0.1:{self.port}",
            "/",
            [],
            {"content-type": "application/x-www-form-urlencoded"},
            hashlib.sha256(body).hexdigest(),
            self.credentials,
            "us-east-1",
            datetime.datetime.now(datetime.UTC),
            service=service,
        )
        answer = Transport().request("POST", f"{self.url}/", headers, body)
        assert answer.status == 200, answer
        return answer.data.decode()

    def bucket(self, name: str) -> S3Store:
        """A new bucket, as a store with the valid key."""
        store = S3Store(name, "us-east-1", self.url, self.credentials)
        answer = store._request("PUT", "")  # CreateBucket: a PUT of the bucket itself
        assert answer.status == 200, answer
        return store


class AzuriteBlob(_Server):
    """Azurite's blob service on a free port; `.connection_string` reaches its dev account."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/devstoreaccount1"
        self._start(
            [
                str(AZURITE_BLOB),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.port),
                "--inMemoryPersistence",
                # MapProxy's azure-storage-blob asks for API versions newer than Azurite's.
                "--skipApiVersionCheck",
                "--silent",
            ],
            workdir,
            f"http://127.0.0.1:{self.port}/",
        )
        self.connection_string = (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={DEV_KEY};BlobEndpoint={self.url}"
        )

    def _env(self) -> dict[str, str]:
        node = shutil.which("node")
        path = f"{Path(node).parent}:{super()._env()['PATH']}" if node else None
        return {**super()._env(), **({"PATH": path} if path else {})}

    def sas_connection_string(self, permissions: str = "rwdlac") -> str:
        """A connection string with an account shared access signature (no key), valid 1 h."""
        expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
        fields = {
            "sv": "2021-08-06",
            "ss": "b",
            "srt": "sco",
            "sp": permissions,
            "se": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "spr": "https,http",
        }
        # The account SAS string to sign of version 2020-12-06 on (Azure's SAS docs).
        to_sign = "\n".join(
            [
                "devstoreaccount1",
                fields["sp"],
                fields["ss"],
                fields["srt"],
                "",
                fields["se"],
                "",
                fields["spr"],
                fields["sv"],
                "",
                "",
            ]
        )
        digest = hmac.new(base64.b64decode(DEV_KEY), to_sign.encode(), hashlib.sha256)
        fields["sig"] = base64.b64encode(digest.digest()).decode()
        return f"BlobEndpoint={self.url};SharedAccessSignature={urlencode(fields)}"

    def container(self, name: str) -> AzureBlobStore:
        """A new container, as a store with the dev account's key."""
        store = AzureBlobStore(parse_connection_string(self.connection_string), name)
        answer = store._request("PUT", None, query={"restype": "container"})
        assert answer.status == 201, answer
        return store


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
