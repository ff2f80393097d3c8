"""The floor: the least a WSGI app can do to serve a cached tile behind gunicorn.

It maps a tile URL straight to a file, `/tms/.../<z>/<x>/<y>.png` to `<root>/tms/<z>/<x>/<y>.png`
and `/wmts/.../<z>/<x>/<y>.png` to `<root>/wmts/<z>/<x>/<y>.png`, and hands it to
`wsgi.file_wrapper`: no configuration, no routing table, no headers beyond type and length.
Only the standard library, so that start-up and imports cost nothing either.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_SERVICES = frozenset(("tms", "wmts"))
_NOT_FOUND = [b"not found\n"]


def make_app(root: str) -> WSGIApp:
    """The floor app serving the tiles under `root`."""
    prefix = os.path.abspath(root) + "/"

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        parts = environ.get("PATH_INFO", "").split("/")
        try:
            service, z, x, y = (
                parts[1],
                int(parts[-3]),
                int(parts[-2]),
                int(parts[-1].partition(".")[0]),
            )
            if service not in _SERVICES:
                raise ValueError(service)
            f = open(f"{prefix}{service}/{z}/{x}/{y}.png", "rb")  # noqa: SIM115 -- the server closes it
        except (IndexError, ValueError, OSError):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return _NOT_FOUND
        size = os.fstat(f.fileno()).st_size
        start_response(
            "200 OK", [("Content-Type", "image/png"), ("Content-Length", str(size))]
        )
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None:
            return wrapper(f, 65536)
        with f:
            return [f.read()]

    return app
