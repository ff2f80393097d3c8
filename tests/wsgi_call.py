"""Calling a WSGI app in-process as a server would: one GET, the answer's parts back."""

from __future__ import annotations

from typing import Any


def call(
    app: Any, path: str, query: str = "", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of `GET path?query`; `headers` become `HTTP_*` keys."""
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        **{"HTTP_" + k.upper(): v for k, v in headers.items()},
    }
    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body
