"""HTTP for map sources: one urllib3 PoolManager per app, bounded in time and size, logged."""

from __future__ import annotations

import base64
import io
import os
import re
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit
from urllib.request import Request

import attrs
import urllib3
from PIL import Image
from urllib3.exceptions import (
    HTTPError,
    InsecureRequestWarning,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as UrllibTimeoutError

from adapters.host_semaphore import HostSemaphore
from adapters.logs import SOURCE_REQUEST, get_logger, redact_url
from domain.config import HttpConf
from domain.errors import SourceError, SourceTimeoutError
from domain.ports import SourceImage

DEFAULT_TIMEOUT = 60.0
MAX_BODY = 64 * 1024 * 1024
_CHUNK = 64 * 1024
_USER_AGENT = "Tilegate"
# No retries: a failed request is the source's answer (the client gets a 502/504, nothing is
# cached); only redirects are followed, as MapProxy's urllib client does.
_RETRIES = urllib3.Retry(
    total=None, connect=0, read=0, status=0, other=0, redirect=5, raise_on_status=False
)

_MARKUP = re.compile(r"<[^>]*>")
_WHITESPACE = re.compile(r"\s+")


@attrs.frozen
class Response:
    """A complete upstream answer; header names are lower case."""

    status: int
    headers: Mapping[str, str]
    data: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@attrs.frozen
class _Options:
    timeout: float
    headers: dict[str, str]
    no_cert_checks: bool
    ca_certs: str | None
    cookies: bool = False


def split_credentials(url: str) -> tuple[str, str | None]:
    """The URL without `user:password@`, and the Authorization header value for them (or None).

    Only the authority is touched: the rest stays byte for byte (it may be a %-template)."""
    scheme, sep, rest = url.partition("://")
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    userinfo, at, hostport = rest[:end].rpartition("@")
    if not sep or not at:
        return url, None
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode(
        "ascii"
    )
    return f"{scheme}://{hostport}{rest[end:]}", f"Basic {token}"


def describe_url(url: str) -> str:
    """Scheme, host and path only: for error messages, which may reach clients and must not leak
    credentials or the API keys some services take as query parameters."""
    parts = urlsplit(split_credentials(url)[0])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@attrs.define
class HttpClient:
    """The app's HTTP client; `conf` is `globals.http`, a source's own `http:` overrides it per request.

    The PoolManager is created on first use, and again in a forked child, so an app built before
    gunicorn forks its workers never shares sockets between processes.
    """

    conf: HttpConf = attrs.Factory(HttpConf)
    lock_dir: Path = attrs.field(
        default=Path("./cache_data/tile_locks"), converter=Path
    )
    max_body: int = MAX_BODY
    _managers: dict[tuple[bool, str | None], urllib3.PoolManager] = attrs.field(
        init=False, factory=dict
    )
    _pid: int = attrs.field(init=False, default=0)
    # The cookies of sources with `http.manage_cookies`, by the rules a browser keeps them.
    _cookies: CookieJar = attrs.field(init=False, factory=CookieJar)
    # Where each request is logged: the sources' request log, or a cache's own (couchdb).
    request_log: str = SOURCE_REQUEST

    def get(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        http: HttpConf | None = None,
        concurrent_requests: int = 0,
    ) -> Response:
        return self.request(
            "GET",
            url,
            headers=headers,
            timeout=timeout,
            http=http,
            concurrent_requests=concurrent_requests,
        )

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        http: HttpConf | None = None,
        concurrent_requests: int = 0,
    ) -> Response:
        """One upstream request; SourceError for connection and protocol failures, SourceTimeoutError
        when it takes longer than the timeout. Any HTTP status is returned, not raised."""
        opts = self._options(http, timeout)
        url, auth = split_credentials(url)
        send = {"User-Agent": _USER_AGENT} | opts.headers | dict(headers or {})
        if auth is not None:
            send["Authorization"] = auth
        if concurrent_requests > 0:
            host = urllib3.util.parse_url(url).netloc or ""
            slot: AbstractContextManager[None] = HostSemaphore(
                self.lock_dir, host, concurrent_requests
            ).acquire(opts.timeout)
        else:
            slot = nullcontext()
        with slot:
            return self._send(method, url, body, send, opts)

    def close(self) -> None:
        for manager in self._managers.values():
            manager.clear()
        self._managers.clear()

    def _send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        opts: _Options,
    ) -> Response:
        start = time.monotonic()
        status: int | str = "-"
        size = 0
        if opts.cookies and (cookie := self._cookie_header(url)):
            headers = headers | {"Cookie": cookie}
        try:
            resp = self._manager(opts).request(
                method,
                url,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=opts.timeout, read=opts.timeout),
                retries=_RETRIES,
                preload_content=False,
            )
            status = resp.status
            complete = False
            try:
                data = self._read(resp, url, start + opts.timeout)
                complete = True
            finally:
                if not complete:
                    # an unread rest must not stay on a pooled connection: close it, then give it back
                    resp.close()
                resp.release_conn()
            size = len(data)
            if opts.cookies:
                # The jar reads only info().get_all() of the response it is given.
                self._cookies.extract_cookies(
                    _SetCookies(resp.headers),  # type: ignore[arg-type]
                    _cookie_request(url),
                )
            return Response(
                resp.status, {k.lower(): v for k, v in resp.headers.items()}, data
            )
        except MaxRetryError as exc:
            raise _translate(exc.reason or exc, url, opts.timeout) from exc
        except (HTTPError, OSError) as exc:
            raise _translate(exc, url, opts.timeout) from exc
        finally:
            get_logger(self.request_log).info(
                "source request",
                method=method,
                url=redact_url(url),
                status=status,
                size_kb=round(size / 1024, 1),
                duration_ms=round((time.monotonic() - start) * 1000),
            )

    def _read(self, resp: urllib3.BaseHTTPResponse, url: str, deadline: float) -> bytes:
        declared = resp.headers.get("Content-Length")
        if (
            declared is not None
            and declared.isdigit()
            and int(declared) > self.max_body
        ):
            raise SourceError(
                f"{describe_url(url)} answered with {int(declared)} bytes, more than {self.max_body}"
            )
        chunks: list[bytes] = []
        size = 0
        while True:
            # The read timeout bounds each socket read, so a server that trickles its answer
            # would outlast it: every read gets only what time is left, and returns what has
            # arrived (read1) rather than waiting for a full chunk.
            left = deadline - time.monotonic()
            if left <= 0:
                raise SourceTimeoutError(
                    f"{describe_url(url)} did not finish answering in time"
                )
            _limit_read_time(resp, left)
            chunk = resp.read1(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > self.max_body:
                raise SourceError(
                    f"{describe_url(url)} answered with more than {self.max_body} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _options(self, http: HttpConf | None, timeout: float | None) -> _Options:
        g, own = self.conf, http or HttpConf()
        if timeout is None:
            timeout = (
                own.client_timeout
                if own.client_timeout is not None
                else g.client_timeout
            )
        no_checks = (
            own.ssl_no_cert_checks
            if own.ssl_no_cert_checks is not None
            else g.ssl_no_cert_checks
        )
        cookies = (
            own.manage_cookies if own.manage_cookies is not None else g.manage_cookies
        )
        return _Options(
            timeout=float(timeout if timeout is not None else DEFAULT_TIMEOUT),
            headers=(g.headers or {}) | (own.headers or {}),
            no_cert_checks=bool(no_checks),
            ca_certs=own.ssl_ca_certs or g.ssl_ca_certs,
            cookies=bool(cookies),
        )

    def _cookie_header(self, url: str) -> str | None:
        request = _cookie_request(url)
        self._cookies.add_cookie_header(request)
        return request.get_header("Cookie")

    def _manager(self, opts: _Options) -> urllib3.PoolManager:
        if self._pid != os.getpid():
            # a forked child: the parent's pooled sockets are not ours to use
            self._managers = {}
            self._pid = os.getpid()
        key = (opts.no_cert_checks, opts.ca_certs)
        if key not in self._managers:
            kwargs: dict[str, Any] = {}
            if opts.no_cert_checks:
                # the user turned checks off on purpose; warning on every request would only add noise
                urllib3.disable_warnings(InsecureRequestWarning)
                kwargs["cert_reqs"] = "CERT_NONE"
            elif opts.ca_certs:
                kwargs["ca_certs"] = opts.ca_certs
            self._managers[key] = urllib3.PoolManager(maxsize=16, block=False, **kwargs)
        return self._managers[key]


def _cookie_request(url: str) -> Request:
    # Never opened: the cookie jar only reads its URL to pick and keep cookies.
    return Request(url)  # noqa: S310


@attrs.frozen
class _SetCookies:
    """An answer's headers as http.cookiejar reads a response's."""

    headers: urllib3.HTTPHeaderDict

    def info(self) -> _SetCookies:
        return self

    def get_all(self, name: str, default: list[str]) -> list[str]:
        return self.headers.getlist(name) or default


def _limit_read_time(resp: urllib3.BaseHTTPResponse, seconds: float) -> None:
    conn = getattr(resp, "connection", None)
    sock = getattr(conn, "sock", None)
    if sock is not None:
        sock.settimeout(seconds)


def _translate(exc: BaseException, url: str, timeout: float) -> SourceError:
    where = describe_url(url)
    # before the timeout check: urllib3 derives NewConnectionError from ConnectTimeoutError
    if isinstance(exc, NewConnectionError):
        return SourceError(f"cannot connect to {where}")
    if isinstance(exc, UrllibTimeoutError | TimeoutError):
        return SourceTimeoutError(f"{where} did not answer within {timeout:g} s")
    if isinstance(exc, SSLError):
        return SourceError(f"TLS error talking to {where}")
    if isinstance(exc, ProtocolError):
        return SourceError(f"connection to {where} broke off")
    if isinstance(exc, SourceError):
        return exc
    return SourceError(f"request to {where} failed: {type(exc).__name__}")


def image_from_response(
    resp: Response, url: str, size: tuple[int, int], what: str
) -> SourceImage:
    """The image of a 200 answer after a header-only check of its type and size; SourceError otherwise.

    Reading the header is cheap and names the upstream in the error; the full decode (and with it
    truncated data) is left to whoever composes the image.
    """
    where = f"{what} {describe_url(url)}"
    if resp.status != 200:
        raise SourceError(f"{where} answered HTTP {resp.status}")
    mime = resp.content_type.split(";")[0].strip().lower()
    if not mime.startswith("image/"):
        raise SourceError(
            f"{where} returned no image ({mime or 'no content type'}){_excerpt(resp.data)}"
        )
    try:
        with Image.open(io.BytesIO(resp.data)) as img:
            got = img.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise SourceError(
            f"{where} returned data that is no image ({mime}, {len(resp.data)} bytes)"
        ) from exc
    if got != size:
        raise SourceError(
            f"{where} returned an image of {got[0]}x{got[1]} pixels, expected {size[0]}x{size[1]}"
        )
    return SourceImage(resp.data, mime)


def _excerpt(data: bytes, limit: int = 200) -> str:
    """A one-line start of a text answer (the words of a ServiceException, without its markup)."""
    text = _WHITESPACE.sub(
        " ", _MARKUP.sub(" ", data[: 4 * limit].decode("utf-8", "replace"))
    ).strip()
    if not text:
        return ""
    return ": " + (text if len(text) <= limit else text[: limit - 3] + "...")
