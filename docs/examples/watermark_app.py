"""Tilegate inside your own WSGI server: every map and tile carries the name of its user.

A reverse proxy in front authenticates users and passes the name on in `X-Forwarded-User`
(nginx `auth_request`, oauth2-proxy, ...). The middleware gives Tilegate a
`mapproxy.decorate_img` callback that writes the name into each image; the cache keeps
the plain tiles.

    gunicorn --workers 4 --bind 127.0.0.1:8080 'watermark_app:make_app("/srv/tilegate/mapproxy.yaml")'
    python watermark_app.py /srv/tilegate/mapproxy.yaml    # wsgiref, to try it out
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import make_server

from PIL import Image, ImageDraw

from entrypoints.wsgiapp import make_wsgi_app

Environ = dict[str, Any]
WSGIApp = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]


def watermark(image: Image.Image, text: str) -> Image.Image:
    """image with text in its top left corner, dark red on a white plate."""
    marked = image.convert("RGBA")
    draw = ImageDraw.Draw(marked)
    left, top, right, bottom = draw.textbbox((4, 4), text)
    draw.rectangle(
        (left - 2, top - 2, right + 2, bottom + 2), fill=(255, 255, 255, 255)
    )
    draw.text((4, 4), text, fill=(160, 0, 0, 255))
    return marked


class Watermark:
    """WSGI middleware: Tilegate's images carry the name of the user who asked for them."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(
        self, environ: Environ, start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        # Only trust this header when the proxy sets it and drops one sent by the client.
        user = environ.get("HTTP_X_FORWARDED_USER", "anonymous")

        def decorate_img(
            image: Any,
            service: str,
            layers: list[str],
            environ: Environ,
            query_extent: tuple[str, tuple[float, float, float, float]],
            **kw: Any,
        ) -> Image.Image:
            # service: wms.map, tms, wmts or kml; query_extent: (SRS code, bbox).
            return watermark(image.as_image(), user)

        environ["mapproxy.decorate_img"] = decorate_img
        return self.app(environ, start_response)


def make_app(config: str) -> Watermark:
    """The WSGI application for gunicorn, mod_wsgi or any other WSGI server."""
    return Watermark(make_wsgi_app(config))


if __name__ == "__main__":
    with make_server("127.0.0.1", 8080, make_app(sys.argv[1])) as server:
        server.serve_forever()
