"""`tilegate wms-capabilities URL` (also `mapproxy-util`): a summary of a remote WMS."""

from __future__ import annotations

import argparse
import sys

from adapters.wms_capabilities import VERSIONS, WMSLayer, fetch_capabilities
from domain.errors import SourceError
from entrypoints.bootstrap import http_client
from entrypoints.commands import quiet_logging


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "wms-capabilities",
        help="fetch a WMS's capabilities and print its service and layers",
        description="Fetch the GetCapabilities document of a WMS and print its layer tree. "
        "The output is YAML-like, but no Tilegate/MapProxy configuration.",
    )
    parser.add_argument("url", nargs="?", help="the WMS URL")
    parser.add_argument("--host", help="the WMS URL (instead of the argument)")
    parser.add_argument(
        "--version",
        choices=VERSIONS,
        default="1.1.1",
        help="WMS version to ask for (default %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the server (default %(default)s)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    quiet_logging()
    url = args.host or args.url
    if not url:
        print("tilegate wms-capabilities: a WMS URL is needed", file=sys.stderr)
        return 2
    http = http_client(args.timeout)
    try:
        caps = fetch_capabilities(http, url, args.version)
    except SourceError as exc:
        print(f"tilegate wms-capabilities: {exc}", file=sys.stderr)
        return 1
    finally:
        http.close()
    print("# Note: This is not a valid MapProxy configuration!")
    print(f"Capabilities Document Version {caps.version}")
    print("Service:")
    print(f"    title: {caps.title}")
    print(f"    abstract: {caps.abstract}".rstrip())
    print(f"    url: {caps.url}")
    print(f"    formats: {list(caps.formats)}")
    print("Root-Layer:")
    # As MapProxy: an unnamed root is only a folder, its children are the layers.
    top = caps.root.layers if caps.root.name is None else (caps.root,)
    for layer in top:
        _print_layer(layer, caps.url, "  ")
    return 0


def _print_layer(layer: WMSLayer, url: str, indent: str) -> None:
    fields: list[tuple[str, object]] = [
        ("name", layer.name or ""),
        ("title", layer.title),
        ("url", url),
        ("srs", list(layer.srs)),
        ("llbbox", list(layer.llbbox) if layer.llbbox else ""),
        ("queryable", layer.queryable),
        ("opaque", layer.opaque),
        ("abstract", layer.abstract),
        ("bbox_srs", {k: list(v) for k, v in layer.bbox_srs.items()}),
    ]
    for i, (key, value) in enumerate(fields):
        lead = f"{indent}- " if i == 0 else f"{indent}  "
        print(f"{lead}{key}: {value}".rstrip())
    if layer.layers:
        print(f"{indent}  layers:")
        for child in layer.layers:
            _print_layer(child, url, indent + "    ")
