"""`make_wsgi_app`: the WSGI entry point for gunicorn, mod_wsgi and custom servers."""

from __future__ import annotations

from pathlib import Path

from adapters import logs
from adapters.config import load_config
from entrypoints.app import TilegateApp
from entrypoints.bootstrap import bootstrap


def make_wsgi_app(config_path: str | Path, reloader: bool = False) -> TilegateApp:
    """The app for a mapproxy.yaml; raises ConfigError naming the file and key path if it is bad."""
    logs.configure()
    path = Path(config_path).resolve()
    return TilegateApp.from_state(bootstrap(load_config(path), path))
