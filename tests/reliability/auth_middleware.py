"""A real auth middleware for the access-control tests, in front of Tilegate's WSGI app.

It authenticates by the `X-User` header (a stand-in for HTTP basic auth or a session cookie)
and answers Tilegate's `mapproxy.authorize` calls the way MapProxy's documentation describes.
gunicorn loads it as ``tests.reliability.auth_middleware:make_app('/path/mapproxy.yaml')``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from entrypoints.http import Environ, StartResponse, WSGIApp
from entrypoints.wsgiapp import make_wsgi_app

ALL = {"map": True, "featureinfo": True, "legendgraphic": True, "tile": True}
# The north-east quarter of the world's lower latitudes: what `bob` and `carol` may see.
LIMIT_WKT = "POLYGON((0 0, 90 0, 90 60, 0 60, 0 0))"
USERS: dict[str, dict[str, Any]] = {
    "admin": {"authorized": "full"},
    "nobody": {"authorized": "none"},
    "alice": {"authorized": "partial", "layers": {"pub": ALL}},
    "bob": {
        "authorized": "partial",
        "layers": {
            "pub": {**ALL, "limited_to": {"geometry": LIMIT_WKT, "srs": "EPSG:4326"}}
        },
    },
    "carol": {
        "authorized": "partial",
        "limited_to": {"geometry": [0, 0, 90, 60], "srs": "EPSG:4326"},
        "layers": {"pub": ALL},
    },
    # Answers Tilegate cannot read: they permit nothing.
    "broken": {"authorized": "yes"},
    "badgeom": {
        "authorized": "partial",
        "layers": {
            "pub": {**ALL, "limited_to": {"geometry": "POLYGON((", "srs": "EPSG:4326"}}
        },
    },
    # May draw `pub` but not query it or see its legend.
    "dave": {"authorized": "partial", "layers": {"pub": {"map": True, "tile": True}}},
}


class AuthMiddleware:
    """Puts the user's authorize callback into the environ; records every call it answers."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.calls: list[tuple[str, list[str], dict[str, Any]]] = []

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        user = environ.get("HTTP_X_USER")

        def authorize(
            service: str,
            layers: list[str],
            environ: Environ | None = None,
            **kw: Any,
        ) -> dict[str, Any]:
            self.calls.append((service, list(layers), kw))
            if user is None:
                return {"authorized": "unauthenticated"}
            return USERS.get(user, {"authorized": "none"})

        environ["mapproxy.authorize"] = authorize
        return self.app(environ, start_response)


def make_app(config: str) -> AuthMiddleware:
    return AuthMiddleware(make_wsgi_app(config))
