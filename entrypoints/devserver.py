"""The development server: a threaded wsgiref server. Not for production; use gunicorn there."""

from __future__ import annotations

import contextlib
import socketserver
from collections.abc import Callable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from adapters import logs


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    # The app logs each request on mapproxy.access; wsgiref's own lines go there at debug too.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_message(self, format: str, *args: Any) -> None:
        logs.get_logger(logs.ACCESS).debug(format % args, client=self.client_address[0])


def parse_bind(bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--bind must be HOST:PORT, got {bind!r}")
    return (host.strip("[]") or "127.0.0.1", int(port))


def serve(app: Callable[..., Any], bind: str, on_ready: Callable[[str], None]) -> None:
    host, port = parse_bind(bind)
    with make_server(
        host, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler
    ) as server:
        on_ready(f"http://{host}:{server.server_port}")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
