"""`tilegate grids -s seed.yaml -c COVERAGE` (MapProxy's `mapproxy-util grids` options): about
how many tiles of each level a seeding coverage covers, by its share of the grid's area."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import run_command

CONFIG = """
sources: {d: {type: debug}}
caches: {c: {sources: [d], grids: [GLOBAL_WEBMERCATOR]}}
"""
# Germany's box, and the box the north-west quarter of the web mercator grid has.
SEED = """
coverages:
  de: {bbox: [5, 47, 15, 55], srs: "EPSG:4326"}
  quarter: {bbox: [-20037508.342789244, 0, 0, 20037508.342789244], srs: "EPSG:3857"}
  broken: {polygons: missing.wkt, srs: "EPSG:4326"}
"""


@pytest.fixture
def here(tmp_path: Path) -> Path:
    (tmp_path / "mapproxy.yaml").write_text(CONFIG)
    (tmp_path / "seed.yaml").write_text(SEED)
    return tmp_path


def grids(here: Path, *args: str) -> tuple[int, str, str]:
    done = run_command(here, "tilegate", "grids", "-f", "mapproxy.yaml", *args)
    return done.returncode, done.stdout, done.stderr


def counts(output: str) -> list[str]:
    """Each level's approximate count within the coverage, as printed."""
    return re.findall(r"= +\S+ \( *(\S+)\), 1:", output)


def test_a_quarter_of_the_grid_covers_a_quarter_of_each_levels_tiles(
    here: Path,
) -> None:
    code, out, err = grids(here, "-s", "seed.yaml", "-c", "quarter")
    assert (code, err) == (0, "")
    assert "Coverage: quarter covers approx. 25% of the grid BBOX" in out
    assert counts(out)[:4] == ["0", "1", "4", "16"]
    assert counts(out)[-1] == "68719.48M"  # of 274877.91M


def test_germany_as_mapproxy_estimates_it(here: Path) -> None:
    code, out, _ = grids(here, "-s", "seed.yaml", "-c", "de")
    assert code == 0
    assert "Coverage: de covers approx. 0.0984" in out
    # MapProxy 7 prints 1, 4, 16, 64, 257 and 1031 for levels 5 to 10 of this coverage.
    assert counts(out)[5:11] == ["1", "4", "16", "64", "258", "1032"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-s", "seed.yaml"], 2, "-s/--seed-conf and -c/--coverage-name go together"),
        (["-c", "de"], 2, "-s/--seed-conf and -c/--coverage-name go together"),
        (
            ["-s", "seed.yaml", "-c", "fr"],
            1,
            "no coverage 'fr' (there are: broken, de, quarter)",
        ),
        (
            ["-s", "seed.yaml", "-c", "broken"],
            1,
            "cannot read coverage file 'missing.wkt'",
        ),
        (["-s", "nowhere.yaml", "-c", "de"], 1, "nowhere.yaml"),
    ],
)
def test_bad_coverage_options_are_one_line_errors(
    here: Path, args: list[str], code: int, message: str
) -> None:
    got, out, err = grids(here, *args)
    assert (got, out) == (code, "")
    assert message in err
    assert "Traceback" not in err
