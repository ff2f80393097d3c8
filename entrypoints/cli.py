"""The `tilegate` command (also installed as `mapproxy-util`)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from entrypoints import commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tilegate", description="Tile cache and map proxy (MapProxy compatible)."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    # Every module in entrypoints/commands registers its own subcommands.
    for info in pkgutil.iter_modules(commands.__path__):
        importlib.import_module(f"{commands.__name__}.{info.name}").register(subparsers)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
