"""The `tilegate` command (also installed as `mapproxy-util`)."""

from __future__ import annotations

import argparse
import sys

from adapters import logs
from adapters.config import parse_config
from domain.errors import ConfigError
from entrypoints import devserver
from entrypoints.app import TilegateApp
from entrypoints.bootstrap import bootstrap
from entrypoints.demo_config import demo_config
from entrypoints.http import WSGIApp
from entrypoints.wsgiapp import make_wsgi_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tilegate", description="Tile cache and map proxy (MapProxy compatible)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve-develop", help="run the development server (not for production)"
    )
    serve.add_argument(
        "config", nargs="?", help="mapproxy.yaml; without it, the built-in offline demo"
    )
    serve.add_argument(
        "-b",
        "--bind",
        default="127.0.0.1:8080",
        help="HOST:PORT to listen on (default %(default)s)",
    )
    serve.add_argument("--debug", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    if args.command == "serve-develop":
        return _serve_develop(args.config, args.bind, args.debug)
    return 2  # pragma: no cover - argparse rejects other commands


def _serve_develop(config: str | None, bind: str, debug: bool) -> int:
    logs.configure(debug=debug)
    try:
        devserver.parse_bind(bind)
        if config is None:
            loaded = parse_config(demo_config(), "<built-in demo>")
            app: WSGIApp = TilegateApp.from_state(bootstrap(loaded, None))
        else:
            app = make_wsgi_app(config, reloader=True)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"tilegate: {exc}", file=sys.stderr)
        return 1

    def ready(url: str) -> None:
        print(
            f"Tilegate development server (not for production) at {url}/ - demo: {url}/demo/",
            flush=True,
        )

    devserver.serve(app, bind, ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
