"""The utilities as a user runs them: installed `tilegate` / `mapproxy-util` in a scratch dir.

Expected numbers were cross-checked against MapProxy 7.0.0's `mapproxy-util` output.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.geopackage_cache import GeoPackageCache
from adapters.mbtiles_cache import MBTilesCache
from adapters.sqlite_cache import sqlite_levels
from domain.grid import TileCoord
from domain.grids import resolve_grids
from entrypoints.cli import main
from entrypoints.commands.export import ExportError, parse_levels
from tests.e2e.conftest import run_command
from tests.mapserver import MapServer

CONFIG = """\
caches:
  osm_cache:
    grids: [webmercator, utm, GLOBAL_GEODETIC]
    sources: [osm_wms]
  other_cache:
    grids: [GLOBAL_MERCATOR]
    sources: [osm_wms]
sources:
  osm_wms:
    type: wms
    req: {url: "http://127.0.0.1:9/service", layers: osm}
grids:
  webmercator:
    base: GLOBAL_WEBMERCATOR
    num_levels: 5
  utm:
    srs: EPSG:25832
    bbox: [200000, 5000000, 800000, 6500000]
    res: [1000, 500, 250, 100]
    origin: ul
  unused:
    srs: EPSG:4326
    bbox: [5, 45, 15, 55]
    num_levels: 3
"""


def run(
    tmp_path: Path, *args: str, tool: str = "tilegate"
) -> subprocess.CompletedProcess[str]:
    return run_command(tmp_path, tool, *args)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mapproxy.yaml"
    path.write_text(CONFIG)
    return path


# --- grids -----------------------------------------------------------------------------------


def test_grids_lists_the_grids_caches_use_and_all_with_all(
    tmp_path: Path, config: Path
) -> None:
    used = run(tmp_path, "grids", "-f", str(config), "-l")
    assert used.returncode == 0, used.stderr
    assert used.stdout.splitlines() == [
        "GLOBAL_GEODETIC",
        "GLOBAL_MERCATOR",
        "utm",
        "webmercator",
    ]
    every = run(tmp_path, "grids", str(config), "--list", "--all", tool="mapproxy-util")
    assert every.stdout.splitlines() == [
        "GLOBAL_GEODETIC",
        "GLOBAL_MERCATOR",
        "GLOBAL_WEBMERCATOR",
        "unused",
        "utm",
        "webmercator",
    ]


def test_grids_describes_a_grid_with_levels_tile_counts_and_scales(
    tmp_path: Path, config: Path
) -> None:
    result = run(tmp_path, "grids", "-f", str(config), "-g", "utm")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "utm:",
        "    Configuration:",
        "        bbox: [200000, 5000000, 800000, 6500000]",
        "        origin: 'ul'",
        "        res: [1000, 500, 250, 100]",
        "        srs: 'EPSG:25832'",
        "        tile_size*: [256, 256]",
        "    Levels: Resolutions, # x * y = total tiles, 1:scale (OGC 0.28 mm pixel)",
        "        00:  1000, #      3 * 6      =         18, 1:3571428.57",
        "        01:  500,  #      5 * 12     =         60, 1:1785714.29",
        "        02:  250,  #     10 * 24     =        240, 1:892857.14",
        "        03:  100,  #     24 * 59     =       1416, 1:357142.86",
    ]


def test_grids_shows_inherited_options_marked_and_big_counts_in_millions(
    tmp_path: Path, config: Path
) -> None:
    out = run(tmp_path, "grids", "-f", str(config)).stdout
    webmercator = out[out.index("webmercator:") :].splitlines()
    assert webmercator[:8] == [
        "webmercator:",
        "    Configuration:",
        "        base: 'GLOBAL_WEBMERCATOR'",
        "        bbox*: [-20037508.342789244, -20037508.342789244, 20037508.342789244, 20037508.342789244]",
        "        num_levels: 5",
        "        origin*: 'nw'",
        "        srs*: 'EPSG:3857'",
        "        tile_size*: [256, 256]",
    ]
    assert webmercator[9] == (
        "        00:  156543.03392804097, #      1 * 1      =          1, 1:559082264.03"
    )
    geodetic = out[: out.index("GLOBAL_MERCATOR:")].splitlines()
    assert geodetic[7] == (
        "        00:  1.40625,                #      1 * 1      =          1, 1:559082264.03"
    )
    assert geodetic[18] == (
        "        11:  0.0006866455078125,     #   2048 * 1024   =      2.10M, 1:272989.39"
    )
    assert geodetic[26] == (
        "        19:  2.682209014892578e-06,  # 524288 * 262144 = 137438.95M, 1:1066.36"
    )


def test_grids_unknown_grid_and_broken_config_are_one_line_errors(
    tmp_path: Path, config: Path
) -> None:
    unknown = run(tmp_path, "grids", "-f", str(config), "-g", "nope")
    assert (unknown.returncode, unknown.stdout) == (1, "grid not found: nope\n")
    missing = run(tmp_path, "grids", "-f", "nope.yaml")
    assert missing.returncode == 1
    assert missing.stderr == "tilegate grids: nope.yaml: file not found\n"
    (tmp_path / "bad.yaml").write_text("grids:\n  a:\n    srs: EPSG:25832\n")
    bad = run(tmp_path, "grids", "-f", "bad.yaml")
    assert bad.returncode == 1
    assert bad.stderr.strip().endswith(
        "a grid in EPSG:25832 needs a bbox @ $.grids['a']"
    )
    assert "Traceback" not in bad.stderr
    assert run(tmp_path, "grids").returncode == 2


# --- scales ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "lines"),
    [
        (["1000000"], ["      280.0000000000 #  0     1000000.00000000"]),
        (
            ["-l", "3", "1000000"],
            [
                "      280.0000000000 #  0     1000000.00000000",
                "      140.0000000000 #  1      500000.00000000",
                "       70.0000000000 #  2      250000.00000000",
            ],
        ),
        (
            ["--dpi", "96", "1000000"],
            ["      264.5833333333 #  0     1000000.00000000"],
        ),
        (
            ["--res-to-scale", "156543.03392804097"],
            ["559082264.0287177563 #  0      156543.03392804"],
        ),
        (
            ["--res-to-scale", "--unit", "d", "--eval", "360/256"],
            ["559082264.0287177563 #  0           1.40625000"],
        ),
        (
            ["--repeat", "-l", "5", "1000", "500"],
            [
                "        0.2800000000 #  0        1000.00000000",
                "        0.1400000000 #  1         500.00000000",
                "        0.0280000000 #  2         100.00000000",
                "        0.0140000000 #  3          50.00000000",
                "        0.0028000000 #  4          10.00000000",
            ],
        ),
        (
            ["--as-res-config", "-l", "2", "--dpi", "96", "1000000"],
            [
                "    res: [",
                "         #  res            level     scale @96.0 DPI",
                "          264.5833333333, #  0     1000000.00000000",
                "          132.2916666667, #  1      500000.00000000",
                "    ]",
            ],
        ),
    ],
)
def test_scales_prints_conversions_as_mapproxy_does(
    capsys: pytest.CaptureFixture[str], args: list[str], lines: list[str]
) -> None:
    # In-process (the same parser and code as the installed script): a process each is slow.
    assert main(["scales", *args]) == 0
    assert capsys.readouterr().out.splitlines() == lines


def test_scales_installed_as_mapproxy_util(tmp_path: Path) -> None:
    result = run(tmp_path, "scales", "-l", "2", "1000000", tool="mapproxy-util")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "      280.0000000000 #  0     1000000.00000000",
        "      140.0000000000 #  1      500000.00000000",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["abc"], "not a number: 'abc'"),
        (["0"], "scales and resolutions must be positive numbers"),
        (["--dpi", "x", "1000"], "not a number: 'x'"),
        (
            ["--eval", "__import__('os').getcwd()"],
            "only numbers and + - * / ** are allowed",
        ),
        (["--eval", "10**10**10"], "exponents are limited to 64"),
        (["-l", "0", "1000"], "--levels must be at least 1, got 0"),
    ],
)
def test_scales_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["scales", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("tilegate scales: ")
    assert message in err
    assert len(err.splitlines()) == 1


# --- wms-capabilities ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wms() -> Iterator[MapServer]:
    with MapServer() as server:
        yield server


LAYERS = """\
Root-Layer:
  - name: base
    title: Base map
    url: {url}/wms?
    srs: ['EPSG:4326', 'EPSG:3857', 'EPSG:900913']
    llbbox: [-180.0, -85.0, 180.0, 85.0]
    queryable: True
    opaque: False
    abstract:
    bbox_srs: {{}}
  - name: overlays
    title: Overlays
    url: {url}/wms?
    srs: ['EPSG:4326', 'EPSG:3857', 'EPSG:900913']
    llbbox: [-180.0, -85.0, 180.0, 85.0]
    queryable: False
    opaque: False
    abstract:
    bbox_srs: {{}}
    layers:
      - name: roads
        title: Roads
        url: {url}/wms?
        srs: ['EPSG:4326', 'EPSG:3857', 'EPSG:900913']
        llbbox: [5.0, 45.0, 15.0, 55.0]
        queryable: False
        opaque: False
        abstract:
        bbox_srs: {{'EPSG:4326': [5.0, 45.0, 15.0, 55.0]}}
      - name: places
        title: Places & <names>
        url: {url}/wms?
        srs: ['EPSG:4326', 'EPSG:3857', 'EPSG:900913']
        llbbox: [-180.0, -85.0, 180.0, 85.0]
        queryable: False
        opaque: False
        abstract:
        bbox_srs: {{}}
"""


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_wms_capabilities_summarises_service_and_layer_tree(
    tmp_path: Path, wms: MapServer, version: str
) -> None:
    result = run(tmp_path, "wms-capabilities", "--version", version, f"{wms.url}/wms")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == (
        "# Note: This is not a valid MapProxy configuration!\n"
        f"Capabilities Document Version {version}\n"
        "Service:\n"
        "    title: Tilegate test map server\n"
        "    abstract: Pixels that are a known function of position.\n"
        f"    url: {wms.url}/wms?\n"
        "    formats: ['image/png', 'image/jpeg', 'image/gif']\n"
    ) + LAYERS.format(url=wms.url)
    asked = [r for r in wms.requests if r.path == "/wms"][-1].params
    assert (asked["SERVICE"], asked["REQUEST"], asked["VERSION"]) == (
        "WMS",
        "GetCapabilities",
        version,
    )


def test_wms_capabilities_url_by_host_option_and_mapproxy_name(
    tmp_path: Path, wms: MapServer
) -> None:
    result = run(
        tmp_path,
        "wms-capabilities",
        "--host",
        f"{wms.url}/ows?map=x&REQUEST=GetMap",
        tool="mapproxy-util",
    )
    assert result.returncode == 0, result.stderr
    assert "  - name: base" in result.stdout
    asked = [r for r in wms.requests if r.path == "/ows"][-1].params
    assert (asked["MAP"], asked["REQUEST"]) == ("x", "GetCapabilities")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("fault=error", "answered HTTP 500"),
        ("status=404", "answered HTTP 404"),
        ("fault=html", "not a WMS capabilities document (root element html)"),
        ("fault=garbage", "the answer is no XML document"),
        ("fault=exception", "the server answered with an exception: injected failure"),
        ("fault=entities", "refused: the document declares XML entities"),
        ("delay=5", "did not answer within 0.5 s"),
    ],
)
def test_wms_capabilities_errors_are_one_line_and_exit_1(
    tmp_path: Path, wms: MapServer, query: str, message: str
) -> None:
    result = run(
        tmp_path, "wms-capabilities", "--timeout", "0.5", f"{wms.url}/wms?{query}"
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("tilegate wms-capabilities: ")
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_wms_capabilities_refuses_other_schemes_and_unreachable_hosts(
    tmp_path: Path,
) -> None:
    local = run(tmp_path, "wms-capabilities", "file:///etc/passwd")
    assert (local.returncode, local.stderr) == (
        1,
        "tilegate wms-capabilities: not an http(s) URL: 'file:///etc/passwd'\n",
    )
    closed = run(tmp_path, "wms-capabilities", "http://127.0.0.1:9/wms")
    assert closed.returncode == 1
    assert (
        closed.stderr
        == "tilegate wms-capabilities: cannot connect to http://127.0.0.1:9/wms\n"
    )
    assert run(tmp_path, "wms-capabilities").returncode == 2


# --- export ----------------------------------------------------------------------------------


@pytest.fixture
def cache_config(tmp_path: Path, wms: MapServer) -> Path:
    path = tmp_path / "mapproxy.yaml"
    path.write_text(
        "caches:\n"
        "  osm_cache:\n"
        "    grids: [GLOBAL_WEBMERCATOR]\n"
        "    sources: [osm_wms]\n"
        "sources:\n"
        "  osm_wms:\n"
        "    type: wms\n"
        f"    req: {{url: '{wms.url}/service', layers: osm}}\n"
    )
    return path


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_export_copies_a_cache_tile_by_tile_without_asking_the_source(
    tmp_path: Path, wms: MapServer, cache_config: Path
) -> None:
    # fill the cache (and a first export) from the source
    filled = run(
        tmp_path,
        "export",
        "-f",
        str(cache_config),
        "--source",
        "osm_cache",
        "--dest",
        "first",
        "--type",
        "tms",
        "--levels",
        "0..2",
        "--fetch-missing-tiles",
    )
    assert filled.returncode == 0, filled.stderr
    assert (
        filled.stdout
        == "exported 21 tiles of levels 0..2 to first (0 not in the cache)\n"
    )
    cache = files(tmp_path / "cache_data" / "osm_cache_EPSG3857")
    assert len(cache) == 21
    asked = len(wms.requests)
    result = run(
        tmp_path,
        "export",
        str(cache_config),
        "--source",
        "osm_cache",
        "--dest",
        "copy",
        "--type",
        "tc",
        "--levels",
        "0..2",
        "-c",
        "2",
        tool="mapproxy-util",
    )
    assert result.returncode == 0, result.stderr
    assert len(wms.requests) == asked  # only read from the cache
    assert files(tmp_path / "copy") == cache  # same layout: same names, same bytes
    tms = files(tmp_path / "first")
    assert len(tms) == 21
    # the other layout holds the same tile (rows counted as the grid counts them)
    assert tms["2/1/3.png"] == cache["02/000/000/001/000/000/003.png"]
    assert tms["0/0/0.png"] == cache["00/000/000/000/000/000/000.png"]


def test_export_is_limited_by_levels_and_coverage(
    tmp_path: Path, cache_config: Path
) -> None:
    run(
        tmp_path,
        "export",
        "-f",
        str(cache_config),
        "--source",
        "osm_cache",
        "--dest",
        "all",
        "--levels",
        "0..2",
        "--fetch-missing-tiles",
    )
    one = run(
        tmp_path,
        "export",
        "-f",
        str(cache_config),
        "--source",
        "osm_cache",
        "--dest",
        "one",
        "--type",
        "quadkey",
        "--levels",
        "1",
    )
    assert one.returncode == 0, one.stderr
    assert sorted(files(tmp_path / "one")) == ["0.png", "1.png", "2.png", "3.png"]
    north_east = run(
        tmp_path,
        "export",
        "-f",
        str(cache_config),
        "--source",
        "osm_cache",
        "--dest",
        "ne",
        "--type",
        "tms",
        "--levels",
        "1..2",
        "--coverage",
        "10,10,170,80",
        "--srs",
        "EPSG:4326",
    )
    assert north_east.returncode == 0, north_east.stderr
    assert sorted(files(tmp_path / "ne")) == [
        "1/1/0.png",
        "2/2/0.png",
        "2/2/1.png",
        "2/3/0.png",
        "2/3/1.png",
    ]


def test_export_skips_missing_tiles_unless_asked_to_fetch(
    tmp_path: Path, wms: MapServer, cache_config: Path
) -> None:
    asked = len(wms.requests)
    result = run(
        tmp_path,
        "export",
        "-f",
        str(cache_config),
        "--source",
        "osm_cache",
        "--dest",
        "empty",
        "--levels",
        "0..1",
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout
        == "exported 0 tiles of levels 0..1 to empty (5 not in the cache)\n"
    )
    assert files(tmp_path / "empty") == {}
    assert len(wms.requests) == asked


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--source", "nope"],
            "unknown cache 'nope' for --source, expected one of osm_cache",
        ),
        (["--source", "osm_cache", "--grid", "x"], "cache 'osm_cache' has no grid 'x'"),
        (["--source", "osm_cache"], "narrow it with --levels or --coverage"),
        (
            ["--source", "osm_cache", "--type", "compact-v3"],
            "unknown --type 'compact-v3', expected one of tc, mp, tms",
        ),
        (
            ["--source", "osm_cache", "--type", "mbtile", "--dest", "full"],
            "full is a directory, --type mbtile writes one file",
        ),
        (
            ["--source", "osm_cache", "--type", "geopackage", "--dest", "keep.gpkg"],
            "keep.gpkg exists (use --force to add to it)",
        ),
        (
            ["--source", "osm_cache", "--type", "sqlite", "--dest", "keep.gpkg"],
            "keep.gpkg is a file, --type sqlite writes a directory",
        ),
        (["--source", "osm_cache", "--levels", "25"], "level 25 is not in the grid"),
        (
            ["--source", "osm_cache", "--coverage", "x.wkt"],
            "'x.wkt': OGR cannot open it",
        ),
        (["--source", "osm_cache", "--coverage", "5,5,1,1"], "--coverage:"),
        (["--source", "osm_cache", "--dest", "full"], "full exists and is not empty"),
    ],
)
def test_export_bad_options_are_one_line_errors(
    tmp_path: Path, cache_config: Path, args: list[str], message: str
) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    (tmp_path / "keep.gpkg").write_bytes(b"not mine to touch")
    if "--dest" not in args:
        args = [*args, "--dest", "out"]
    result = run(tmp_path, "export", "-f", str(cache_config), *args)
    assert result.returncode == 1
    assert result.stderr.startswith("tilegate export: ")
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    assert (tmp_path / "keep.gpkg").read_bytes() == b"not mine to touch"


def test_export_levels_are_read_as_mapproxy_writes_them() -> None:
    assert parse_levels("1,2,3", 20) == (1, 2, 3)
    assert parse_levels("0..3, 7", 20) == (0, 1, 2, 3, 7)
    assert parse_levels(None, 3) == (0, 1, 2)
    for text, message in [
        ("3..1", "--levels: 3..1 is an empty range"),
        ("a", "--levels: cannot read 'a', expected 3 or 1..10"),
        ("2..20", "--levels: level 20 is not in the grid (levels 0..19)"),
    ]:
        with pytest.raises(ExportError, match=re.escape(message)):
            parse_levels(text, 20)


def cached_tiles(root: Path) -> dict[TileCoord, bytes]:
    """The tiles of a `tc` file cache (the default layout) by coordinate."""
    tiles = {}
    for path, data in files(root).items():
        z, x1, x2, x3, y1, y2, y3 = path.removesuffix(".png").split("/")
        tiles[TileCoord(int(x1 + x2 + x3), int(y1 + y2 + y3), int(z))] = data
    return tiles


def read_back(store: Any, coords: Iterable[TileCoord]) -> dict[TileCoord, bytes]:
    found = {}
    for coord in coords:
        if (tile := store.load(coord)) is not None:
            assert tile.data is not None
            found[coord] = tile.data
    store.close()
    return found


def every_coord(levels: range) -> list[TileCoord]:
    return [
        TileCoord(x, y, z) for z in levels for x in range(2**z) for y in range(2**z)
    ]


@pytest.mark.parametrize("kind", ["mbtile", "mbtiles", "sqlite", "geopackage"])
def test_export_into_sqlite_based_caches_keeps_every_tile_byte_for_byte(
    tmp_path: Path, wms: MapServer, cache_config: Path, kind: str
) -> None:
    filled = run(
        tmp_path,
        *("export", "-f", str(cache_config), "--source", "osm_cache"),
        *("--dest", "fill", "--levels", "0..2", "--fetch-missing-tiles"),
    )
    assert filled.returncode == 0, filled.stderr
    cache = cached_tiles(tmp_path / "cache_data" / "osm_cache_EPSG3857")
    assert len(cache) == 21
    asked = len(wms.requests)
    # --dest relative to the current directory; for sqlite a directory, else the file
    dest = {"sqlite": "out", "geopackage": "out.gpkg"}.get(kind, "out.mbtiles")
    result = run(
        tmp_path,
        *("export", "-f", str(cache_config), "--source", "osm_cache"),
        *("--type", kind, "--dest", dest, "--levels", "0..2", "-c", "2"),
        tool="mapproxy-util",
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout
        == f"exported 21 tiles of levels 0..2 to {dest} (0 not in the cache)\n"
    )
    assert len(wms.requests) == asked
    grid = resolve_grids({})["GLOBAL_WEBMERCATOR"]
    if kind == "sqlite":
        level_dir = tmp_path / "out" / "GLOBAL_WEBMERCATOR"
        assert sorted(p.name for p in level_dir.iterdir()) == [
            "0.mbtiles",
            "1.mbtiles",
            "2.mbtiles",
        ]
        store: Any = sqlite_levels(level_dir)
    elif kind == "geopackage":
        store = GeoPackageCache(tmp_path / dest, grid, "export_GLOBAL_WEBMERCATOR")
    else:
        store = MBTilesCache(tmp_path / dest)
    # closed at the end: the file alone holds every tile, no -wal file is left behind
    assert not list(tmp_path.glob("out*-wal"))
    assert read_back(store, every_coord(range(4))) == cache


@pytest.mark.parametrize("kind", ["mbtile", "sqlite", "geopackage"])
def test_export_into_sqlite_based_caches_keeps_to_levels_and_coverage(
    tmp_path: Path, cache_config: Path, kind: str
) -> None:
    run(
        tmp_path,
        *("export", "-f", str(cache_config), "--source", "osm_cache"),
        *("--dest", "fill", "--levels", "0..2", "--fetch-missing-tiles"),
    )
    cache = cached_tiles(tmp_path / "cache_data" / "osm_cache_EPSG3857")
    dest = tmp_path / ("out" if kind == "sqlite" else "out.db")
    result = run(
        tmp_path,
        *("export", "-f", str(cache_config), "--source", "osm_cache"),
        *("--type", kind, "--dest", str(dest), "--levels", "1..2"),
        *("--coverage", "10,10,170,80", "--srs", "EPSG:4326", "-q"),
    )
    assert result.returncode == 0, result.stderr
    grid = resolve_grids({})["GLOBAL_WEBMERCATOR"]
    store: Any = {
        "mbtile": lambda: MBTilesCache(dest),
        "sqlite": lambda: sqlite_levels(dest / "GLOBAL_WEBMERCATOR"),
        "geopackage": lambda: GeoPackageCache(dest, grid, "export_GLOBAL_WEBMERCATOR"),
    }[kind]()
    got = read_back(store, every_coord(range(4)))
    # the north-east quarter, rows counted from the top as GLOBAL_WEBMERCATOR counts them
    wanted = [(1, 0, 1), (2, 0, 2), (2, 1, 2), (3, 0, 2), (3, 1, 2)]
    assert got == {TileCoord(*c): cache[TileCoord(*c)] for c in wanted}
    if kind == "sqlite":
        assert not (dest / "GLOBAL_WEBMERCATOR" / "0.mbtiles").exists()
    # adding to it needs --force, and then keeps what was there
    again = [
        *("export", "-f", str(cache_config), "--source", "osm_cache"),
        *("--type", kind, "--dest", str(dest), "--levels", "0", "-q"),
    ]
    refused = run(tmp_path, *again)
    assert refused.returncode == 1
    assert "(use --force to add to it)" in refused.stderr
    assert run(tmp_path, *again, "--force").returncode == 0
    store = {
        "mbtile": lambda: MBTilesCache(dest),
        "sqlite": lambda: sqlite_levels(dest / "GLOBAL_WEBMERCATOR"),
        "geopackage": lambda: GeoPackageCache(dest, grid, "export_GLOBAL_WEBMERCATOR"),
    }[kind]()
    assert len(read_back(store, every_coord(range(4)))) == 6


def test_export_into_a_geopackage_needs_a_grid_in_an_epsg_srs(tmp_path: Path) -> None:
    config = tmp_path / "mapproxy.yaml"
    config.write_text(
        "grids:\n"
        "  mollweide:\n"
        "    srs: 'ESRI:54009'\n"
        "    bbox: [-18000000, -9000000, 18000000, 9000000]\n"
        "    num_levels: 2\n"
        "caches:\n"
        "  c: {grids: [mollweide], sources: []}\n"
    )
    result = run(
        tmp_path,
        *("export", "-f", str(config), "--source", "c", "--type", "geopackage"),
        *("--dest", "out.gpkg"),
    )
    assert result.returncode == 1
    assert result.stderr.startswith("tilegate export: --type geopackage: ")
    assert "EPSG" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "out.gpkg").exists()
