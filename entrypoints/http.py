"""A lean request/response layer over raw WSGI: the hot path pays for nothing it does not use."""

from __future__ import annotations

import email.utils
import functools
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, quote

import attrs

from domain.ports import StoredTile

StartResponse = Callable[..., Any]
Environ = dict[str, Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_REASONS = {
    200: "OK",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    414: "URI Too Long",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
# Answers built from these request headers must say so, or a front cache could be poisoned.
PROXY_VARY = "Host, X-Script-Name, X-Forwarded-Host, X-Forwarded-Proto"


@attrs.define
class Request:
    environ: Environ
    path: str

    @classmethod
    def from_environ(cls, environ: Environ) -> Request:
        raw = environ.get("PATH_INFO", "") or "/"
        # PEP 3333 hands PATH_INFO over as latin-1 decoded bytes; undo that to get UTF-8 back.
        try:
            path = raw.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            path = raw
        return cls(environ, path)

    @property
    def method(self) -> str:
        return str(self.environ.get("REQUEST_METHOD", "GET"))

    def header(self, name: str) -> str | None:
        value = self.environ.get("HTTP_" + name.upper().replace("-", "_"))
        return None if value is None else str(value)

    @property
    def args(self) -> dict[str, str]:
        """Query parameters with lower-cased names (OGC parameter names are case-insensitive)."""
        cached: dict[str, str] | None = self.environ.get("tilegate.args")
        if cached is None:
            cached = {}
            for key, value in parse_qsl(
                self.environ.get("QUERY_STRING", ""), keep_blank_values=True
            ):
                cached.setdefault(key.lower(), value)
            self.environ["tilegate.args"] = cached
        return cached

    @property
    def base_url(self) -> str:
        """The URL this app is served under, as the client sees it (proxy headers honoured).

        Header values that are not a plain host (or path) are ignored rather than escaped: a
        forged `X-Forwarded-Host` must not put markup, spaces or line breaks into an answer.
        """
        env = self.environ
        scheme = self.header("X-Forwarded-Proto") or env.get("wsgi.url_scheme", "http")
        scheme = "https" if scheme.split(",")[0].strip().lower() == "https" else "http"
        forwarded = (self.header("X-Forwarded-Host") or "").split(",")[0].strip()
        host = next(
            (h for h in (forwarded, self.header("Host")) if h and _HOST.fullmatch(h)),
            None,
        )
        if host is None:
            server = (
                f"{env.get('SERVER_NAME', 'localhost')}:{env.get('SERVER_PORT', '80')}"
            )
            host = server if _HOST.fullmatch(server) else "localhost"
        prefix = self.header("X-Script-Name")
        if prefix is None or not _PREFIX.fullmatch(prefix):
            prefix = env.get("SCRIPT_NAME", "")
        return f"{scheme}://{host}{quote(prefix.rstrip('/'), safe='/')}"


# A DNS name or IPv4 address, or a bracketed IPv6 address, with an optional port.
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)
# A path prefix: starts with one slash (`//host` would make URLs point elsewhere), no markup.
_PREFIX = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*/?")


@attrs.define
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = attrs.Factory(list)
    file_path: str | None = None
    content_length: int | None = None

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        headers = [("Content-Type", self.content_type), *self.headers]
        length = (
            self.content_length if self.content_length is not None else len(self.body)
        )
        headers.append(("Content-Length", str(length)))
        headers.append(("X-Content-Type-Options", "nosniff"))
        start_response(f"{self.status} {_REASONS.get(self.status, 'Unknown')}", headers)
        if environ.get("REQUEST_METHOD") == "HEAD" or self.status == 304:
            return [b""]
        if self.file_path is not None:
            try:
                f = open(self.file_path, "rb")  # noqa: SIM115 - the server closes it
            except FileNotFoundError:
                return [b""]
            wrapper = environ.get("wsgi.file_wrapper")
            return wrapper(f, 65536) if wrapper else _read_all(f)
        return [self.body]


def _read_all(f: Any) -> list[bytes]:
    with f:
        return [f.read()]


@functools.lru_cache(maxsize=4096)
def http_date(seconds: int) -> str:
    """An HTTP date; cached because neighbouring tiles share their seconds (hot path)."""
    return email.utils.formatdate(seconds, usegmt=True)


def tile_response(
    request: Request,
    tile: StoredTile,
    content_type: str,
    max_age: int,
    allow_origin: str | None,
) -> Response:
    """A tile with validators (ETag as nginx makes it, from mtime and size) and caching headers."""
    etag = f'"{int(tile.mtime):x}-{tile.size:x}"'
    last_modified = http_date(int(tile.mtime))
    headers = [
        ("ETag", etag),
        ("Last-Modified", last_modified),
        ("Cache-Control", f"public, max-age={max_age}, s-maxage={max_age}"),
    ]
    if allow_origin:
        headers.append(("Access-Control-Allow-Origin", allow_origin))
    if _not_modified(request, etag, tile.mtime):
        return Response(
            304, content_type=content_type, headers=headers, content_length=0
        )
    if tile.data is not None:
        return Response(200, tile.data, content_type, headers)
    return Response(
        200,
        content_type=content_type,
        headers=headers,
        file_path=tile.path,
        content_length=tile.size,
    )


def etag_matches(request: Request, etag: str) -> bool:
    """Whether the request's If-None-Match names etag (weakly compared, as for GET)."""
    match = request.header("If-None-Match")
    return match is not None and (
        match.strip() == "*"
        or etag in [m.strip().removeprefix("W/") for m in match.split(",")]
    )


def _not_modified(request: Request, etag: str, mtime: float) -> bool:
    if request.header("If-None-Match") is not None:
        return etag_matches(request, etag)
    if (since := request.header("If-Modified-Since")) is not None:
        try:
            parsed = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError):
            return False
        return int(mtime) <= parsed.timestamp()
    return False
