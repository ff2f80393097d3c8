"""`tilegate create -t TEMPLATE`: starter files, with the options of `mapproxy-util create`."""

from __future__ import annotations

import argparse
import importlib.resources
import string
import sys
from collections.abc import Callable
from pathlib import Path

# Each template turns (destination, --mapproxy-conf) into the files to write.
Render = Callable[[Path, Path | None], dict[Path, str]]


class UsageError(Exception):
    """A command line that cannot be carried out; the message says why."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "create", help="write starter files: configuration, WSGI module, log.ini"
    )
    parser.add_argument(
        "-t", "--template", choices=list(TEMPLATES), help="the template to write"
    )
    parser.add_argument(
        "-l", "--list-templates", action="store_true", help="list the templates"
    )
    parser.add_argument(
        "-f",
        "--mapproxy-conf",
        type=Path,
        help="an existing mapproxy.yaml (needed by wsgi-app)",
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite files that exist"
    )
    parser.add_argument(
        "destination",
        nargs="?",
        type=Path,
        help="directory (base-config) or file (wsgi-app, log-ini)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.list_templates:
        for name, (_, about) in TEMPLATES.items():
            print(f"{name:12} {about}")
        return 0
    try:
        if args.template is None:
            raise UsageError("create needs -t TEMPLATE, one of " + ", ".join(TEMPLATES))
        if args.destination is None:
            raise UsageError(f"template {args.template} needs a destination")
        render, _ = TEMPLATES[args.template]
        files = render(args.destination, args.mapproxy_conf)
        # Check every file before writing any: a refusal leaves nothing half done.
        existing = [str(p) for p in files if p.exists()]
        if existing and not args.force:
            raise UsageError(f"will not overwrite {', '.join(existing)}; use --force")
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"writing {path}")
    except (UsageError, OSError) as exc:
        print(f"tilegate: {exc}", file=sys.stderr)
        return 1
    return 0


def _template(name: str) -> str:
    return (importlib.resources.files("entrypoints") / "templates" / name).read_text(
        encoding="utf-8"
    )


def _base_config(destination: Path, _conf: Path | None) -> dict[Path, str]:
    return {destination / n: _template(n) for n in ("mapproxy.yaml", "seed.yaml")}


def _wsgi_app(destination: Path, conf: Path | None) -> dict[Path, str]:
    if conf is None:
        raise UsageError("template wsgi-app needs -f/--mapproxy-conf mapproxy.yaml")
    if not conf.is_file():
        raise UsageError(f"{conf}: no such configuration file")
    # An absolute path, so the module works whatever directory the server starts in.
    text = string.Template(_template("wsgi-app.py.template")).substitute(
        config=repr(str(conf.resolve()))
    )
    return {destination: text}


def _log_ini(destination: Path, _conf: Path | None) -> dict[Path, str]:
    # Log files next to the log.ini, by absolute path: a plain fileConfig(path) works from any
    # directory. `%` is doubled because fileConfig interpolates values.
    here = destination.resolve().parent

    def literal(name: str) -> str:
        return repr(str(here / name)).replace("%", "%%")

    text = string.Template(_template("log.ini.template")).substitute(
        general_log=literal("tilegate.log"),
        source_requests_log=literal("source-requests.log"),
    )
    return {destination: text}


TEMPLATES: dict[str, tuple[Render, str]] = {
    "base-config": (_base_config, "a commented mapproxy.yaml and seed.yaml in DIR"),
    "wsgi-app": (_wsgi_app, "a WSGI module (`application`) for -f mapproxy.yaml"),
    "log-ini": (_log_ini, "a logging configuration for logging.config.fileConfig"),
}
