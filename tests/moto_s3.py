"""moto's standalone S3 server (`moto_server`, from the dev extras) with IAM authentication on:
after the set-up calls that make a user and its access key, every request must carry a valid
AWS Signature V4 of that key (or of temporary credentials it assumes), or moto answers 403."""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import sys
from pathlib import Path
from urllib.parse import urlencode

import urllib3

from adapters.aws_sigv4 import AwsCredentials, sign
from adapters.object_store import Transport
from adapters.s3_store import S3Store
from tests.e2e.conftest import free_port
from tests.server_process import ServerProcess

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
# The IAM calls that set up the user, its key and its policy go without a signature.
_SETUP_CALLS = 3


class MotoS3(ServerProcess):
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
