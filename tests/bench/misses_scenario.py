"""The misses and conditional scenarios: uncached tiles fetched by parallel clients (tiles/s,
upstream requests per meta-tile, CPU per tile), and the answers to conditional requests."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.bench import load, workload
from tests.bench.processes import Server, group_cpu_seconds
from tests.bench.results import MissResult, Results, cpu_text, per_item

CONCURRENCY = 8


def run_misses(
    servers: dict[str, Server],
    upstream: str,
    tiles: list[workload.Tile],
    key: str,
    results: Results,
    say: Callable[[str], None],
) -> None:
    """Each server fetches `tiles` (none of them cached) with CONCURRENCY clients."""
    metas = len({t.meta for t in tiles})
    line = []
    for name, server in servers.items():
        load.fetch(upstream, "/_reset")
        cpu_before = group_cpu_seconds(server.proc.pid)
        batch = load.fetch_all(server.url, [t.tms_path() for t in tiles], CONCURRENCY)
        cpu = per_item(group_cpu_seconds(server.proc.pid), cpu_before, len(tiles), 1e3)
        stats = json.loads(load.fetch(upstream, "/_stats").body)
        bad = sum(n for status, n in batch.statuses.items() if status != 200)
        result = MissResult(
            len(tiles) / batch.seconds, stats["total"] / metas, bad, cpu
        )
        results.add_misses(key, name, result)
        err = f" ({bad} failed: {batch.statuses})" if bad else ""
        line.append(
            f"{name} {result.tiles_per_s:4.0f} tiles/s {result.upstream_per_meta:.2f} upstream/meta"
            f"{cpu_text(cpu, 'ms/tile')}{err}"
        )
    if line:
        say(f"  {key:<34} " + " | ".join(line))


def run_conditional(servers: dict[str, Server], results: Results) -> None:
    """The status each server answers a cached tile's ETag and Last-Modified with."""
    tile = workload.cached_tiles()[0]
    for name, server in servers.items():
        first = load.fetch(server.url, tile.tms_path())
        etag, modified = first.headers.get("etag"), first.headers.get("last-modified")
        inm = (
            str(load.fetch(server.url, tile.tms_path(), {"If-None-Match": etag}).status)
            if etag
            else "no ETag"
        )
        ims = (
            str(
                load.fetch(
                    server.url, tile.tms_path(), {"If-Modified-Since": modified}
                ).status
            )
            if modified
            else "no Last-Modified"
        )
        results.add_status("If-None-Match", name, inm)
        results.add_status("If-Modified-Since", name, ims)
