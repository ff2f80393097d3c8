"""The numbers of a run: one record per measurement, kept per scenario, server and round."""

from __future__ import annotations

from typing import Any

import attrs


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


@attrs.frozen
class WmsResult:
    median_ms: float
    psnr_db: float  # of the first measured answer against the map server's own image
    requests: int


@attrs.frozen
class SeedResult:
    """One seeding run (or, as the floor, the source alone rendering the same meta-tiles)."""

    tiles: int
    meta_tiles: int
    upstream: int
    seconds: float
    cpu_ms_per_tile: float | None
    startup_s: float | None  # a dry run's wall time: what loading and planning cost
    # the GetMap paths the run made, for the source-alone replay (not kept in the results file)
    requests: list[str] = attrs.field(factory=list, repr=False)

    @property
    def tiles_per_s(self) -> float:
        return self.tiles / self.seconds

    @property
    def upstream_per_meta(self) -> float:
        return self.upstream / self.meta_tiles


@attrs.define
class Results:
    cached: dict[str, dict[str, list[CachedResult]]] = attrs.Factory(dict)
    misses: dict[str, dict[str, list[MissResult]]] = attrs.Factory(dict)
    statuses: dict[str, dict[str, str]] = attrs.Factory(dict)
    startup: dict[str, dict[str, list[StartupResult]]] = attrs.Factory(dict)
    nginx: dict[str, dict[str, list[CachedResult]]] = attrs.Factory(dict)
    seeding: dict[str, dict[str, list[SeedResult]]] = attrs.Factory(dict)
    wms: dict[str, dict[str, WmsResult]] = attrs.Factory(dict)
    wms_upstream: int = 0  # upstream requests while WMS was measured (should be none)

    def add_wms(self, key: str, server: str, result: WmsResult) -> None:
        self.wms.setdefault(key, {})[server] = result

    def add_seeding(self, key: str, server: str, result: SeedResult) -> None:
        self.seeding.setdefault(key, {}).setdefault(server, []).append(result)

    def add_startup(self, key: str, server: str, result: StartupResult) -> None:
        self.startup.setdefault(key, {}).setdefault(server, []).append(result)

    def add_cached(self, key: str, server: str, result: CachedResult) -> None:
        self.cached.setdefault(key, {}).setdefault(server, []).append(result)

    def add_nginx(self, key: str, variant: str, result: CachedResult) -> None:
        self.nginx.setdefault(key, {}).setdefault(variant, []).append(result)

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
            "wms": {
                k: {s: attrs.asdict(r) for s, r in v.items()}
                for k, v in self.wms.items()
            },
            "startup": {
                k: {s: [attrs.asdict(r) for r in rs] for s, rs in v.items()}
                for k, v in self.startup.items()
            },
            "nginx": {
                k: {s: [attrs.asdict(r) for r in rs] for s, rs in v.items()}
                for k, v in self.nginx.items()
            },
            "seeding": {
                k: {
                    s: [
                        attrs.asdict(r, filter=lambda a, _: a.name != "requests")
                        for r in rs
                    ]
                    for s, rs in v.items()
                }
                for k, v in self.seeding.items()
            },
        }


def per_item(
    after: float | None, before: float | None, count: int, scale: float
) -> float | None:
    """(after - before) per item, times scale; None where a reading is missing."""
    if after is None or before is None or count <= 0:
        return None
    return (after - before) / count * scale


def cpu_text(value: float | None, unit: str) -> str:
    return (
        ""
        if value is None
        else f" CPU {value:5.0f} {unit}"
        if value >= 10
        else f" CPU {value:5.2f} {unit}"
    )
