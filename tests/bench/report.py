"""The numbers of a run and the table that shows them: medians over rounds, and ratios."""

from __future__ import annotations

import statistics
from typing import Any

import attrs

COLUMNS = ("Tilegate", "MapProxy", "floor")
RATIOS = (
    ("TG/MP", "Tilegate", "MapProxy"),
    ("TG/floor", "Tilegate", "floor"),
    ("MP/floor", "MapProxy", "floor"),
)
SCENARIO_WIDTH = 34
# The goal for the start-up scenario: Tilegate's load at most this share of MapProxy's,
# and under this many milliseconds.
LOAD_GOAL_RATIO = 0.2
LOAD_GOAL_MS = 1000.0


@attrs.frozen
class CachedResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu_us_per_req: float | None


@attrs.frozen
class StartupResult:
    import_ms: float
    load_ms: float
    load_cpu_ms: float
    reload_ms: float
    rss_mb: float
    total_rss_mb: float


@attrs.frozen
class MissResult:
    tiles_per_s: float
    upstream_per_meta: float
    failed: int
    cpu_ms_per_tile: float | None


@attrs.define
class Results:
    cached: dict[str, dict[str, list[CachedResult]]] = attrs.Factory(dict)
    misses: dict[str, dict[str, list[MissResult]]] = attrs.Factory(dict)
    statuses: dict[str, dict[str, str]] = attrs.Factory(dict)
    startup: dict[str, dict[str, list[StartupResult]]] = attrs.Factory(dict)

    def add_startup(self, key: str, server: str, result: StartupResult) -> None:
        self.startup.setdefault(key, {}).setdefault(server, []).append(result)

    def add_cached(self, key: str, server: str, result: CachedResult) -> None:
        self.cached.setdefault(key, {}).setdefault(server, []).append(result)

    def add_misses(self, key: str, server: str, result: MissResult) -> None:
        self.misses.setdefault(key, {}).setdefault(server, []).append(result)

    def add_status(self, key: str, server: str, status: str) -> None:
        self.statuses.setdefault(key, {})[server] = status

    def as_json(self) -> dict[str, Any]:
        return {
            "cached": {
                k: {s: [attrs.asdict(r) for r in rs] for s, rs in v.items()}
                for k, v in self.cached.items()
            },
            "misses": {
                k: {s: [attrs.asdict(r) for r in rs] for s, rs in v.items()}
                for k, v in self.misses.items()
            },
            "statuses": self.statuses,
            "startup": {
                k: {s: [attrs.asdict(r) for r in rs] for s, rs in v.items()}
                for k, v in self.startup.items()
            },
        }


def _medians(values: dict[str, list[float | None]]) -> dict[str, float]:
    return {
        s: statistics.median(known)
        for s, vs in values.items()
        if (known := [v for v in vs if v is not None])
    }


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _ratio(values: dict[str, float], a: str, b: str) -> str:
    if a in values and b in values and values[b]:
        return f"{values[a] / values[b]:.2f}"
    return "-"


def _row(
    scenario: str,
    metric: str,
    values: dict[str, float],
    texts: dict[str, str] | None = None,
) -> str:
    cells = [
        texts.get(c, "-") if texts is not None else _num(values.get(c)) for c in COLUMNS
    ]
    ratios = (
        [_ratio(values, a, b) for _, a, b in RATIOS] if texts is None else ["", "", ""]
    )
    return (
        f"{scenario:<{SCENARIO_WIDTH}} {metric:<14}"
        + "".join(f"{c:>10}" for c in cells)
        + "".join(f"{r:>10}" for r in ratios)
    )


def _startup_rows(
    key: str, per_server: dict[str, list[StartupResult]], notes: list[str]
) -> list[str]:
    def median(field: str) -> dict[str, float]:
        return {
            s: statistics.median(getattr(r, field) for r in rs)
            for s, rs in per_server.items()
        }

    load, cpu = median("load_ms"), median("load_cpu_ms")
    rows = [
        _row(key, "import ms", median("import_ms")),
        _row("", "load ms", load),
        _row("", "load CPU ms", cpu),
        _row("", "reload ms", median("reload_ms")),
        _row("", "load RSS MB", median("rss_mb")),
        _row("", "total RSS MB", median("total_rss_mb")),
    ]
    if "Tilegate" in load and "MapProxy" in load:
        ratio = load["Tilegate"] / load["MapProxy"]
        met = ratio <= LOAD_GOAL_RATIO and load["Tilegate"] < LOAD_GOAL_MS
        notes.append(
            f"start-up goal (Tilegate's load <= {LOAD_GOAL_RATIO}x MapProxy's and < {LOAD_GOAL_MS:.0f} ms): "
            f"{'met' if met else 'MISSED'}: {load['Tilegate']:.0f} ms vs {load['MapProxy']:.0f} ms = {ratio:.3f}x"
            f" (CPU {cpu['Tilegate']:.0f} vs {cpu['MapProxy']:.0f} ms = {cpu['Tilegate'] / cpu['MapProxy']:.2f}x)"
        )
    return rows


def render(results: Results, rounds: int) -> str:
    """The final table: per scenario the median of the rounds for each server, and ratios."""
    header = (
        f"{'scenario':<{SCENARIO_WIDTH}} {'metric':<14}"
        + "".join(f"{c:>10}" for c in COLUMNS)
        + "".join(f"{r:>10}" for r, _, _ in RATIOS)
    )
    lines = [header, "-" * len(header)]
    notes: list[str] = []
    for key, loads in results.startup.items():
        lines += _startup_rows(key, loads, notes)
    for key, per_server in results.cached.items():
        rps = {s: statistics.median(r.rps for r in rs) for s, rs in per_server.items()}
        p99 = {
            s: statistics.median(r.p99_ms for r in rs) for s, rs in per_server.items()
        }
        p50 = {
            s: statistics.median(r.p50_ms for r in rs) for s, rs in per_server.items()
        }
        cpu = _medians(
            {s: [r.cpu_us_per_req for r in rs] for s, rs in per_server.items()}
        )
        lines += [
            _row(key, "req/s", rps),
            _row("", "p50 ms", p50),
            _row("", "p99 ms", p99),
            _row("", "CPU us/req", cpu),
        ]
        for s, rs in per_server.items():
            if errors := sum(r.errors for r in rs):
                notes.append(
                    f"{s}, {key}: {errors} errors of {sum(r.requests for r in rs)} requests"
                )
    for key, per_cache in results.misses.items():
        tps = {
            s: statistics.median(r.tiles_per_s for r in rs)
            for s, rs in per_cache.items()
        }
        upm = {
            s: statistics.median(r.upstream_per_meta for r in rs)
            for s, rs in per_cache.items()
        }
        cpu = _medians(
            {s: [r.cpu_ms_per_tile for r in rs] for s, rs in per_cache.items()}
        )
        lines += [
            _row(key, "tiles/s", tps),
            _row("", "upstream/meta", upm),
            _row("", "CPU ms/tile", cpu),
        ]
        for s, misses in per_cache.items():
            if failed := sum(m.failed for m in misses):
                notes.append(f"{s}, {key}: {failed} tiles failed")
            worst = max(m.upstream_per_meta for m in misses)
            if worst > 1:
                notes.append(
                    f"{s}, {key}: up to {worst:.2f} upstream requests per meta-tile in a round (ideal: 1)"
                )
    for key, statuses in results.statuses.items():
        lines.append(_row(key, "status", {}, statuses))
    lines.append("-" * len(header))
    if results.startup:
        lines.append(
            "start-up: median of fresh interpreters; load = make_wsgi_app after importing the WSGI module"
            " (MapProxy imports part of its code during it), reload = a second load in that process,"
            " RSS = resident memory after the load (load: minus before it)"
        )
    if results.cached or results.misses:
        lines.append(
            f"median of {rounds} round(s); ratios are left/right of the medians: above 1 is better for req/s and"
            " tiles/s, worse for ms and CPU (CPU: all of the server's gunicorn processes, the steadiest number"
            " on a busy machine)"
        )
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)
