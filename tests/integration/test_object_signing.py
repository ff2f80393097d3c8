"""The request signing and credential lookup of the object store caches: AWS Signature V4
against AWS's published example, credentials from the environment and shared files, and Azure
connection strings. (Both servers of test_object_caches.py check real signatures too.)"""

from __future__ import annotations

import base64
import datetime
from pathlib import Path

import pytest

from adapters.aws_sigv4 import (
    EMPTY_SHA256,
    AwsCredentials,
    CredentialsError,
    find_credentials,
    find_region,
    sign,
)
from adapters.azure_store import AzureAccount, parse_connection_string
from tests.azurite_blob import DEV_KEY

EXAMPLE = AwsCredentials(
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)
MAY_24_2013 = datetime.datetime(2013, 5, 24, tzinfo=datetime.UTC)


def test_sigv4_matches_awss_get_object_example() -> None:
    # AWS's S3 documentation, "Example: GET Object": the first ten bytes of test.txt.
    headers = sign(
        "GET",
        "examplebucket.s3.amazonaws.com",
        "/test.txt",
        [],
        {"Range": "bytes=0-9"},
        EMPTY_SHA256,
        EXAMPLE,
        "us-east-1",
        MAY_24_2013,
    )
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
        "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    assert headers["x-amz-date"] == "20130524T000000Z"


def test_sigv4_signs_the_session_token_and_query() -> None:
    temporary = AwsCredentials(EXAMPLE.access_key, EXAMPLE.secret_key, "token/1")
    plain = sign(
        "GET",
        "h",
        "/b",
        [("prefix", "a b")],
        {},
        EMPTY_SHA256,
        EXAMPLE,
        "r",
        MAY_24_2013,
    )
    with_token = sign(
        "GET",
        "h",
        "/b",
        [("prefix", "a b")],
        {},
        EMPTY_SHA256,
        temporary,
        "r",
        MAY_24_2013,
    )
    assert with_token["x-amz-security-token"] == "token/1"
    assert (
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
        in (with_token["authorization"])
    )
    # Another query value is another signature.
    other = sign(
        "GET",
        "h",
        "/b",
        [("prefix", "a c")],
        {},
        EMPTY_SHA256,
        EXAMPLE,
        "r",
        MAY_24_2013,
    )
    assert other["authorization"] != plain["authorization"]
    assert EXAMPLE.secret_key not in repr(EXAMPLE)
    assert "token/1" not in repr(temporary)


def test_credentials_from_the_environment_come_before_the_file(tmp_path: Path) -> None:
    shared = tmp_path / "credentials"
    shared.write_text(
        "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n"
        "[tiles]\naws_access_key_id = TILESKEY\naws_secret_access_key = tilessecret\n"
        "aws_session_token = tilestoken\n"
    )
    env = {
        "AWS_SHARED_CREDENTIALS_FILE": str(shared),
        "AWS_ACCESS_KEY_ID": "ENVKEY",
        "AWS_SECRET_ACCESS_KEY": "envsecret",
        "AWS_SESSION_TOKEN": "envtoken",
    }
    assert find_credentials(None, env) == AwsCredentials(
        "ENVKEY", "envsecret", "envtoken"
    )
    # A profile that is named wins over the environment, as in boto3.
    assert find_credentials("tiles", env) == AwsCredentials(
        "TILESKEY", "tilessecret", "tilestoken"
    )
    file_only = {"AWS_SHARED_CREDENTIALS_FILE": str(shared)}
    assert find_credentials(None, file_only) == AwsCredentials("FILEKEY", "filesecret")
    assert find_credentials(None, {**file_only, "AWS_PROFILE": "tiles"}) == (
        AwsCredentials("TILESKEY", "tilessecret", "tilestoken")
    )
    # ~/.aws/credentials by default.
    (tmp_path / ".aws").mkdir()
    shared.rename(tmp_path / ".aws" / "credentials")
    assert find_credentials(None, {"HOME": str(tmp_path)}) == AwsCredentials(
        "FILEKEY", "filesecret"
    )


def test_no_credentials_anywhere_is_anonymous_and_a_named_profile_is_required(
    tmp_path: Path,
) -> None:
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "missing")}
    assert find_credentials(None, env) is None
    with pytest.raises(CredentialsError, match="profile 'p' has no aws_access_key_id"):
        find_credentials("p", env)


def test_region_from_the_config_then_the_environment() -> None:
    assert find_region("eu-west-1", {"AWS_DEFAULT_REGION": "x"}) == "eu-west-1"
    assert find_region(None, {"AWS_DEFAULT_REGION": "eu-central-1"}) == "eu-central-1"
    assert find_region(None, {"AWS_REGION": "ap-south-1"}) == "ap-south-1"
    assert find_region(None, {}) == "us-east-1"


@pytest.mark.parametrize(
    ("connection", "account"),
    [
        (
            "DefaultEndpointsProtocol=https;AccountName=tiles;AccountKey=a2V5;"
            "EndpointSuffix=core.windows.net",
            AzureAccount("tiles", "https://tiles.blob.core.windows.net", b"key"),
        ),
        (
            "AccountName=tiles;AccountKey=a2V5",
            AzureAccount("tiles", "https://tiles.blob.core.windows.net", b"key"),
        ),
        (
            "AccountName=tiles;AccountKey=a2V5;BlobEndpoint=http://h:1/tiles/",
            AzureAccount("tiles", "http://h:1/tiles", b"key"),
        ),
        (
            "BlobEndpoint=https://tiles.blob.core.windows.net;"
            "SharedAccessSignature=sv=2015-04-05&sig=abc%3D",
            AzureAccount(
                "",
                "https://tiles.blob.core.windows.net",
                sas="sv=2015-04-05&sig=abc%3D",
            ),
        ),
        (
            "UseDevelopmentStorage=true",
            AzureAccount(
                "devstoreaccount1",
                "http://127.0.0.1:10000/devstoreaccount1",
                base64.b64decode(DEV_KEY),
            ),
        ),
    ],
)
def test_connection_strings(connection: str, account: AzureAccount) -> None:
    assert parse_connection_string(connection) == account
    assert "a2V5" not in repr(account)
