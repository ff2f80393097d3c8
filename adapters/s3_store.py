"""An S3 bucket (AWS, or any S3-compatible store at `endpoint_url`) as an ObjectStore, its
requests signed with AWS Signature Version 4."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

import attrs

from adapters.aws_sigv4 import EMPTY_SHA256, AwsCredentials, sign, uri_encode
from adapters.object_store import (
    Answer,
    ListedObject,
    ObjectStoreError,
    StoredObject,
    Transport,
    found_object,
    listing,
    refused,
)

LOGGER = "mapproxy.cache.s3"
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@attrs.define
class S3Store:
    """Bucket `bucket` at `endpoint` (`scheme://host[:port]`); anonymous without credentials.

    The default AWS endpoint is addressed virtual-hosted (`bucket.s3.region.amazonaws.com`),
    any other one path-style (`endpoint/bucket/key`), which S3-compatible stores all take.
    """

    bucket: str
    region: str
    endpoint: str | None = None
    credentials: AwsCredentials | None = None
    # `access_control_list`: the canned ACL every new tile gets (`public-read`, ...).
    acl: str | None = None
    # Tiles are read with unsigned GETs (a public bucket, or one behind a CDN).
    use_http_get: bool = False
    transport: Transport = attrs.Factory(Transport)
    _base: str = attrs.field(init=False)
    _host: str = attrs.field(init=False)
    _path: str = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        if self.endpoint is None:
            self._host = f"{self.bucket}.s3.{self.region}.amazonaws.com"
            self._base, self._path = f"https://{self._host}", "/"
        else:
            parts = urlsplit(self.endpoint)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(
                    f"endpoint_url must be an http(s) URL, got {self.endpoint!r}"
                )
            self._host = parts.netloc
            self._base = f"{parts.scheme}://{parts.netloc}"
            prefix = parts.path.rstrip("/")
            self._path = f"{prefix}/{uri_encode(self.bucket)}/"

    @property
    def where(self) -> str:
        return f"s3://{self.bucket} at {self._base}"

    def get(self, key: str) -> StoredObject | None:
        return found_object(
            self._request("GET", key, signed=not self.use_http_get), self._name(key)
        )

    def put(self, key: str, data: bytes, content_type: str) -> None:
        headers = {"content-type": content_type}
        if self.acl:
            headers["x-amz-acl"] = self.acl
        answer = self._request("PUT", key, headers=headers, body=data)
        if answer.status != 200:
            raise refused("PUT", self._name(key), answer)

    def delete(self, key: str) -> bool:
        # S3 answers 204 whether or not the object was there: True either way (cleanups,
        # which remove listed tiles, count what they remove themselves).
        answer = self._request("DELETE", key)
        if answer.status not in (200, 204):
            raise refused("DELETE", self._name(key), answer)
        return True

    def list_objects(self, prefix: str) -> Iterator[ListedObject]:
        token: str | None = None
        while True:
            query = [("list-type", "2"), ("prefix", prefix)]
            if token:
                query.append(("continuation-token", token))
            page = listing(
                self._request("GET", "", query=query),
                "bucket",
                f"{self.where} {prefix!r}",
            )
            for item in page.iter(f"{_NS}Contents"):
                yield ListedObject(
                    item.findtext(f"{_NS}Key", ""),
                    _iso_time(item.findtext(f"{_NS}LastModified", "")),
                    int(item.findtext(f"{_NS}Size", "0")),
                )
            token = page.findtext(f"{_NS}NextContinuationToken")
            if page.findtext(f"{_NS}IsTruncated") != "true" or not token:
                return

    def _name(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _request(
        self,
        method: str,
        key: str,
        query: list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        signed: bool = True,
    ) -> Answer:
        path = self._path + uri_encode(key, keep_slash=True)
        query = query or []
        all_headers = dict(headers or {})
        if signed and self.credentials is not None:
            all_headers = sign(
                method,
                self._host,
                path,
                query,
                all_headers,
                hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256,
                self.credentials,
                self.region,
                datetime.datetime.now(datetime.UTC),
            )
        encoded = "&".join(f"{uri_encode(k)}={uri_encode(v)}" for k, v in query)
        url = self._base + path + (f"?{encoded}" if encoded else "")
        return self.transport.request(
            method, url, all_headers, body, where=self._name(key)
        )


def _iso_time(value: str) -> float:
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise ObjectStoreError(f"bad LastModified {value!r}") from exc
