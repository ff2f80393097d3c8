"""The SQLite-based caches (mbtiles, sqlite, geopackage) against real files, real MapProxy 7,
real concurrent processes and GDAL."""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from adapters.config import load_config
from adapters.geopackage_cache import (
    GPKG_APPLICATION_ID,
    GPKG_USER_VERSION,
    GeoPackageCache,
    geopackage_levels,
)
from adapters.mbtiles_cache import MBTilesCache
from adapters.sqlite_cache import sqlite_levels
from domain.config import CACHE_TYPES
from domain.errors import ConfigError
from domain.grid import TileCoord
from domain.grids import resolve_grids
from domain.ports import EncodedTile, TileCache
from domain.tiles import get_tile
from entrypoints.bootstrap import AppState, bootstrap
from tests.integration.one_cache import one_cache_conf
from tests.integration.test_app import get, make_app
from tests.mapproxy7 import MAPPROXY_PYTHON, mapproxy_seed, needs_mapproxy
from tests.mapserver import MapServer, render

GRIDS = resolve_grids({})
WEBMERCATOR = GRIDS["GLOBAL_WEBMERCATOR"]
MERCATOR = GRIDS["GLOBAL_MERCATOR"]
needs_gdal = pytest.mark.skipif(
    shutil.which("gdalinfo") is None,
    reason="gdalinfo missing: install Debian's gdal-bin (.ci/install-system-packages)",
)


def png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), color).save(out, "PNG")
    return out.getvalue()


def tile_png(coord: TileCoord) -> bytes:
    """The map server's picture of a web mercator tile: rows are told apart by their green."""
    out = io.BytesIO()
    render(WEBMERCATOR.tile_bbox(coord).as_tuple(), (256, 256), "EPSG:3857").save(
        out, "PNG"
    )
    return out.getvalue()


def make_cache(kind: str, tmp_path: Path) -> Any:
    match kind:
        case "mbtiles":
            return MBTilesCache(tmp_path / "c.mbtiles")
        case "sqlite":
            return sqlite_levels(tmp_path / "levels")
        case "geopackage":
            return GeoPackageCache(tmp_path / "c.gpkg", WEBMERCATOR, "t")
        case _:
            return geopackage_levels(tmp_path / "gpkg", WEBMERCATOR, "t", 30.0, True)


KINDS = ["mbtiles", "sqlite", "geopackage", "geopackage_levels"]


@pytest.mark.parametrize("kind", KINDS)
def test_tiles_round_trip_and_are_replaced_and_removed(
    tmp_path: Path, kind: str
) -> None:
    cache = make_cache(kind, tmp_path)
    coord = TileCoord(1, 0, 1)
    assert cache.load(coord) is None
    assert list(tmp_path.iterdir()) == []  # a load creates no file
    cache.store(EncodedTile(coord, png((255, 0, 0))))
    cache.store(EncodedTile(TileCoord(0, 0, 0), png((0, 0, 255))))
    cache.store(EncodedTile(coord, png((0, 255, 0))))
    tile = cache.load(coord)
    assert tile is not None
    assert tile.data == png((0, 255, 0))
    assert tile.size == len(png((0, 255, 0)))
    assert tile.mtime > 0
    assert cache.load(TileCoord(1, 1, 1)) is None
    assert cache.remove(coord) is True
    assert cache.remove(coord) is False
    assert cache.load(coord) is None
    assert cache.load(TileCoord(0, 0, 0)).data == png((0, 0, 255))
    cache.close()


def test_sqlite_tiles_expire_after_their_ttl(tmp_path: Path) -> None:
    now = [1_700_000_000.0]
    cache = sqlite_levels(tmp_path, ttl=60, clock=lambda: now[0])
    cache.store(EncodedTile(TileCoord(0, 0, 2), b"tile"))
    tile = cache.load(TileCoord(0, 0, 2))
    assert tile is not None
    assert tile.mtime == now[0]
    now[0] += 59
    assert cache.load(TileCoord(0, 0, 2)) is not None
    now[0] += 1
    assert cache.load(TileCoord(0, 0, 2)) is None
    with sqlite3.connect(tmp_path / "2.mbtiles") as db:
        (stamp,) = db.execute("SELECT last_modified FROM tiles").fetchone()
    db.close()
    assert stamp == "2023-11-14 22:13:20"  # local time, as MapProxy writes it (TZ=UTC)
    cache.close()


def test_geopackage_has_the_tables_and_header_of_the_standard(tmp_path: Path) -> None:
    cache = GeoPackageCache(tmp_path / "c.gpkg", WEBMERCATOR, "osm")
    cache.store(EncodedTile(TileCoord(0, 0, 0), png((1, 2, 3))))
    cache.close()
    db = sqlite3.connect(tmp_path / "c.gpkg")
    try:
        assert db.execute("PRAGMA application_id").fetchone()[0] == GPKG_APPLICATION_ID
        assert db.execute("PRAGMA user_version").fetchone()[0] == GPKG_USER_VERSION
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute(
            "SELECT table_name, data_type, srs_id FROM gpkg_contents"
        ).fetchall() == [("osm", "tiles", 3857)]
        assert sorted(
            r[0] for r in db.execute("SELECT srs_id FROM gpkg_spatial_ref_sys")
        ) == [-1, 0, 3857, 4326]
        matrix = db.execute(
            "SELECT zoom_level, matrix_width, matrix_height, pixel_x_size"
            " FROM gpkg_tile_matrix WHERE table_name = 'osm' ORDER BY zoom_level"
        ).fetchall()
        assert len(matrix) == WEBMERCATOR.num_levels
        assert matrix[2] == (2, 4, 4, WEBMERCATOR.res[2])
    finally:
        db.close()


def test_geopackage_table_of_another_grid_is_a_clear_error(tmp_path: Path) -> None:
    GeoPackageCache(tmp_path / "c.gpkg", WEBMERCATOR, "t").store(
        EncodedTile(TileCoord(0, 0, 0), b"x")
    )
    other = GeoPackageCache(tmp_path / "c.gpkg", GRIDS["GLOBAL_GEODETIC"], "t")
    with pytest.raises(ConfigError, match="table 't' is in EPSG:3857"):
        other.load(TileCoord(0, 0, 0))


def _store_many(cache: TileCache, worker: int, count: int) -> None:
    for i in range(count):
        cache.store(EncodedTile(TileCoord(i, worker, 9), f"{worker}-{i}".encode()))


@pytest.mark.parametrize("kind", ["mbtiles", "sqlite", "geopackage"])
def test_concurrent_writer_processes_lose_nothing(tmp_path: Path, kind: str) -> None:
    cache = make_cache(kind, tmp_path)
    if kind == "mbtiles":
        # Connections open before the fork: each child must open its own.
        cache.store(EncodedTile(TileCoord(0, 0, 0), b"parent"))
        assert cache.load(TileCoord(0, 0, 0)).data == b"parent"
    workers, count = 4, 60
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_store_many, args=(cache, w, count))
        for w in range(workers)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join(60)
        assert p.exitcode == 0
    for w in range(workers):
        for i in range(count):
            tile = cache.load(TileCoord(i, w, 9))
            assert tile is not None
            assert tile.data == f"{w}-{i}".encode()
    cache.close()
    files = [p for p in tmp_path.rglob("*") if p.suffix in (".mbtiles", ".gpkg")]
    assert files
    for path in files:
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.close()


# --- MapProxy reads what Tilegate writes, and the other way round -------------------------

INTEROP_CACHES = {
    "mb": "{grids: [GLOBAL_WEBMERCATOR], sources: [wms], cache: {type: mbtiles}}",
    "mb_sw": "{grids: [GLOBAL_MERCATOR], sources: [wms],"
    " cache: {type: mbtiles, filename: ./files/sw.mbtiles}}",
    "sq": "{grids: [GLOBAL_WEBMERCATOR, GLOBAL_GEODETIC], sources: [wms],"
    " cache: {type: sqlite}}",
    "gp": "{grids: [GLOBAL_WEBMERCATOR], sources: [wms],"
    " cache: {type: geopackage, filename: gp/tiles.gpkg, table_name: osm}}",
    "gpl": "{grids: [GLOBAL_WEBMERCATOR], sources: [wms],"
    " cache: {type: geopackage, levels: true, directory: ./gpl}}",
}
# Where MapProxy puts each cache's files, relative to the configuration's directory.
INTEROP_FILES = [
    "cache_data/mb.mbtiles",
    "files/sw.mbtiles",
    "cache_data/sq/GLOBAL_WEBMERCATOR/1.mbtiles",
    "cache_data/sq/GLOBAL_GEODETIC/0.mbtiles",
    "cache_data/gp/tiles.gpkg",
    "gpl/GLOBAL_WEBMERCATOR/1.gpkg",
]
LEVELS = 1

MAPPROXY_DUMP = """
import hashlib, json, sys
from mapproxy.cache.tile import Tile
from mapproxy.config.loader import load_configuration

conf = load_configuration(sys.argv[1])
found = {}
for name in sys.argv[3:]:
    for grid, _, manager in conf.caches[name].caches():
        for z in range(int(sys.argv[2]) + 1):
            nx, ny = grid.grid_sizes[z]
            for x in range(nx):
                for y in range(ny):
                    tile = Tile((x, y, z))
                    if manager.cache.load_tile(tile):
                        data = tile.image_result_buffer().read()
                        key = f"{name}/{grid.name}/{z}/{x}/{y}"
                        found[key] = hashlib.md5(data).hexdigest()
json.dump(found, sys.stdout)
"""


def interop_config(tmp_path: Path, server: MapServer) -> Path:
    config = tmp_path / "mapproxy.yaml"
    config.write_text(
        "\n".join(
            [
                "services: {tms: }",
                "layers: [{name: l, title: l, sources: [mb]}]",
                f"sources: {{wms: {{type: wms, req: {{url: '{server.url}/service',"
                " layers: x}}}",
                "globals: {image: {paletted: false}}",
                "caches:",
                *(f"  {name}: {conf}" for name, conf in INTEROP_CACHES.items()),
            ]
        )
    )
    return config


def mapproxy_tiles(config: Path) -> dict[str, str]:
    result = subprocess.run(
        [MAPPROXY_PYTHON, "-c", MAPPROXY_DUMP, config, str(LEVELS), *INTEROP_CACHES],
        cwd=config.parent,
        check=True,
        capture_output=True,
        timeout=120,
    )
    found: dict[str, str] = json.loads(result.stdout)
    return found


def tilegate_tiles(state: AppState) -> dict[str, str]:
    found = {}
    for name, tilesets in state.caches.items():
        for tiles in tilesets:
            for z in range(LEVELS + 1):
                nx, ny = tiles.grid.sizes[z]
                for x in range(nx):
                    for y in range(ny):
                        if (tile := tiles.cache.load(TileCoord(x, y, z))) is not None:
                            assert tile.data is not None
                            key = f"{name}/{tiles.grid.name}/{z}/{x}/{y}"
                            found[key] = hashlib.md5(tile.data).hexdigest()  # noqa: S324
    return found


def expected_keys() -> set[str]:
    keys = set()
    for name, conf in INTEROP_CACHES.items():
        for grid_name in conf.split("[")[1].split("]")[0].split(", "):
            for z in range(LEVELS + 1):
                nx, ny = GRIDS[grid_name].sizes[z]
                keys |= {
                    f"{name}/{grid_name}/{z}/{x}/{y}"
                    for x in range(nx)
                    for y in range(ny)
                }
    return keys


def green_at_centre(data: bytes) -> int:
    pixel = Image.open(io.BytesIO(data)).convert("RGB").getpixel((128, 128))
    assert isinstance(pixel, tuple)
    return int(pixel[1])


@needs_mapproxy
def test_tilegate_reads_the_caches_mapproxy_seeds(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = interop_config(tmp_path, map_server)
    tasks = {
        "a": "[mb, gp, gpl]",
        "b": "[mb_sw]",
        "c": "[sq]",
    }
    mapproxy_seed(
        config,
        "seeds:\n"
        + "".join(
            f"  {t}: {{caches: {c}, levels: {{to: {LEVELS}}}}}\n"
            for t, c in tasks.items()
        ),
        timeout=120,
    )
    for name in INTEROP_FILES:
        assert (tmp_path / name).is_file(), name
    state = bootstrap(load_config(config), config)
    seeded = mapproxy_tiles(config)
    assert set(seeded) == expected_keys()
    assert tilegate_tiles(state) == seeded
    # Rows as the grid counts them: row 0 of the nw grid is the north, of the sw grid the south.
    (mb,) = state.caches["mb"]
    (mb_sw,) = state.caches["mb_sw"]
    north = mb.cache.load(TileCoord(0, 0, 1))
    south = mb_sw.cache.load(TileCoord(0, 0, 1))
    assert north is not None
    assert south is not None
    assert north.data is not None
    assert south.data is not None
    assert green_at_centre(north.data) > 128 > green_at_centre(south.data)


@needs_mapproxy
def test_mapproxy_reads_the_caches_tilegate_fills(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = interop_config(tmp_path, map_server)
    state = bootstrap(load_config(config), config)
    for tilesets in state.caches.values():
        for tiles in tilesets:
            for z in range(LEVELS + 1):
                nx, ny = tiles.grid.sizes[z]
                for x in range(nx):
                    for y in range(ny):
                        get_tile(TileCoord(x, y, z), tiles)
    for name in INTEROP_FILES:
        assert (tmp_path / name).is_file(), name
    made = tilegate_tiles(state)
    assert set(made) == expected_keys()
    assert mapproxy_tiles(config) == made


# --- GDAL -------------------------------------------------------------------------------


@needs_gdal
def test_gdal_reads_a_tilegate_geopackage_as_a_raster(tmp_path: Path) -> None:
    path = tmp_path / "osm.gpkg"
    cache = GeoPackageCache(path, WEBMERCATOR, "osm")
    for coord in (TileCoord(x, y, 1) for x in range(2) for y in range(2)):
        cache.store(EncodedTile(coord, tile_png(coord)))
    cache.close()
    info = json.loads(
        subprocess.run(
            ["gdalinfo", "-json", path],
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout
    )
    assert info["driverShortName"] == "GPKG"
    assert info["size"] == [512, 512]
    assert 'ID["EPSG",3857]' in info["coordinateSystem"]["wkt"]
    origin_x, res_x, _, origin_y, _, res_y = info["geoTransform"]
    assert (origin_x, origin_y) == pytest.approx((-20037508.34, 20037508.34))
    assert (res_x, res_y) == pytest.approx((WEBMERCATOR.res[1], -WEBMERCATOR.res[1]))
    out = tmp_path / "osm.png"
    subprocess.run(
        ["gdal_translate", "-q", "-of", "PNG", path, out],
        check=True,
        capture_output=True,
        timeout=60,
    )
    with Image.open(out) as image:
        top, bottom = (image.convert("RGB").getpixel((128, y)) for y in (128, 384))
    # GDAL puts the north tile on top, as the map server drew it.
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert top[1] > 128 > bottom[1]


@needs_gdal
def test_gdal_reads_a_tilegate_mbtiles_file(tmp_path: Path) -> None:
    path = tmp_path / "sw.mbtiles"
    cache = MBTilesCache(path)
    for coord in (TileCoord(x, y, 1) for x in range(2) for y in range(2)):
        cache.store(EncodedTile(coord, tile_png(MERCATOR.flip_y(coord))))
    cache.close()
    info = json.loads(
        subprocess.run(
            ["gdalinfo", "-json", path], check=True, capture_output=True, timeout=60
        ).stdout
    )
    assert info["driverShortName"] == "MBTiles"
    assert info["size"] == [512, 512]


# --- Configuration and the app ----------------------------------------------------------


def test_cache_types_and_options_load(tmp_path: Path) -> None:
    (tmp_path / "mapproxy.yaml").write_text(
        "sources: {s: {type: debug}}\n"
        "globals: {cache: {sqlite_timeout: 5}}\n"
        "caches:\n"
        "  a: {sources: [s], cache: {type: mbtiles, filename: a.mbtiles, sqlite_wal: false}}\n"
        "  b: {sources: [s], cache: {type: sqlite, directory: ./b, ttl: 3600}}\n"
        "  c: {sources: [s], cache: {type: geopackage, table_name: t-1, levels: true}}\n"
    )
    conf = load_config(tmp_path / "mapproxy.yaml").conf
    state = bootstrap(
        load_config(tmp_path / "mapproxy.yaml"), tmp_path / "mapproxy.yaml"
    )
    (a,) = state.caches["a"]
    assert isinstance(a.cache, MBTilesCache)
    assert a.cache.path == tmp_path / "cache_data" / "a.mbtiles"
    assert (a.cache.timeout, a.cache.wal) == (5, False)
    (b,) = state.caches["b"]
    assert b.cache.level(3).path == tmp_path / "b" / "GLOBAL_MERCATOR" / "3.mbtiles"  # type: ignore[attr-defined]
    assert b.cache.level(3).ttl == 3600  # type: ignore[attr-defined]
    (c,) = state.caches["c"]
    level = c.cache.level(2)  # type: ignore[attr-defined]
    assert level.path == tmp_path / "cache_data/c/GLOBAL_MERCATOR/2.gpkg"
    assert level.table_name == "t-1"
    assert conf.caches["b"].cache.type == "sqlite"


@pytest.mark.parametrize(
    ("cache", "problem"),
    [
        (
            "{type: nosuch}",
            "unknown cache type 'nosuch', expected one of"
            f" {', '.join(CACHE_TYPES)} @ $.caches['c'].cache",
        ),
        (
            "{type: geopackage, table_name: 'x; drop'}",
            "table_name may only hold letters, digits, '_' and '-', got 'x; drop'"
            " @ $.caches['c'].cache",
        ),
        (
            "{type: sqlite, ttl: -1}",
            "ttl must not be negative, got -1 @ $.caches['c'].cache",
        ),
    ],
)
def test_bad_cache_options_name_their_key(
    tmp_path: Path, cache: str, problem: str
) -> None:
    (tmp_path / "mapproxy.yaml").write_text(
        f"sources: {{s: {{type: debug}}}}\ncaches: {{c: {{sources: [s], cache: {cache}}}}}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "mapproxy.yaml")
    assert info.value.problems == [problem]


def test_one_mbtiles_file_cannot_hold_two_grids(tmp_path: Path) -> None:
    (tmp_path / "mapproxy.yaml").write_text(
        "sources: {s: {type: debug}}\n"
        "caches: {c: {sources: [s], grids: [GLOBAL_MERCATOR, GLOBAL_GEODETIC],"
        " cache: {type: mbtiles}}}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "mapproxy.yaml")
    assert info.value.problems == [
        "one MBTiles file cannot hold several grids @ $.caches['c'].cache"
    ]


def test_tms_tile_is_served_from_an_mbtiles_cache(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, one_cache_conf(map_server, {"type": "mbtiles"}))
    status, headers, body = get(app, "/tms/1.0.0/osm/EPSG900913/0/0/1.png")
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert len(map_server.requests) == 1
    # TMS level 0 is grid level 1; row 1 counted from the south is the northern tile.
    path = tmp_path / "cache_data" / "osm_cache.mbtiles"
    with sqlite3.connect(path) as db:
        stored = db.execute(
            "SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"
        ).fetchall()
    db.close()
    assert stored == [(1, 0, 1, body)]
    assert green_at_centre(body) > 128
    status, again_headers, again = get(app, "/tms/1.0.0/osm/EPSG900913/0/0/1.png")
    assert (status, again) == (200, body)
    assert len(map_server.requests) == 1
    assert "Last-Modified" in again_headers
