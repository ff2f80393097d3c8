"""The seeding scenario's seed.yaml, its tile counting and its goal notes."""

from __future__ import annotations

from pathlib import Path

from adapters.config import load_config
from adapters.seed_config import load_seed_tasks
from domain.seeding import plan
from entrypoints.bootstrap import bootstrap
from tests.bench import workload
from tests.bench.report import render
from tests.bench.results import Results, SeedResult
from tests.bench.seed_scenario import SEED_YAML, stored_tiles


def test_seed_yaml_plans_the_documented_meta_tiles(tmp_path: Path) -> None:
    (tmp_path / "mapproxy.yaml").write_text(
        workload.mapproxy_yaml("http://127.0.0.1:9")
    )
    (tmp_path / "seed.yaml").write_text(SEED_YAML)
    loaded = load_config(tmp_path / "mapproxy.yaml")
    state = bootstrap(loaded, tmp_path / "mapproxy.yaml", seeding=True)
    tasks = load_seed_tasks(
        tmp_path / "seed.yaml", state.conf, state.grids, tmp_path, 0.0
    )

    (task,) = tasks.seeds
    tileset = state.caches[task.cache][0]
    planned = plan(
        tileset.grid, tileset.meta_grid.meta_size, task.levels, task.coverage
    )
    assert tasks.warnings == ()
    # docs/benchmark.md names these numbers; a round takes a few seconds with them
    assert (planned.meta_tiles, planned.tiles) == (34, 544)


def test_stored_tiles_reads_tc_and_tms_layouts(tmp_path: Path) -> None:
    for rel in (
        "tc/bench_cache_EPSG3857/08/000/000/138/000/000/084.png",
        "tms/bench_cache_EPSG3857/9/1023/7.png",
        "tms/bench_cache_EPSG3857/9/1023/locks-are-no-tiles.lck",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")

    assert stored_tiles(tmp_path / "tc") == {(8, 138, 84)}
    assert stored_tiles(tmp_path / "tms") == {(9, 1023, 7)}


def _result(seconds: float, startup: float | None = 0.4) -> SeedResult:
    return SeedResult(
        tiles=544,
        meta_tiles=34,
        upstream=34,
        seconds=seconds,
        cpu_ms_per_tile=None if startup is None else 2.0,
        startup_s=startup,
    )


def test_goal_notes_compare_medians_with_mapproxy_and_the_source_alone() -> None:
    results = Results()
    for tg, mp, alone in ((1.0, 1.4, 0.9), (1.2, 1.5, 1.0), (5.0, 1.6, 1.1)):
        results.add_seeding("seeding, -c 1", "Tilegate", _result(tg))
        results.add_seeding("seeding, -c 1", "MapProxy", _result(mp))
        results.add_seeding("seeding, -c 1", "floor", _result(alone, None))

    text = render(results, 3)

    # medians: Tilegate 1.2 s, MapProxy 1.5 s, the source alone 1.0 s
    assert (
        "goal Tilegate >= 1.3x MapProxy's tiles/s: MISSED: 453 vs 363 = 1.25x" in text
    )
    assert "1.20 s vs 1.00 s alone = +20% (without its 0.40 s start-up: -20%)" in text
    assert "different numbers of tiles" not in text
