"""`make_wsgi_app` and `make_wsgi_app_from_dict`: the WSGI entry points for gunicorn, mod_wsgi
and custom servers (docs/python-api.md)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from adapters import logs
from adapters.config import load_config, parse_config
from domain.errors import ConfigError
from entrypoints.app import TilegateApp
from entrypoints.bootstrap import bootstrap
from entrypoints.http import Environ, StartResponse


def make_wsgi_app(
    config_path: str | Path, reloader: bool = False, debug: bool = False
) -> TilegateApp | ReloadingApp:
    """The app for a mapproxy.yaml; raises ConfigError naming the file and key path if it is bad.

    With `reloader`, the app rebuilds itself when the file or one it includes (`base:`) changes,
    and keeps serving the previous configuration when the new one is broken. With `debug`,
    an unexpected error answers with its traceback (development only).
    """
    logs.configure(debug=debug)
    path = Path(config_path).resolve()
    app, files = _load(path, debug)
    if not reloader:
        return app
    return ReloadingApp(path, app, files, debug=debug)


def make_wsgi_app_from_dict(
    conf: Mapping[str, Any],
    base_dir: str | Path | None = None,
    debug: bool = False,
    source: str = "<config dict>",
) -> TilegateApp:
    """The app for a configuration given as a dict, shaped as mapproxy.yaml (what
    `yaml.safe_load` makes of one); the dict is not changed.

    Relative paths in it (`globals.cache.base_dir`, `base:` files, XSLT files, mapfiles) are
    taken from `base_dir`, else the current directory. A bad configuration raises ConfigError,
    its problems naming `source` and the key path. There is nothing to reload from.
    """
    logs.configure(debug=debug)
    here = Path(base_dir if base_dir is not None else Path.cwd()).resolve()
    loaded = parse_config(dict(conf), source, here)
    return TilegateApp.from_state(bootstrap(loaded, None, base_dir=here), debug)


def _load(path: Path, debug: bool) -> tuple[TilegateApp, dict[Path, float | None]]:
    loaded = load_config(path)
    app = TilegateApp.from_state(bootstrap(loaded, path), debug)
    return app, _mtimes(loaded.files)


def _mtimes(files: Iterable[Path]) -> dict[Path, float | None]:
    stamps: dict[Path, float | None] = {}
    for f in files:
        try:
            stamps[f] = os.stat(f).st_mtime
        except OSError:
            stamps[f] = None
    return stamps


@attrs.define
class ReloadingApp:
    """Serves the current configuration, looking for changed files at most once per `interval`."""

    path: Path
    app: TilegateApp
    files: dict[Path, float | None]
    debug: bool = False
    interval: float = 1.0
    checked: float = attrs.field(factory=time.monotonic)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        if time.monotonic() - self.checked >= self.interval:
            self._check()
        return self.app(environ, start_response)

    def _check(self) -> None:
        if not self.lock.acquire(blocking=False):
            return  # another thread is checking; serve the current app meanwhile
        try:
            self.checked = time.monotonic()
            if _mtimes(self.files) == self.files:
                return
            try:
                self.app, self.files = _load(self.path, self.debug)
                logs.get_logger(logs.CONFIG).info(
                    "configuration reloaded", file=str(self.path)
                )
            except ConfigError as exc:
                # Keep serving the previous configuration; look again when the files change again.
                self.files = _mtimes(self.files)
                logs.get_logger(logs.CONFIG).error(
                    "configuration not reloaded", error=str(exc)
                )
        finally:
            self.lock.release()
