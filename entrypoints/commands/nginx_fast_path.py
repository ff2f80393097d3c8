"""`tilegate nginx-fast-path`: nginx locations serving cached tiles from their files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapters.config import load_config
from domain.errors import ConfigError
from entrypoints.bootstrap import bootstrap
from entrypoints.fast_path import nginx_locations


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "nginx-fast-path",
        help="write nginx locations that serve cached tiles from the files, misses via Tilegate",
    )
    parser.add_argument("-f", "--mapproxy-conf", required=True, help="mapproxy.yaml")
    parser.add_argument(
        "--upstream",
        default="http://127.0.0.1:8080",
        help="where Tilegate listens, for misses (default %(default)s)",
    )
    parser.add_argument(
        "--prefix",
        default="",
        help="the public path Tilegate is served under, e.g. /maps",
    )
    parser.add_argument("-o", "--output", help="write here instead of to stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.mapproxy_conf).resolve()
    try:
        state = bootstrap(load_config(path), path)
        fast = nginx_locations(state, args.upstream, args.prefix)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"tilegate nginx-fast-path: {exc}", file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).write_text(fast.text, encoding="utf-8")
    else:
        sys.stdout.write(fast.text)
    for note in fast.skipped:
        print(f"left to Tilegate: {note}", file=sys.stderr)
    return 0
