"""`tilegate autoconfig` (also `mapproxy-util`): a mapproxy.yaml and seed.yaml from a WMS."""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from adapters.config import load_config
from adapters.config_merge import read_yaml
from adapters.config_writer import config_yaml
from adapters.http_client import describe_url
from adapters.wms_capabilities import (
    VERSIONS,
    WMSCapabilities,
    fetch_capabilities,
    parse_capabilities,
)
from domain.errors import ConfigError, ConfigValueError, SourceError
from domain.grids import resolve_grids
from entrypoints.autoconfig import generate_config, generate_seed
from entrypoints.bootstrap import http_client
from entrypoints.commands import quiet_logging

STDOUT = "-"
EXIT_FAILED = 1
EXIT_USAGE = 2


class _AutoconfigError(Exception):
    """A problem that ends the command with one line on stderr."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "autoconfig",
        help="make a mapproxy.yaml and seed.yaml from a WMS's capabilities",
        description="Make a configuration from the GetCapabilities document of a WMS: a WMS "
        "source per named layer, a cache per source for the grids of --base in its SRS, the "
        "layer tree over them, and a seed.yaml for those caches.",
    )
    parser.add_argument(
        "--capabilities",
        required=True,
        metavar="URL|FILE",
        help="the WMS URL (service, request and version are added) or a capabilities file",
    )
    parser.add_argument(
        "--output",
        default=STDOUT,
        metavar="FILE",
        help="the mapproxy.yaml to write (default: standard output)",
    )
    parser.add_argument(
        "--output-seed", metavar="FILE", help="the seed.yaml to write (- for stdout)"
    )
    parser.add_argument(
        "--base",
        metavar="FILE",
        help="a configuration to include with base:; caches are made for its grids",
    )
    parser.add_argument(
        "--overwrite", metavar="FILE", help="YAML merged over the mapproxy.yaml made"
    )
    parser.add_argument(
        "--overwrite-seed", metavar="FILE", help="YAML merged over the seed.yaml made"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace output files that exist"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the WMS (default %(default)s)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    quiet_logging()
    try:
        _run(args)
    except _AutoconfigError as exc:
        print(f"tilegate autoconfig: {exc}", file=sys.stderr)
        return exc.code
    return 0


def _run(args: argparse.Namespace) -> None:
    outputs = [p for p in (args.output, args.output_seed) if p and p != STDOUT]
    if len(set(outputs)) < len(outputs):
        raise _AutoconfigError(
            "--output and --output-seed name the same file", EXIT_USAGE
        )
    if not args.force:
        for path in outputs:
            if Path(path).exists():
                raise _AutoconfigError(
                    f"{path} already exists, use --force to replace it", EXIT_USAGE
                )
    changes = _read_changes(args.overwrite)
    seed_changes = _read_changes(args.overwrite_seed)
    grids_by_srs = _base_grids(args.base) if args.base else {}
    caps = _capabilities(args.capabilities, args.timeout)
    try:
        conf = generate_config(
            caps,
            grids_by_srs,
            changes,
            str(Path(args.base).resolve()) if args.base else None,
        )
        caches = conf.get("caches")
        seed = generate_seed(caches if isinstance(caches, dict) else {}, seed_changes)
    except ConfigValueError as exc:
        raise _AutoconfigError(str(exc)) from None
    header = _header(args.capabilities)
    _write(args.output, header + config_yaml(conf), args.force)
    if args.output_seed:
        _write(args.output_seed, header + config_yaml(seed), args.force)


def _read_changes(path: str | None) -> dict[Any, Any]:
    if path is None:
        return {}
    try:
        return dict(read_yaml(Path(path)))
    except ConfigError as exc:
        raise _AutoconfigError(str(exc)) from None


def _base_grids(path: str) -> dict[str, str]:
    """SRS code -> name of the base configuration's own grids (the built-in GLOBAL_* ones are
    not used for caches, as MapProxy); of two grids in one SRS the later wins."""
    try:
        confs = load_config(Path(path)).conf.grids
        grids = resolve_grids(confs)
    except (ConfigError, ConfigValueError) as exc:
        raise _AutoconfigError(str(exc)) from None
    return {
        grids[name].srs.code: name for name in confs if not name.startswith("GLOBAL_")
    }


def _capabilities(location: str, timeout: float) -> WMSCapabilities:
    try:
        if urlsplit(location).scheme in ("http", "https"):
            return _fetch(location, timeout)
        try:
            data = Path(location).read_bytes()
        except OSError as exc:
            raise _AutoconfigError(
                f"cannot read {location}: {exc.strerror or exc}"
            ) from None
        caps = parse_capabilities(data)
    except SourceError as exc:
        shown = describe_url(location) if "://" in location else location
        # connection errors name the URL already
        prefix = "" if shown in str(exc) else f"{shown}: "
        raise _AutoconfigError(f"{prefix}{exc}") from None
    if not caps.url:
        raise _AutoconfigError(f"{location}: the capabilities name no GetMap URL")
    return caps


def _fetch(url: str, timeout: float) -> WMSCapabilities:
    # the version asked for in the URL, as MapProxy reads it; 1.1.1 if none (or an unknown one)
    asked = {k.lower(): v for k, v in parse_qsl(urlsplit(url).query)}.get("version")
    version = asked if asked in VERSIONS else "1.1.1"
    http = http_client(timeout)
    try:
        return fetch_capabilities(http, url, version)
    finally:
        http.close()


def _header(location: str) -> str:
    shown = describe_url(location) if "://" in location else location
    now = datetime.datetime.now().replace(microsecond=0).isoformat(" ")
    return (
        "# Made by `tilegate autoconfig` from the WMS capabilities of\n"
        f"#   {shown}\n"
        f"# on {now}.\n"
        "#\n"
        "# A starting point, not a tuned configuration: with a cache per WMS layer, a request\n"
        "# for several layers at once makes several upstream requests. Review it before use.\n"
        "\n"
    )


def _write(path: str, text: str, force: bool) -> None:
    if path == STDOUT:
        sys.stdout.write(text)
        return
    try:
        with open(path, "w" if force else "x", encoding="utf-8") as out:
            out.write(text)
    except FileExistsError:
        raise _AutoconfigError(
            f"{path} already exists, use --force to replace it", EXIT_USAGE
        ) from None
    except OSError as exc:
        raise _AutoconfigError(f"cannot write {path}: {exc.strerror or exc}") from None
