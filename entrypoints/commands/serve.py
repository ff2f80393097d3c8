"""`tilegate serve-develop`: the development server on a configuration or the built-in demo."""

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


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve-develop", help="run the development server (not for production)"
    )
    serve.add_argument(
        "config", nargs="?", help="mapproxy.yaml; without it, the built-in offline demo"
    )
    add_server_options(serve)
    serve.set_defaults(run=run)


def add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-b",
        "--bind",
        default="127.0.0.1:8080",
        help="HOST:PORT to listen on (default %(default)s)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="debug logging, a line per request, tracebacks in error answers",
    )


def run(args: argparse.Namespace) -> int:
    logs.configure(debug=args.debug)
    try:
        devserver.parse_bind(args.bind)
        if args.config is None:
            loaded = parse_config(demo_config(), "<built-in demo>")
            app: WSGIApp = TilegateApp.from_state(
                bootstrap(loaded, None), debug=args.debug
            )
        else:
            app = make_wsgi_app(args.config, reloader=True, debug=args.debug)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"tilegate: {exc}", file=sys.stderr)
        return 1
    serve(app, args.bind)
    return 0


def serve(app: WSGIApp, bind: str, start_page: str = "demo/") -> None:
    def ready(url: str) -> None:
        print(
            f"Tilegate development server (not for production) at {url}/ - start at {url}/{start_page}",
            flush=True,
        )

    devserver.serve(app, bind, ready)
