"""`tilegate serve-multiapp-develop`: the development server on a directory of configurations."""

from __future__ import annotations

import argparse
import sys

from domain.errors import ConfigError
from entrypoints import devserver, multiapp
from entrypoints.commands.serve import add_server_options, serve


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "serve-multiapp-develop",
        help="run the development server on a directory of configurations (not for production)",
    )
    parser.add_argument(
        "config_dir",
        metavar="CONFIG_DIR",
        help="directory of NAME.yaml files, served under /NAME/",
    )
    add_server_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        devserver.parse_bind(args.bind)
        app = multiapp.make_wsgi_app(
            args.config_dir, allow_listing=True, debug=args.debug
        )
    except (ConfigError, ValueError) as exc:
        print(f"tilegate: {exc}", file=sys.stderr)
        return 1
    serve(app, args.bind, start_page="")
    return 0
