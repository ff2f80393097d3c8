"""`tilegate seed` over the dimension values of a cache: tiles in each value's directories,
made from a source asked for that value (the map server's blue tells which TIME it got),
cleanups per value, and bad values as config errors with their key paths."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from PIL import Image

from entrypoints.wsgiapp import make_wsgi_app
from tests.e2e.conftest import run_command
from tests.integration.test_dimensions import KVP, wms_query
from tests.mapserver import MapServer, time_blue
from tests.wsgi_call import call

T1, T2, T3 = "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z", "2020-01-03T00:00:00Z"
LEVELS_0_1 = 1 + 4  # tiles of levels 0 and 1


@pytest.fixture
def server() -> Iterator[MapServer]:
    with MapServer() as s:
        yield s


def write_config(root: Path, url: str) -> None:
    (root / "mapproxy.yaml").write_text(
        f"""
globals:
  cache: {{base_dir: tiles}}
  image: {{paletted: false}}
services:
  wmts:
  wms:
    md: {{title: Dimensions}}
sources:
  wms:
    type: wms
    req: {{url: "{url}/service", layers: base}}
    forward_req_params: [time, elevation]
caches:
  c:
    sources: [wms]
    grids: [GLOBAL_WEBMERCATOR]
    meta_size: [1, 1]
    meta_buffer: 0
  plain:
    sources: [wms]
    grids: [GLOBAL_WEBMERCATOR]
layers:
  - name: temp
    title: Temperature
    sources: [c]
    dimensions:
      time:
        values: ["{T1}/{T3}/P1D"]
        default: "{T2}"
      elevation:
        values: [0, 1000]
"""
    )


def seed(root: Path, seed_yaml: str, *args: str) -> subprocess.CompletedProcess[str]:
    (root / "seed.yaml").write_text(seed_yaml)
    return run_command(
        root, "tilegate", "seed", "-f", "mapproxy.yaml", "-s", "seed.yaml", *args
    )


def stored(root: Path) -> dict[str, int]:
    """Tiles per directory of dimension values below the cache's own."""
    counts: dict[str, int] = {}
    base = root / "tiles" / "c_EPSG3857"
    for path in base.rglob("*.png"):
        values = "/".join(p for p in path.relative_to(base).parts if "-" in p)
        counts[values] = counts.get(values, 0) + 1
    return counts


def blue(path: Path) -> int:
    return blue_of(path.read_bytes())


def blue_of(data: bytes) -> int:
    pixel = Image.open(io.BytesIO(data)).convert("RGB").getpixel((5, 5))
    assert isinstance(pixel, tuple)
    return int(pixel[2])


def asked(server: MapServer) -> set[tuple[str | None, str | None]]:
    return {(r.params.get("TIME"), r.params.get("ELEVATION")) for r in server.requests}


def test_a_seed_makes_the_tiles_of_every_value_from_the_source_asked_for_it(
    tmp_path: Path, server: MapServer
) -> None:
    write_config(tmp_path, server.url)
    result = seed(tmp_path, "seeds:\n  s:\n    caches: [c]\n    levels: {to: 1}\n")
    assert result.returncode == 0, result.stderr
    combos = [(e, t) for e in ("0", "1000") for t in (T1, T2, T3)]
    assert stored(tmp_path) == {
        f"elevation-{e}/time-{t}": LEVELS_0_1 for e, t in combos
    }
    assert len(server.requests) == 6 * LEVELS_0_1
    assert asked(server) == {(t, e) for e, t in combos}
    for e, t in combos:
        tile = (
            tmp_path
            / f"tiles/c_EPSG3857/elevation-{e}/time-{t}/01/000/000/001/000/000/000.png"
        )
        assert blue(tile) == time_blue(t)
    assert "elevation=0, time=2020-01-01T00:00:00Z" in result.stdout
    # WMTS and WMS serve the seeded tiles of the values they are asked for.
    server.reset()
    app = make_wsgi_app(tmp_path / "mapproxy.yaml")
    status, _, data = call(
        app, "/service", urlencode({**KVP, "TIME": T1, "ELEVATION": "0"})
    )
    assert status == 200, data
    assert blue_of(data) == time_blue(T1)
    status, _, data = call(app, "/service", wms_query(TIME=T3, ELEVATION="0"))
    assert status == 200, data
    assert blue_of(data) == time_blue(T3)
    assert server.requests == []
    # Seeded again: every tile is there, nothing is asked.
    again = seed(tmp_path, "seeds:\n  s:\n    caches: [c]\n    levels: {to: 1}\n")
    assert again.returncode == 0, again.stderr
    assert server.requests == []


def test_a_seed_of_named_values_makes_only_theirs(
    tmp_path: Path, server: MapServer
) -> None:
    write_config(tmp_path, server.url)
    task = (
        "seeds:\n  s:\n    caches: [c]\n    levels: [1]\n"
        f"    dimensions:\n      TIME: ['{T1}/{T2}/PT24H']\n      elevation: [1000]\n"
    )
    result = seed(tmp_path, task)
    assert result.returncode == 0, result.stderr
    assert stored(tmp_path) == {
        f"elevation-1000/time-{T1}": 4,
        f"elevation-1000/time-{T2}": 4,
    }
    assert asked(server) == {(T1, "1000"), (T2, "1000")}


def test_a_cleanup_removes_the_tiles_of_the_values_it_names(
    tmp_path: Path, server: MapServer
) -> None:
    write_config(tmp_path, server.url)
    assert (
        seed(tmp_path, "seeds:\n  s:\n    caches: [c]\n    levels: [0]\n").returncode
        == 0
    )
    cleanup = (
        "cleanups:\n  old:\n    caches: [c]\n    remove_all: true\n"
        f"    dimensions: {{time: ['{T1}']}}\n"
    )
    result = seed(tmp_path, cleanup)
    assert result.returncode == 0, result.stderr
    assert stored(tmp_path) == {
        f"elevation-{e}/time-{t}": 1 for e in ("0", "1000") for t in (T2, T3)
    }
    # A value the configuration no longer offers: its tiles can still be cleaned up.
    config = tmp_path / "mapproxy.yaml"
    config.write_text(config.read_text().replace(f"{T1}/{T3}/P1D", f"{T3}/{T3}/P1D"))
    gone = f"cleanups:\n  gone:\n    caches: [c]\n    dimensions: {{time: ['{T2}']}}\n"
    result = seed(tmp_path, gone)
    assert result.returncode == 0, result.stderr
    assert stored(tmp_path) == {f"elevation-{e}/time-{T3}": 1 for e in ("0", "1000")}
    result = seed(
        tmp_path, "cleanups:\n  all:\n    caches: [c]\n    remove_all: true\n"
    )
    assert result.returncode == 0, result.stderr
    assert stored(tmp_path) == {}


BAD_TASKS = {
    "value": (
        "dimensions: {time: ['1999']}",
        "'1999' is not a value of dimension 'time' (2020-01-01T00:00:00Z, "
        "2020-01-02T00:00:00Z, 2020-01-03T00:00:00Z) @ $.seeds['value'].dimensions['time']",
    ),
    "name": (
        "dimensions: {depth: [1]}",
        "no dimension 'depth' (they have: elevation, time) @ $.seeds['name'].dimensions['depth']",
    ),
    "empty": (
        "dimensions: {time: []}",
        "needs at least one value @ $.seeds['empty'].dimensions['time']",
    ),
    "period": (
        f"dimensions: {{time: ['{T1}/{T3}/P1X']}}",
        "is not an ISO 8601 duration (e.g. P1Y, P1M, P1D, PT1H) @ $.seeds['period'].dimensions['time']",
    ),
    "plain": (
        "dimensions: {time: ['x']}",
        "the layers of this cache have no dimension 'time' (they have: none)"
        " @ $.seeds['plain'].dimensions['time']",
    ),
}


def test_bad_dimensions_of_tasks_are_config_errors_with_key_paths(
    tmp_path: Path, server: MapServer
) -> None:
    write_config(tmp_path, server.url)
    tasks = "".join(
        f"  {name}:\n    caches: [{'plain' if name == 'plain' else 'c'}]\n    {task}\n"
        for name, (task, _) in BAD_TASKS.items()
    )
    result = seed(tmp_path, f"seeds:\n{tasks}")
    assert result.returncode == 2
    for _, problem in BAD_TASKS.values():
        assert problem in result.stderr
    # Before the tasks are read, their shape: one error.
    result = seed(tmp_path, "seeds:\n  s:\n    caches: [c]\n    dimensions: [time]\n")
    assert result.returncode == 2
    assert result.stderr.endswith(
        "error: seed.yaml: expected a mapping @ $.seeds['s'].dimensions\n"
    )
    assert server.requests == []
    assert not (tmp_path / "tiles").exists()
