"""The subcommands of `tilegate`, one module each; every module has `register(subparsers)`.

A registered parser sets `run` (via `set_defaults`) to a function taking the parsed arguments
and returning the exit code.
"""

import logging

from adapters import logs


def quiet_logging() -> None:
    """Logging for the tools whose output is their result: warnings and errors only, on stderr."""
    logs.configure()
    logging.getLogger("mapproxy").setLevel(logging.WARNING)
