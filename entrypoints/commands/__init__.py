"""The subcommands of `tilegate`, one module each; every module has `register(subparsers)`.

A registered parser sets `run` (via `set_defaults`) to a function taking the parsed arguments
and returning the exit code.
"""
