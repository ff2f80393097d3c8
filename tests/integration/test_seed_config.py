"""seed.yaml into tasks: times, levels, grids, coverages, and errors with key paths."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest
import yaml

from adapters.config import parse_config
from adapters.seed_config import SeedTasks, parse_seed_tasks
from domain.errors import ConfigError
from domain.grids import resolve_grids

NOW = 1_700_000_000.0
PROXY = parse_config(
    {
        "sources": {"s": {"type": "debug"}},
        "caches": {
            "web": {"sources": ["s"], "grids": ["GLOBAL_WEBMERCATOR"]},
            "both": {
                "sources": ["s"],
                "grids": ["GLOBAL_WEBMERCATOR", "GLOBAL_GEODETIC"],
            },
            "nostore": {"sources": ["s"], "disable_storage": True},
        },
    },
    "mapproxy.yaml",
).conf
GRIDS = resolve_grids(PROXY.grids)


def tasks(text: str, here: Path = Path()) -> SeedTasks:
    return parse_seed_tasks(yaml.safe_load(text), "seed.yaml", PROXY, GRIDS, here, NOW)


def problems(text: str, here: Path = Path()) -> list[str]:
    with pytest.raises(ConfigError) as info:
        tasks(text, here)
    return info.value.problems


def test_times_deltas_iso_and_file_mtime(tmp_path: Path) -> None:
    (tmp_path / "stamp").write_text("")
    os.utime(tmp_path / "stamp", (1_600_000_000, 1_600_000_000))
    got = tasks(
        """
seeds:
  a: {caches: [web], levels: [0], refresh_before: {days: 1, hours: 2}}
  b: {caches: [web], levels: [0], refresh_before: {time: 2013-10-10T12:35:00}}
  c: {caches: [web], levels: [0], refresh_before: {mtime: stamp}}
  d: {caches: [web], levels: [0]}
cleanups:
  e: {caches: [web], levels: [0]}
""",
        tmp_path,
    )
    a, b, c, d = got.seeds
    assert a.refresh_before == NOW - 26 * 3600
    assert b.refresh_before == datetime.datetime(2013, 10, 10, 12, 35).timestamp()
    assert c.refresh_before == 1_600_000_000
    assert d.refresh_before is None
    assert got.cleanups[0].remove_before == NOW


def test_levels_ranges_lists_and_resolutions() -> None:
    got = tasks(
        """
seeds:
  range: {caches: [web], levels: {from: 3, to: 5}}
  open: {caches: [web], levels: {from: 18}}
  list: {caches: [web], levels: [4, 2, 2]}
  res: {caches: [web], resolutions: [156543.03392804097, 1222.99]}
  all: {caches: [web]}
"""
    )
    levels = {t.name: t.levels for t in got.seeds}
    assert levels == {
        "range": (3, 4, 5),
        "open": (18, 19),
        "list": (2, 4),
        "res": (0, 7),
        "all": tuple(range(20)),
    }


def test_tasks_per_grid_and_cache() -> None:
    got = tasks("seeds:\n  a: {caches: [both], levels: [1]}\n")
    assert [(t.cache, t.grid) for t in got.seeds] == [
        ("both", "GLOBAL_WEBMERCATOR"),
        ("both", "GLOBAL_GEODETIC"),
    ]


def test_several_coverages_are_their_union(tmp_path: Path) -> None:
    (tmp_path / "a.geojson").write_text(
        '{"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 0]]]}'
    )
    got = tasks(
        """
coverages:
  a: {polygons: a.geojson, srs: "EPSG:4326"}
  b: {bbox: [20, 20, 30, 30], srs: "EPSG:4326"}
seeds:
  s: {caches: [web], coverages: [a, b], levels: [1]}
""",
        tmp_path,
    )
    coverage = got.seeds[0].coverage
    assert coverage is not None
    assert coverage.bbox.as_tuple() == (0, 0, 30, 30)


def test_every_problem_names_its_key_path(tmp_path: Path) -> None:
    found = problems(
        """
coverages:
  broken: {polygons: missing.wkt, srs: "EPSG:4326"}
seeds:
  a: {caches: [nope], levels: [1]}
  b: {caches: [web, both], levels: [1]}
  c: {caches: [web], levels: [1, 30], coverages: [broken, unknown]}
  d: {caches: [nostore]}
  e: {caches: [web], grids: [GLOBAL_GEODETIC]}
cleanups:
  f: {caches: [web], remove_before: {time: "yesterday"}, levels: {from: 25, to: 40}}
""",
        tmp_path,
    )
    assert any(
        p.endswith("@ $.seeds['a'].caches[0]") and "unknown cache 'nope'" in p
        for p in found
    )
    assert "@ $.seeds['b'].grids" in " ".join(found)
    assert any(
        p.endswith("@ $.coverages['broken']") and "No such file" in p for p in found
    )
    assert any(p.endswith("@ $.seeds['c'].coverages[1]") for p in found)
    assert any(
        p.endswith("@ $.seeds['d'].caches[0]") and "disable_storage" in p for p in found
    )
    assert any(p.endswith("@ $.seeds['e'].grids[0]") for p in found)
    assert any(p.endswith("@ $.cleanups['f'].remove_before.time") for p in found)
    assert any(
        p.endswith("@ $.cleanups['f'].levels.from") and "level 25 is outside" in p
        for p in found
    )
    assert not any(p.endswith("@ $.cleanups['f'].levels.to") for p in found)


def test_a_range_past_the_last_level_is_trimmed_with_a_warning_as_mapproxy_does() -> (
    None
):
    # A seed.yaml written for MapProxy: `to: 20` on a grid of 20 levels (0..19).
    got = tasks(
        """
seeds:
  a: {caches: [web], levels: {to: 20}}
  b: {caches: [both], levels: {from: 18, to: 30}}
cleanups:
  c: {caches: [web], levels: {from: 19, to: 19}}
"""
    )
    assert [t.levels for t in got.seeds] == [
        tuple(range(20)),
        (18, 19),  # GLOBAL_WEBMERCATOR
        (18, 19),  # GLOBAL_GEODETIC
    ]
    assert got.cleanups[0].levels == (19,)
    assert got.warnings == (
        "level 20 is outside the grid (GLOBAL_WEBMERCATOR has 0..19), the task ends at "
        "the grid's last level @ $.seeds['a'].levels.to",
        "level 30 is outside the grid (GLOBAL_WEBMERCATOR has 0..19, GLOBAL_GEODETIC has "
        "0..19), the task ends at the grid's last level @ $.seeds['b'].levels.to",
    )


def test_a_range_or_list_with_no_level_in_the_grid_is_still_an_error() -> None:
    assert problems("seeds:\n  a: {caches: [web], levels: {from: 25}}\n") == [
        "level 25 is outside the grid (GLOBAL_WEBMERCATOR has 0..19) @ $.seeds['a'].levels.from"
    ]
    assert problems("seeds:\n  a: {caches: [web], levels: [3, 20]}\n") == [
        "level 20 is outside the grid (GLOBAL_WEBMERCATOR has 0..19) @ $.seeds['a'].levels[1]"
    ]


def test_structure_errors_and_the_old_format() -> None:
    assert problems("seeds:\n  a: {caches: [web], levels: {from: 5, to: 2}}\n") == [
        "levels from 5 is after to 2; nothing to do @ $.seeds['a'].levels"
    ]
    assert problems("seeds:\n  a: {caches: [web], levels: seven}\n") == [
        "expected a list or from/to, got a string @ $.seeds['a'].levels"
    ]
    assert problems("views:\n  a: {}\n")[0].endswith("@ $.views")


def test_unknown_keys_are_warnings_as_in_mapproxy() -> None:
    got = tasks("seeds:\n  a: {caches: [web], levels: [0], colour: red}\n")
    assert got.seed_names == ("a",)
