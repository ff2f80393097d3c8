"""`python -m tests.bench`: Tilegate vs MapProxy vs the floor app, in interleaved rounds."""

from __future__ import annotations

import argparse
import os
import sys
import time

from tests.bench.processes import BenchError, interrupt_on_signals
from tests.bench.report import render
from tests.bench.runner import SCENARIOS, SERVER_NAMES, SERVICES, Bench, Options


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description="Serve one mapproxy.yaml with Tilegate and MapProxy (and a floor app) under the same gunicorn "
        "and compare start-up, seeding, cached tiles, cache misses, conditional requests and WMS GetMap, and the same behind nginx (with the fast path). See docs/benchmark.md.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="about 3 minutes: 2 short rounds, fewer misses and start-up runs",
    )
    parser.add_argument(
        "--rounds", type=int, help="interleaved rounds (default 3, --quick 2)"
    )
    parser.add_argument(
        "--seconds", type=float, help="seconds per wrk run (default 4, --quick 2)"
    )
    parser.add_argument(
        "--connections",
        default="8,64",
        help="concurrent clients for cached tiles (default 8,64)",
    )
    parser.add_argument(
        "--miss-metas",
        type=int,
        help="meta-tiles of misses per round (default 16, --quick 6)",
    )
    parser.add_argument(
        "--services",
        default="tms,wmts",
        help="services whose URLs the cached-tile runs cycle through (default tms,wmts)",
    )
    parser.add_argument(
        "--startup-runs",
        type=int,
        help="fresh interpreters per server for the start-up scenario (default 7, --quick 3)",
    )
    parser.add_argument(
        "--wms-requests",
        type=int,
        help="WMS GetMap requests per case and server (default 24, --quick 12)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="gunicorn workers of every server (default 2)",
    )
    parser.add_argument(
        "--worker-classes",
        "--worker-class",
        default="sync,gthread",
        help="gunicorn worker classes, each measured on cached tiles; misses and conditional"
        " requests use the first (default sync,gthread)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        help="gunicorn --threads of gthread workers (default 4)",
    )
    parser.add_argument(
        "--wrk-threads",
        type=int,
        default=1,
        help="wrk threads (default 1: leaves the cores to the servers)",
    )
    parser.add_argument(
        "--servers",
        default="tilegate,mapproxy,floor",
        help="which to run, comma separated (default tilegate,mapproxy,floor)",
    )
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"scenarios to run, comma separated (default all: {','.join(SCENARIOS)})",
    )
    args = parser.parse_args(argv)
    by_lower = {n.lower(): n for n in SERVER_NAMES}
    wanted = [s.strip().lower() for s in args.servers.split(",") if s.strip()]
    if unknown := [s for s in wanted if s not in by_lower]:
        parser.error(
            f"unknown server(s) {', '.join(unknown)}; choose from {', '.join(by_lower)}"
        )
    scenarios = _choices(parser, "--only", args.only, SCENARIOS)
    services = _choices(parser, "--services", args.services, SERVICES)
    worker_classes = tuple(
        c.strip() for c in args.worker_classes.split(",") if c.strip()
    )
    if not worker_classes or len(set(worker_classes)) < len(worker_classes):
        parser.error("--worker-classes: one or more distinct gunicorn worker classes")
    connections = tuple(int(c) for c in args.connections.split(","))
    if not connections or min(connections) < 1 or max(connections) > 1000:
        parser.error("--connections: between 1 and 1000 clients")
    options = Options(
        servers=tuple(by_lower[s] for s in wanted),
        scenarios=scenarios,
        rounds=args.rounds or (2 if args.quick else 3),
        seconds=args.seconds or (2.0 if args.quick else 4.0),
        connections=connections,
        services=services,
        miss_metas=args.miss_metas or (6 if args.quick else 16),
        startup_runs=args.startup_runs or (3 if args.quick else 7),
        workers=args.workers,
        worker_classes=worker_classes,
        threads=args.threads,
        wrk_threads=args.wrk_threads,
        wms_requests=(12 if args.quick else 24)
        if args.wms_requests is None
        else args.wms_requests,
    )
    if not (
        1 <= options.rounds <= 20
        and 1 <= options.seconds <= 120
        and 1 <= options.miss_metas <= 64
        and 1 <= options.startup_runs <= 50
        and 1 <= options.threads <= 64
        and 1 <= options.wms_requests <= 1000
    ):
        parser.error(
            "--rounds 1..20, --seconds 1..120, --miss-metas 1..64, --startup-runs 1..50, --threads 1..64,"
            " --wms-requests 1..1000"
        )
    return options


def _choices(
    parser: argparse.ArgumentParser, flag: str, value: str, known: tuple[str, ...]
) -> tuple[str, ...]:
    """The comma-separated choices in `value`, in `known`'s order."""
    wanted = {v.strip().lower() for v in value.split(",") if v.strip()}
    if unknown := wanted - set(known):
        parser.error(
            f"{flag}: unknown {', '.join(sorted(unknown))}; choose from {', '.join(known)}"
        )
    if not wanted:
        parser.error(f"{flag}: choose at least one of {', '.join(known)}")
    return tuple(k for k in known if k in wanted)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    interrupt_on_signals()
    start, load_before = time.monotonic(), os.getloadavg()[0]
    try:
        results = Bench(options, sys.stdout).run()
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench interrupted; every server it started is stopped", file=sys.stderr)
        return 130
    print()
    print(render(results, options.rounds))
    print(
        f"{time.monotonic() - start:.0f} s; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after,"
        f" on {os.cpu_count()} cores (other work on the machine moves req/s and latency, far less CPU/req)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
