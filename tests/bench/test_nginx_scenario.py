"""The nginx scenario's premises: the bench layer is served from files, the goal note reads right."""

from __future__ import annotations

from pathlib import Path

from adapters.config import load_config
from entrypoints.bootstrap import bootstrap
from entrypoints.fast_path import nginx_locations
from tests.bench import workload
from tests.bench.report import render
from tests.bench.results import CachedResult, Results


def test_bench_layer_is_served_by_the_fast_path(tmp_path: Path) -> None:
    path = tmp_path / "mapproxy.yaml"
    path.write_text(workload.mapproxy_yaml("http://127.0.0.1:9"))

    fast = nginx_locations(bootstrap(load_config(path), path), "http://127.0.0.1:8080")

    # Otherwise the `fastpath` variant would measure nginx proxying every tile to Tilegate.
    assert fast.served == (f"layer {workload.LAYER!r} in grid 'GLOBAL_WEBMERCATOR'",)
    assert fast.skipped == ()
    assert f"root {tmp_path / 'cache_data' / 'bench_cache_EPSG3857'};" in fast.text


def _result(rps: float) -> CachedResult:
    return CachedResult(rps, 1.0, 2.0, int(rps * 4), 0, 20.0)


def test_nginx_table_has_its_variants_ratios_and_goal_note() -> None:
    results = Results()
    for variant, rps in [
        ("static", 1000.0),
        ("fastpath", 450.0),
        ("TG proxy", 100.0),
        ("MP proxy", 50.0),
    ]:
        results.add_nginx("nginx WMTS, 8 clients", variant, _result(rps))

    table = render(results, 1)

    req_row = next(line for line in table.splitlines() if "req/s" in line)
    assert req_row.split()[-7:] == [
        "1000",
        "450",
        "100",
        "50.00",
        "0.45",
        "9.00",
        "2.00",
    ]
    assert (
        "goal fast path >= 0.5x nginx's static req/s: MISSED: 450 vs 1000 = 0.45x"
        in table
    )
    # Only the nginx scenario ran: no empty Tilegate/MapProxy/floor table above it.
    assert "floor" not in table
