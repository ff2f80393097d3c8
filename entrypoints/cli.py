"""The `tilegate` command (also installed as `mapproxy-util`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapters import logs
from adapters.config import load_config, parse_config
from domain.errors import ConfigError
from entrypoints import devserver
from entrypoints.app import TilegateApp
from entrypoints.bootstrap import bootstrap
from entrypoints.demo_config import demo_config


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
            state = bootstrap(parse_config(demo_config(), "<built-in demo>"), None)
        else:
            path = Path(config).resolve()
            state = bootstrap(load_config(path), path)
    except (ConfigError, ValueError) as exc:
        print(f"tilegate: {exc}", file=sys.stderr)
        return 1
    app = TilegateApp.from_state(state)

    def ready(url: str) -> None:
        print(
            f"Tilegate development server (not for production) at {url}/ - demo: {url}/demo/",
            flush=True,
        )

    devserver.serve(app, bind, ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
