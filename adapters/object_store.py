"""Object stores (S3, Azure Blob Storage) as the blob cache sees them: objects got, put,
deleted and listed by key, over HTTP that is bounded in time and size.

The port (`ObjectStore`) is the adapters' own: the domain sees only a TileCache.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Protocol

import attrs
import urllib3
from urllib3.exceptions import HTTPError

# A store that is down or hangs must not hold a request long: a refused connection fails at
# once, a silent one after CONNECT_TIMEOUT, a stalled answer after READ_TIMEOUT.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
# Tiles and listing pages are small; a store answering more is not answering a tile.
MAX_BODY = 64 * 1024 * 1024
_NO_ANSWER = "no answer in time"


class ObjectStoreError(Exception):
    """The store could not be reached, or refused the request; the message holds no secret."""


class ObjectStoreTimeoutError(ObjectStoreError):
    """The store did not answer in time."""


@attrs.frozen
class StoredObject:
    """An object's bytes and when it was last written (seconds since the epoch)."""

    data: bytes
    mtime: float


@attrs.frozen
class ListedObject:
    """An object found by listing: its key, when it was last written, its size."""

    key: str
    mtime: float
    size: int


class ObjectStore(Protocol):
    """A bucket or container: objects by key."""

    @property
    def where(self) -> str:
        """The store for log lines (endpoint and bucket, never a credential)."""
        ...

    def get(self, key: str) -> StoredObject | None: ...

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def delete(self, key: str) -> bool:
        """Remove the object; False if there was none (where the store tells)."""
        ...

    def list_objects(self, prefix: str) -> Iterator[ListedObject]:
        """Every object whose key starts with `prefix`, page after page."""
        ...


@attrs.frozen
class Answer:
    """A store's complete answer; header names are lower case."""

    status: int
    headers: Mapping[str, str]
    data: bytes

    def mtime(self) -> float:
        """The answer's Last-Modified as seconds since the epoch (now if it has none: a
        public bucket behind a server that leaves it out, with `use_http_get`)."""
        if "last-modified" not in self.headers:
            return time.time()
        return http_time(self.headers["last-modified"])


def http_time(value: str) -> float:
    """An HTTP date (`Wed, 26 Nov 2026 16:50:23 GMT`) as seconds since the epoch."""
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError) as exc:
        raise ObjectStoreError(f"bad Last-Modified {value!r}") from exc


@attrs.define
class Transport:
    """HTTP to one store: a connection pool, bounded waits, no retries of answers."""

    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    pool: urllib3.PoolManager = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.pool = urllib3.PoolManager(
            maxsize=10,
            block=False,
            timeout=urllib3.Timeout(
                connect=self.connect_timeout, read=self.read_timeout
            ),
            # No retries: a failing store costs one round trip (urllib3 replaces pooled
            # connections the store closed before using them), and urllib3 logs no retry
            # with the URL, which for Azure may hold a shared access signature.
            retries=False,
        )

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None = None,
        where: str = "",
    ) -> Answer:
        """The store's answer to one request; ObjectStoreError if none came in time."""
        try:
            response = self.pool.request(
                method, url, headers=dict(headers), body=body, preload_content=False
            )
            try:
                data = response.read(MAX_BODY + 1)
            finally:
                response.release_conn()
        except HTTPError as exc:
            # Not urllib3's message: it names the URL, which may hold an Azure SAS.
            why = _why(exc)
            kind = ObjectStoreTimeoutError if why == _NO_ANSWER else ObjectStoreError
            raise kind(f"{method} {where or url}: {why}") from None
        if len(data) > MAX_BODY:
            raise ObjectStoreError(f"{method} {where or url}: answer too large")
        return Answer(
            response.status,
            {k.lower(): v for k, v in response.headers.items()},
            data,
        )


def _why(exc: HTTPError) -> str:
    # NewConnectionError first: urllib3 makes it a kind of connect timeout.
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return "cannot connect"
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return _NO_ANSWER
    return f"connection failed ({type(exc).__name__})"


def found_object(answer: Answer, name: str) -> StoredObject | None:
    """The object a GET of `name` answered; None if there is none."""
    if answer.status == 404:
        return None
    if answer.status != 200:
        raise refused("GET", name, answer)
    return StoredObject(answer.data, answer.mtime())


def refused(method: str, where: str, answer: Answer) -> ObjectStoreError:
    """The error for an answer that is not the one asked for, with the store's error code."""
    code = _error_code(answer.data)
    return ObjectStoreError(
        f"{method} {where}: HTTP {answer.status}" + (f" {code}" if code else "")
    )


def _error_code(body: bytes) -> str:
    # S3 and Azure both answer `<Error><Code>NoSuchBucket</Code>...`: the code says why.
    start = body.find(b"<Code>")
    end = body.find(b"</Code>", start)
    if start < 0 or end < 0 or end - start > 100:
        return ""
    return body[start + len("<Code>") : end].decode("ascii", "replace")


def listing(answer: Answer, what: str, where: str) -> ET.Element:
    """A listing page of the store's (`what`: bucket or container) as XML; `where` names
    the listing in errors."""
    if answer.status != 200:
        raise refused("LIST", where, answer)
    data = answer.data
    # The store is the configured one, but entity declarations are refused all the same.
    if b"<!ENTITY" in data or b"<!DOCTYPE" in data:
        raise ObjectStoreError(f"{what} listing with a DOCTYPE refused")
    try:
        return ET.fromstring(data)  # noqa: S314 - entities refused above
    except ET.ParseError as exc:
        raise ObjectStoreError(f"bad {what} listing: {exc}") from None
