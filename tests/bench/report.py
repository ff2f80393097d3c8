"""The table that shows a run's numbers (tests/bench/results.py): medians over rounds, and ratios."""

from __future__ import annotations

import statistics

from tests.bench.results import CachedResult, Results, SeedResult, StartupResult

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
# The nginx scenario's variants (tests/bench/nginx_scenario.py) and the goal: the fast
# path at least this share of the static files' req/s.
NGINX_COLUMNS = ("static", "fastpath", "TG proxy", "MP proxy")
NGINX_RATIOS = (
    ("fast/stat", "fastpath", "static"),
    ("fast/MP", "fastpath", "MP proxy"),
    ("TG/MP", "TG proxy", "MP proxy"),
)
NGINX_GOAL_RATIO = 0.5
# The goals for seeding: Tilegate's tiles/s at least this many times MapProxy's at
# each concurrency, and its run at most this share longer than the source alone needs.
SEED_GOAL_RATIO = 1.3
SEED_GOAL_OVERHEAD = 0.15
# The goals for WMS GetMap: Tilegate's median latency at most this share of MapProxy's,
# and its PSNR at least MapProxy's and at least this many dB, in every case.
WMS_GOAL_RATIO = 0.7
WMS_GOAL_PSNR = 25.0


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
    columns: tuple[str, ...] = COLUMNS,
    ratio_defs: tuple[tuple[str, str, str], ...] = RATIOS,
) -> str:
    cells = [
        texts.get(c, "-") if texts is not None else _num(values.get(c)) for c in columns
    ]
    ratios = (
        [_ratio(values, a, b) for _, a, b in ratio_defs]
        if texts is None
        else [""] * len(ratio_defs)
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


def _seeding_rows(
    key: str, per_server: dict[str, list[SeedResult]], notes: list[str]
) -> list[str]:
    def median(field: str) -> dict[str, float]:
        return _medians(
            {s: [getattr(r, field) for r in rs] for s, rs in per_server.items()}
        )

    tps, run_s = median("tiles_per_s"), median("seconds")
    rows = [
        _row(key, "tiles/s", tps),
        _row("", "run s", run_s),
        _row("", "start-up s", median("startup_s")),
        _row("", "upstream/meta", median("upstream_per_meta")),
        _row("", "CPU ms/tile", median("cpu_ms_per_tile")),
    ]
    tg, mp, floor = "Tilegate", "MapProxy", "floor"
    if tg in tps and mp in tps:
        ratio = tps[tg] / tps[mp]
        notes.append(
            f"{key}: goal Tilegate >= {SEED_GOAL_RATIO}x MapProxy's tiles/s: "
            f"{'met' if ratio >= SEED_GOAL_RATIO else 'MISSED'}: {tps[tg]:.0f} vs {tps[mp]:.0f} = {ratio:.2f}x"
        )
    if tg in run_s and floor in run_s:
        over = run_s[tg] / run_s[floor] - 1
        start = median("startup_s").get(tg, 0.0)
        notes.append(
            f"{key}: goal Tilegate's overhead on the source's time <= {SEED_GOAL_OVERHEAD:.0%}: "
            f"{'met' if over <= SEED_GOAL_OVERHEAD else 'MISSED'}: {run_s[tg]:.2f} s vs {run_s[floor]:.2f} s"
            f" alone = {over:+.0%} (without its {start:.2f} s start-up: {(run_s[tg] - start) / run_s[floor] - 1:+.0%})"
        )
    for s, rs in per_server.items():
        if s != floor and (worst := max(r.upstream_per_meta for r in rs)) != 1:
            notes.append(
                f"{s}, {key}: {worst:.2f} upstream requests per meta-tile in a round (ideal: 1)"
            )
    if len({r.tiles for rs in per_server.values() for r in rs}) > 1:
        notes.append(f"{key}: the seeders stored different numbers of tiles")
    return rows


def _wms_rows(results: Results, notes: list[str]) -> list[str]:
    """Per case the median latency and PSNR; one note per goal over all cases."""
    rows: list[str] = []
    slow, blurred = [], []
    tg, mp = "Tilegate", "MapProxy"
    for key, per_server in results.wms.items():
        ms = {s: r.median_ms for s, r in per_server.items()}
        db = {s: r.psnr_db for s, r in per_server.items()}
        rows += [_row(key, "median ms", ms), _row("", "PSNR dB", db)]
        if tg in ms and mp in ms and ms[tg] > WMS_GOAL_RATIO * ms[mp]:
            slow.append(
                f"{key} ({ms[tg]:.1f} vs {ms[mp]:.1f} ms = {ms[tg] / ms[mp]:.2f}x)"
            )
        if tg in db and (db[tg] < WMS_GOAL_PSNR or db[tg] < db.get(mp, 0.0)):
            blurred.append(f"{key} ({db[tg]:.1f} vs {db.get(mp, 0.0):.1f} dB)")
    if results.wms and all(tg in v and mp in v for v in results.wms.values()):
        ratios = [v[tg].median_ms / v[mp].median_ms for v in results.wms.values()]
        notes.append(
            f"WMS: goal Tilegate's latency <= {WMS_GOAL_RATIO}x MapProxy's in every case: "
            + (
                f"MISSED in {len(slow)}: {'; '.join(slow)}"
                if slow
                else f"met (worst {max(ratios):.2f}x)"
            )
        )
    if results.wms and all(tg in v for v in results.wms.values()):
        worst = min(v[tg].psnr_db for v in results.wms.values())
        notes.append(
            f"WMS: goal Tilegate's PSNR >= MapProxy's and >= {WMS_GOAL_PSNR:.0f} dB in every case: "
            + (
                f"MISSED in {len(blurred)}: {'; '.join(blurred)}"
                if blurred
                else f"met (lowest {worst:.1f} dB)"
            )
        )
    if results.wms_upstream:
        notes.append(
            f"WMS: {results.wms_upstream} upstream requests while measuring (the cache should answer all)"
        )
    return rows


def _cached_rows(
    key: str,
    per_server: dict[str, list[CachedResult]],
    notes: list[str],
    columns: tuple[str, ...] = COLUMNS,
    ratio_defs: tuple[tuple[str, str, str], ...] = RATIOS,
) -> list[str]:
    def median(field: str) -> dict[str, float]:
        return _medians(
            {s: [getattr(r, field) for r in rs] for s, rs in per_server.items()}
        )

    for s, rs in per_server.items():
        if errors := sum(r.errors for r in rs):
            notes.append(
                f"{s}, {key}: {errors} errors of {sum(r.requests for r in rs)} requests"
            )
    return [
        _row(k, metric, median(field), None, columns, ratio_defs)
        for k, metric, field in (
            (key, "req/s", "rps"),
            ("", "p50 ms", "p50_ms"),
            ("", "p99 ms", "p99_ms"),
            ("", "CPU us/req", "cpu_us_per_req"),
        )
    ]


def _header(
    columns: tuple[str, ...], ratio_defs: tuple[tuple[str, str, str], ...]
) -> str:
    return (
        f"{'scenario':<{SCENARIO_WIDTH}} {'metric':<14}"
        + "".join(f"{c:>10}" for c in columns)
        + "".join(f"{r:>10}" for r, _, _ in ratio_defs)
    )


def _nginx_lines(results: Results, notes: list[str]) -> list[str]:
    """The nginx scenario's own columns: a header, its rows, the goal per client count."""
    header = _header(NGINX_COLUMNS, NGINX_RATIOS)
    lines = [header, "-" * len(header)]
    for key, per_variant in results.nginx.items():
        lines += _cached_rows(key, per_variant, notes, NGINX_COLUMNS, NGINX_RATIOS)
        rps = _medians({v: [r.rps for r in rs] for v, rs in per_variant.items()})
        if "fastpath" in rps and rps.get("static"):
            ratio = rps["fastpath"] / rps["static"]
            notes.append(
                f"{key}: goal fast path >= {NGINX_GOAL_RATIO}x nginx's static req/s: "
                f"{'met' if ratio >= NGINX_GOAL_RATIO else 'MISSED'}: {rps['fastpath']:.0f} vs"
                f" {rps['static']:.0f} = {ratio:.2f}x"
            )
    return [*lines, "-" * len(header)]


def render(results: Results, rounds: int) -> str:
    """The final table: per scenario the median of the rounds for each server, and ratios."""
    header = _header(COLUMNS, RATIOS)
    lines = [header, "-" * len(header)]
    notes: list[str] = []
    for key, loads in results.startup.items():
        lines += _startup_rows(key, loads, notes)
    for key, per_server in results.cached.items():
        lines += _cached_rows(key, per_server, notes)
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
    for key, per_seeder in results.seeding.items():
        lines += _seeding_rows(key, per_seeder, notes)
    lines += _wms_rows(results, notes)
    for key, statuses in results.statuses.items():
        lines.append(_row(key, "status", {}, statuses))
    lines.append("-" * len(header))
    if results.nginx:
        # header and rules alone when only the nginx scenario ran: leave them out
        lines = [*lines, ""] if len(lines) > 3 else []
        lines += _nginx_lines(results, notes)
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
    if results.wms:
        lines.append(
            "WMS: GetMap 1.1.1 PNG from each server's cache (filled before), the median of sequential"
            " requests taking turns; PSNR = RGB against the true picture (the map server's EPSG:3857"
            " image, warped exactly into the SRS asked for) over the pixels inside the world"
        )
    if results.seeding:
        lines.append(
            "seeding: each run a fresh process on an empty cache; floor = the source alone: the GetMap"
            " requests of Tilegate's run fetched again by as many clients; start-up = a dry run; CPU = the"
            " seeder's whole process tree"
        )
    if results.nginx:
        lines.append(
            f"nginx (median of {rounds} round(s)): cached WMTS tiles through nginx (the first worker class's gunicorns behind): static = nginx serving the cache's files,"
            " fastpath = Tilegate's generated nginx locations (hits from files, misses proxied), TG/MP proxy ="
            " nginx proxy_pass to Tilegate/MapProxy; CPU = nginx's processes + the gunicorn's behind it"
        )
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)
