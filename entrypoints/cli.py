"""The `tilegate` command (also installed as `mapproxy-util`)."""

from __future__ import annotations

import argparse
import sys

from entrypoints.commands import serve

# Each module adds its subcommands; see entrypoints/commands/__init__.py.
COMMAND_MODULES = (serve,)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tilegate", description="Tile cache and map proxy (MapProxy compatible)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(commands)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
