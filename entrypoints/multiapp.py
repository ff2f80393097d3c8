"""Many configurations in one process: `CONFIG_DIR/NAME.yaml` is served under `/NAME/`."""

from __future__ import annotations

import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from html import escape
from pathlib import Path

import attrs

from adapters import logs
from domain.errors import ConfigError
from entrypoints import wsgiapp
from entrypoints.http import (
    PROXY_VARY,
    Environ,
    Request,
    Response,
    StartResponse,
    WSGIApp,
)

# A project is `NAME.yaml` directly in the directory. MapProxy takes the file name as it is;
# we also keep it to characters that need no escaping in a URL and exclude a leading dot,
# which rules out `.`, `..` and hidden files before the file system is asked anything.
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
_SUFFIX = ".yaml"
# The WSGI environ key naming the project a request is routed to.
INSTANCE_NAME = "mapproxy.instance_name"
# A broken project is loaded again at most this often (seconds), so a fix is picked up soon
# while a flood of requests does not parse a broken file over and over.
_RETRY_BROKEN = 1.0

_NOT_FOUND = Response(404, b"not found\n")
_BROKEN = Response(
    503,
    b"this project's configuration is broken; the server log says why\n",
    headers=[("Retry-After", "5")],
)


@attrs.frozen
class _Broken:
    """A project whose configuration did not load, and when to try again."""

    retry_at: float


def make_wsgi_app(
    config_dir: str | Path,
    allow_listing: bool = False,
    max_loaded: int = 100,
    debug: bool = False,
) -> MultiApp:
    """A WSGI app serving every `*.yaml` in `config_dir` under its own path prefix.

    Projects are loaded on their first request, reload when their files change, and at most
    `max_loaded` stay loaded (the least recently used is dropped). `allow_listing` makes `/`
    list the projects; otherwise `/` is 404.
    """
    logs.configure(debug=debug)
    directory = Path(config_dir).resolve()
    if not directory.is_dir():
        raise ConfigError(str(config_dir), ["not a directory of configurations"])
    if max_loaded < 1:
        raise ValueError(f"max_loaded must be at least 1, got {max_loaded}")
    return MultiApp(directory, allow_listing, max_loaded, debug)


@attrs.define
class MultiApp:
    """Routes `/NAME/...` to the app of `NAME.yaml`, loading and dropping apps as needed."""

    config_dir: Path
    allow_listing: bool = False
    max_loaded: int = 100
    debug: bool = False
    loaded: OrderedDict[str, WSGIApp | _Broken] = attrs.Factory(OrderedDict)
    lock: threading.Lock = attrs.Factory(threading.Lock)
    # One lock per project being loaded: concurrent first requests wait for one load, and a
    # slow project does not hold up the others.
    loading: dict[str, threading.Lock] = attrs.Factory(dict)

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        # The raw PATH_INFO is enough: a name that is not plain ASCII fails _NAME anyway.
        name, _, _ = environ.get("PATH_INFO", "")[1:].partition("/")
        if not name:
            return self.index(Request.from_environ(environ))(environ, start_response)
        if not _NAME.fullmatch(name) or not os.path.isfile(self.file(name)):
            return _NOT_FOUND(environ, start_response)
        app = self.project(name)
        if app is None:
            return _NOT_FOUND(environ, start_response)
        if isinstance(app, _Broken):
            return _BROKEN(environ, start_response)
        # The project sees itself mounted at /NAME, so every URL it builds carries the prefix.
        prefix = "/" + name
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + prefix
        if "HTTP_X_SCRIPT_NAME" in environ:
            environ["HTTP_X_SCRIPT_NAME"] = (
                environ["HTTP_X_SCRIPT_NAME"].rstrip("/") + prefix
            )
        environ["PATH_INFO"] = environ.get("PATH_INFO", "")[len(prefix) :]
        # As MapProxy: callbacks of a middleware in front (authorize, decorate_img) learn which
        # project a request is for.
        environ[INSTANCE_NAME] = name
        return app(environ, start_response)

    def file(self, name: str) -> str:
        return f"{self.config_dir}{os.sep}{name}{_SUFFIX}"

    def project(self, name: str) -> WSGIApp | _Broken | None:
        """The app of a project, loaded once; None if it is not a project of this directory."""
        with self.lock:
            entry = self._cached(name)
            if entry is not None:
                return entry
            load_lock = self.loading.setdefault(name, threading.Lock())
        with load_lock:
            with self.lock:
                entry = self._cached(name)
            if entry is not None:
                return entry  # another thread loaded it while this one waited
            if not self.is_project(name):
                return None
            entry = self._load(name)
            with self.lock:
                self.loaded[name] = entry
                while len(self.loaded) > self.max_loaded:
                    dropped, _ = self.loaded.popitem(last=False)
                    logs.get_logger(logs.CONFIG).info(
                        "project unloaded", project=dropped
                    )
                self.loading.pop(name, None)
            return entry

    def _cached(self, name: str) -> WSGIApp | _Broken | None:
        entry = self.loaded.get(name)
        if isinstance(entry, _Broken) and time.monotonic() >= entry.retry_at:
            return None
        if entry is not None:
            self.loaded.move_to_end(name)
        return entry

    def is_project(self, name: str) -> bool:
        """Whether NAME.yaml is a regular file directly in the directory (after symlinks)."""
        if not _NAME.fullmatch(name):
            return False
        try:
            real = Path(self.file(name)).resolve(strict=True)
        except (OSError, RuntimeError):
            return False
        return real.parent == self.config_dir and real.is_file()

    def _load(self, name: str) -> WSGIApp | _Broken:
        log = logs.get_logger(logs.CONFIG)
        try:
            app = wsgiapp.make_wsgi_app(
                self.file(name), reloader=True, debug=self.debug
            )
        except ConfigError as exc:
            log.error("project not loaded", project=name, error=str(exc))
            return _Broken(time.monotonic() + _RETRY_BROKEN)
        except Exception:
            # Whatever breaks one project must not take the others down.
            log.exception("project not loaded", project=name)
            return _Broken(time.monotonic() + _RETRY_BROKEN)
        log.info("project loaded", project=name)
        return app

    def projects(self) -> list[str]:
        names = (
            f.removesuffix(_SUFFIX)
            for f in os.listdir(self.config_dir)
            if f.endswith(_SUFFIX)
        )
        return sorted(n for n in names if self.is_project(n))

    def index(self, request: Request) -> Response:
        if not self.allow_listing:
            return _NOT_FOUND
        base = escape(request.base_url, quote=True)
        # Project names are restricted to URL-safe characters; escape anyway, as everywhere.
        items = "".join(
            f'<li><a href="{base}/{escape(n, quote=True)}/">{escape(n)}</a></li>'
            for n in self.projects()
        )
        body = (
            "<!doctype html><html><head><title>Tilegate projects</title></head><body>"
            f"<h1>Projects</h1><ul>{items}</ul></body></html>"
        )
        return Response(
            200, body.encode(), "text/html; charset=utf-8", [("Vary", PROXY_VARY)]
        )
