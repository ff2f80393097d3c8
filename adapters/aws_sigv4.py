"""AWS Signature Version 4 for S3 requests (the Authorization header), and the credentials
it signs with, found where the AWS tools look for them."""

from __future__ import annotations

import configparser
import datetime
import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

import attrs

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@attrs.frozen
class AwsCredentials:
    """An access key, its secret and, for temporary credentials, the session token."""

    access_key: str
    secret_key: str = attrs.field(repr=False)
    token: str | None = attrs.field(default=None, repr=False)


class CredentialsError(Exception):
    """A profile that was asked for and cannot be read; the message holds no secret."""


def find_credentials(
    profile: str | None, env: Mapping[str, str]
) -> AwsCredentials | None:
    """Credentials as the AWS SDKs find them; None (anonymous requests) if there are none.

    A profile that is named (`profile_name`) is read from the shared credentials file
    (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`) and must be there. Otherwise
    `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` come first, then the
    profile `AWS_PROFILE` (default `default`) of that file if it has one.
    """
    path = Path(
        env.get("AWS_SHARED_CREDENTIALS_FILE")
        or Path(env.get("HOME", os.path.expanduser("~"))) / ".aws" / "credentials"
    ).expanduser()
    if profile is not None:
        found = _profile(path, profile)
        if found is None:
            raise CredentialsError(
                f"profile {profile!r} has no aws_access_key_id and aws_secret_access_key"
                f" in {path}"
            )
        return found
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return AwsCredentials(
            env["AWS_ACCESS_KEY_ID"],
            env["AWS_SECRET_ACCESS_KEY"],
            env.get("AWS_SESSION_TOKEN") or None,
        )
    return _profile(path, env.get("AWS_PROFILE") or "default")


def _profile(path: Path, name: str) -> AwsCredentials | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error) as exc:
        raise CredentialsError(f"cannot read {path}: {type(exc).__name__}") from None
    if not parser.has_section(name):
        return None
    section = parser[name]
    key, secret = section.get("aws_access_key_id"), section.get("aws_secret_access_key")
    if not key or not secret:
        return None
    return AwsCredentials(key, secret, section.get("aws_session_token") or None)


def find_region(region_name: str | None, env: Mapping[str, str]) -> str:
    """`region_name`, else the AWS tools' environment variables, else us-east-1."""
    return (
        region_name
        or env.get("AWS_DEFAULT_REGION")
        or env.get("AWS_REGION")
        or "us-east-1"
    )


def uri_encode(value: str, keep_slash: bool = False) -> str:
    """Percent-encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ (and /)."""
    return quote(value, safe="-_.~/" if keep_slash else "-_.~")


def sign(
    method: str,
    host: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    payload_sha256: str,
    credentials: AwsCredentials,
    region: str,
    when: datetime.datetime,
    service: str = "s3",
) -> dict[str, str]:
    """`headers` plus Host, X-Amz-Date, X-Amz-Content-Sha256, the session token (if any) and
    the Authorization header signing all of them.

    `path` is the request's path as sent (already encoded); `query` its decoded parameters.
    """
    stamp = when.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    signed = {k.lower(): v.strip() for k, v in headers.items()}
    signed |= {
        "host": host,
        "x-amz-date": stamp,
        "x-amz-content-sha256": payload_sha256,
    }
    if credentials.token:
        signed["x-amz-security-token"] = credentials.token
    names = sorted(signed)
    canonical = "\n".join(
        [
            method,
            path or "/",
            "&".join(f"{uri_encode(k)}={uri_encode(v)}" for k, v in sorted(query)),
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        [ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{credentials.secret_key}".encode()
    for part in (stamp[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    signed["authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return signed
