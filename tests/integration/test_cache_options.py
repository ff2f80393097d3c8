"""Cache and layer options against the real map server: refresh_before, up/downscaling,
use_direct_from_level/res, bulk_meta_tiles, concurrent_tile_creators, permissions, tile_sources."""

from __future__ import annotations

import io
import os
import stat
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from PIL import Image, ImageChops

from adapters.config import parse_config
from domain.errors import ConfigError
from domain.grid import TileCoord
from entrypoints.bootstrap import bootstrap
from entrypoints.fast_path import nginx_locations
from tests.integration.test_app import WEBMERCATOR, get, make_app, same_pixels
from tests.mapserver import MapServer, render

TILE = TileCoord(1, 6, 3)  # the grid's own levels and rows (origin nw)
TILE_URL = "/tiles/xyz/EPSG3857/3/1/6.png"
CACHE_DIR = "cache_data/xyz_cache_EPSG3857"


def conf(
    server: MapServer, cache: dict[str, Any] | None = None, **source: Any
) -> dict[str, Any]:
    """A TMS/WMTS layer `xyz` over a tms-layout file cache of the map server's tiles."""
    return {
        "services": {"tms": {"origin": "nw"}, "wmts": None, "wms": None},
        "globals": {"image": {"paletted": False, "resampling_method": "nearest"}},
        "layers": [{"name": "xyz", "title": "XYZ", "sources": ["xyz_cache"]}],
        "caches": {
            "xyz_cache": {
                "grids": ["GLOBAL_WEBMERCATOR"],
                "sources": ["xyz"],
                "cache": {"directory_layout": "tms"},
                **(cache or {}),
            }
        },
        "sources": {
            "xyz": {
                "type": "tile",
                "url": f"{server.url}/tiles/%(z)s/%(x)s/%(y)s.png",
                "grid": "GLOBAL_WEBMERCATOR",
                **source,
            }
        },
    }


def tile_file(tmp_path: Path, coord: TileCoord) -> Path:
    return tmp_path / CACHE_DIR / f"{coord.z}/{coord.x}/{coord.y}.png"


def paths(server: MapServer) -> list[str]:
    return [r.path for r in server.requests]


def problems(tmp_path: Path, config: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        make_app(tmp_path, config)
    return caught.value.problems


def image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGBA")


def truth(coord: TileCoord) -> Image.Image:
    return render(
        WEBMERCATOR.tile_bbox(coord).as_tuple(), (256, 256), "EPSG:3857", False
    )


def close(a: Image.Image, b: Image.Image, tolerance: int = 2) -> bool:
    """Same pixels up to `tolerance` per channel (the map server's colours change slowly)."""
    diff = ImageChops.difference(a.convert("RGBA"), b.convert("RGBA"))
    return all(high <= tolerance for _, high in diff.getextrema())  # type: ignore[misc]


# refresh_before


def test_refresh_before_remakes_a_tile_older_than_the_delta_only(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, conf(map_server, {"refresh_before": {"hours": 1}}))
    assert get(app, TILE_URL)[0] == 200
    assert get(app, TILE_URL)[0] == 200
    assert paths(map_server) == ["/tiles/3/1/6.png"]  # fresh: served from the cache
    stored = tile_file(tmp_path, TILE)
    two_hours_ago = time.time() - 7200
    os.utime(stored, (two_hours_ago, two_hours_ago))
    status, _, data = get(app, TILE_URL)
    assert status == 200
    assert same_pixels(data, TILE)
    assert paths(map_server) == ["/tiles/3/1/6.png"] * 2
    assert stored.stat().st_mtime > time.time() - 60  # stored again
    get(app, TILE_URL)
    assert len(map_server.requests) == 2


def test_refresh_before_mtime_makes_tiles_older_than_the_file_old_when_it_is_touched(
    tmp_path: Path, map_server: MapServer
) -> None:
    stamp = tmp_path / "reimport.stamp"
    stamp.touch()
    os.utime(stamp, (time.time() - 3600,) * 2)
    app = make_app(
        tmp_path, conf(map_server, {"refresh_before": {"mtime": "reimport.stamp"}})
    )
    get(app, TILE_URL)
    get(app, TILE_URL)
    assert len(map_server.requests) == 1
    os.utime(
        stamp, (time.time() + 60,) * 2
    )  # the data was re-imported: every tile is old
    get(app, TILE_URL)
    assert len(map_server.requests) == 2


def test_refresh_before_an_absolute_time_in_the_future_remakes_every_time(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(
        tmp_path, conf(map_server, {"refresh_before": {"time": "2999-01-01T00:00:00"}})
    )
    get(app, TILE_URL)
    get(app, TILE_URL)
    assert len(map_server.requests) == 2


def test_the_nginx_fast_path_leaves_caches_with_refresh_before_to_tilegate(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = conf(map_server, {"refresh_before": {"days": 1}})
    config["services"]["wmts"] = None
    state = bootstrap(
        parse_config(config, str(tmp_path / "mapproxy.yaml")),
        tmp_path / "mapproxy.yaml",
    )
    fast = nginx_locations(state, "http://127.0.0.1:8080")
    assert fast.served == ()
    assert fast.skipped == (
        "layer 'xyz' in grid 'GLOBAL_WEBMERCATOR': refresh_before: old tiles are made"
        " again by Tilegate",
    )


def test_bad_refresh_before_is_a_config_error_with_its_key_path(
    tmp_path: Path, map_server: MapServer
) -> None:
    assert problems(
        tmp_path, conf(map_server, {"refresh_before": {"mtime": "gone"}})
    ) == [
        "cannot read the modification time of 'gone': No such file or directory"
        " @ $.caches['xyz_cache'].refresh_before.mtime"
    ]
    assert problems(
        tmp_path, conf(map_server, {"refresh_before": {"time": "soon"}})
    ) == [
        "invalid time 'soon', expected YYYY-MM-DDTHH:MM:SS @ $.caches['xyz_cache'].refresh_before.time"
    ]
    # As MapProxy: an unknown key is a warning (and ignored), with its key path.
    config = conf(map_server, {"refresh_before": {"dayz": 1}})
    loaded = parse_config(config, str(tmp_path / "mapproxy.yaml"))
    assert loaded.warnings == (
        "extra fields found (dayz) @ $.caches['xyz_cache'].refresh_before",
    )


# upscale_tiles / downscale_tiles


def seed_tile(tmp_path: Path, coord: TileCoord) -> None:
    path = tile_file(tmp_path, coord)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = io.BytesIO()
    truth(coord).save(out, "PNG")
    path.write_bytes(out.getvalue())


def rescale_conf(server: MapServer, **cache: Any) -> dict[str, Any]:
    # As MapProxy: rescaling happens only where the source cannot be asked (seed_only here).
    return conf(server, cache, seed_only=True)


def test_upscale_draws_a_missing_tile_from_the_coarser_level_without_asking_the_source(
    tmp_path: Path, map_server: MapServer
) -> None:
    map_server.add_fault("error")
    seed_tile(tmp_path, TILE)
    app = make_app(tmp_path, rescale_conf(map_server, upscale_tiles=1))
    finer = TileCoord(3, 13, 4)  # the south-east quarter of TILE
    status, _, data = get(app, "/tiles/xyz/EPSG3857/4/3/13.png")
    assert status == 200
    quarter = (
        truth(TILE)
        .crop((128, 128, 256, 256))
        .resize((256, 256), Image.Resampling.NEAREST)
    )
    assert close(image(data), quarter, tolerance=0)
    assert map_server.requests == []
    assert not tile_file(
        tmp_path, finer
    ).exists()  # not stored without cache_rescaled_tiles
    # Two levels finer is out of reach of upscale_tiles: 1; nothing found is transparent.
    status, _, data = get(app, "/tiles/xyz/EPSG3857/5/6/26.png")
    assert status == 200
    assert image(data).getchannel("A").getextrema() == (0, 0)
    assert map_server.requests == []


def test_downscale_draws_a_missing_tile_from_the_finer_tiles_and_stores_it_if_asked(
    tmp_path: Path, map_server: MapServer
) -> None:
    for x in (2, 3):
        for y in (12, 13):
            seed_tile(tmp_path, TileCoord(x, y, 4))
    app = make_app(
        tmp_path, rescale_conf(map_server, downscale_tiles=1, cache_rescaled_tiles=True)
    )
    status, _, data = get(app, TILE_URL)
    assert status == 200
    assert close(image(data), truth(TILE))
    assert map_server.requests == []
    assert (
        tile_file(tmp_path, TILE).read_bytes() == data
    )  # cache_rescaled_tiles: stored


def test_a_tile_the_source_can_make_is_fetched_not_rescaled(
    tmp_path: Path, map_server: MapServer
) -> None:
    seed_tile(tmp_path, TILE)
    app = make_app(tmp_path, conf(map_server, {"upscale_tiles": 1}))
    status, _, data = get(app, "/tiles/xyz/EPSG3857/4/3/13.png")
    assert status == 200
    assert same_pixels(data, TileCoord(3, 13, 4))
    assert paths(map_server) == ["/tiles/4/3/13.png"]


def test_source_resolution_limits_leave_the_finer_levels_to_upscaling(
    tmp_path: Path, map_server: MapServer
) -> None:
    # The source serves down to level 3 (max_res): level 4 comes from level 3's stored tile.
    config = conf(map_server, {"upscale_tiles": 2}, max_res=WEBMERCATOR.res[3] * 0.9)
    app = make_app(tmp_path, config)
    get(app, TILE_URL)
    assert paths(map_server) == ["/tiles/3/1/6.png"]
    status, _, data = get(app, "/tiles/xyz/EPSG3857/4/3/13.png")
    assert status == 200
    quarter = (
        truth(TILE)
        .crop((128, 128, 256, 256))
        .resize((256, 256), Image.Resampling.NEAREST)
    )
    assert close(image(data), quarter, tolerance=0)
    assert len(map_server.requests) == 1


# bulk_meta_tiles and concurrent_tile_creators


@pytest.mark.parametrize(("creators", "in_flight"), [(1, 1), (2, 2)])
def test_bulk_meta_tiles_fetch_the_meta_tile_s_tiles_concurrent_tile_creators_at_a_time(
    tmp_path: Path, map_server: MapServer, creators: int, in_flight: int
) -> None:
    map_server.add_fault(delay=0.2, path="/tiles/")
    cache = {
        "bulk_meta_tiles": True,
        "meta_size": [2, 2],
        "concurrent_tile_creators": creators,
    }
    app = make_app(tmp_path, conf(map_server, cache))
    status, _, data = get(app, TILE_URL)
    assert status == 200
    assert same_pixels(data, TILE)
    assert sorted(paths(map_server)) == [
        "/tiles/3/0/6.png",
        "/tiles/3/0/7.png",
        "/tiles/3/1/6.png",
        "/tiles/3/1/7.png",
    ]
    assert map_server.max_in_flight == in_flight
    for x, y in ((0, 6), (0, 7), (1, 7)):
        assert tile_file(tmp_path, TileCoord(x, y, 3)).exists()
    get(app, "/tiles/xyz/EPSG3857/3/0/7.png")
    assert len(map_server.requests) == 4


def test_without_bulk_meta_tiles_a_tile_source_is_asked_for_the_one_tile(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, conf(map_server, {"meta_size": [2, 2]}))
    get(app, TILE_URL)
    assert paths(map_server) == ["/tiles/3/1/6.png"]


def wms_conf(server: MapServer, **cache: Any) -> dict[str, Any]:
    return {
        "services": {"wms": None, "tms": None},
        "globals": {"image": {"paletted": False}},
        "layers": [{"name": "cached", "title": "Cached", "sources": ["c"]}],
        "caches": {
            "c": {
                "grids": ["GLOBAL_WEBMERCATOR"],
                "sources": ["w"],
                "meta_size": [1, 1],
                "meta_buffer": 0,
                "cache": {"directory_layout": "tms"},
                **cache,
            }
        },
        "sources": {
            "w": {"type": "wms", "req": {"url": f"{server.url}/service", "layers": "x"}}
        },
    }


def getmap(app: Any, bbox: tuple[float, ...], size: int = 256) -> tuple[int, bytes]:
    query = urlencode(
        {
            "SERVICE": "WMS",
            "REQUEST": "GetMap",
            "VERSION": "1.1.1",
            "LAYERS": "cached",
            "STYLES": "",
            "SRS": "EPSG:3857",
            "BBOX": ",".join(map(str, bbox)),
            "WIDTH": size,
            "HEIGHT": size,
            "FORMAT": "image/png",
        }
    )
    status, _, data = get(app, "/service", query)
    return status, data


def test_concurrent_tile_creators_bounds_the_meta_tiles_one_map_makes_at_once(
    tmp_path: Path, map_server: MapServer
) -> None:
    map_server.add_fault(delay=0.2, path="/service")
    app = make_app(tmp_path, wms_conf(map_server, concurrent_tile_creators=2))
    # Four tiles of level 2 (one meta-tile each): two requests at a time, four in all.
    half = WEBMERCATOR.bbox.maxx / 2
    status, _ = getmap(app, (-half, -half, half, half))
    assert status == 200
    assert len(map_server.requests) == 4
    assert map_server.max_in_flight == 2


# use_direct_from_level / use_direct_from_res


@pytest.mark.parametrize(
    "option",
    [{"use_direct_from_level": 3}, {"use_direct_from_res": WEBMERCATOR.res[3]}],
)
def test_maps_from_the_direct_level_on_ask_the_source_and_store_nothing(
    tmp_path: Path, map_server: MapServer, option: dict[str, Any]
) -> None:
    app = make_app(tmp_path, wms_conf(map_server, **option))
    fine = WEBMERCATOR.tile_bbox(TileCoord(1, 6, 3)).as_tuple()  # level 3's resolution
    status, data = getmap(app, fine, 256)
    assert status == 200
    assert close(image(data), truth(TileCoord(1, 6, 3)))
    (asked,) = map_server.requests
    assert (asked.params["WIDTH"], asked.params["HEIGHT"]) == ("256", "256")
    assert [float(v) for v in asked.params["BBOX"].split(",")] == pytest.approx(fine)
    assert not (tmp_path / "cache_data").exists()
    # Level 2's resolution is the cache's: a tile is made and stored.
    coarse = WEBMERCATOR.tile_bbox(TileCoord(0, 3, 2)).as_tuple()
    assert getmap(app, coarse, 256)[0] == 200
    assert len(list((tmp_path / "cache_data").rglob("*.png"))) == 1


def test_use_direct_needs_a_cache_with_one_source(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = wms_conf(map_server, use_direct_from_level=3)
    config["caches"]["c"]["sources"] = ["w", "w"]
    assert problems(tmp_path, config) == [
        "use_direct_from_level needs a cache with exactly one source"
        " @ $.caches['c'].use_direct_from_level"
    ]


# directory_permissions / file_permissions


def test_permissions_are_set_on_the_directories_and_files_a_cache_creates(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = conf(map_server)
    config["caches"]["xyz_cache"]["cache"].update(
        directory_permissions="750", file_permissions="640"
    )
    app = make_app(tmp_path, config)
    assert get(app, TILE_URL)[0] == 200
    stored = tile_file(tmp_path, TILE)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o640
    for directory in (stored.parent, stored.parent.parent, tmp_path / CACHE_DIR):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o750
    # The meta-tile lock files too, as MapProxy 7 sets them.
    locks = tmp_path / "cache_data" / "tile_locks"
    assert stat.S_IMODE(locks.stat().st_mode) == 0o750
    assert [stat.S_IMODE(p.stat().st_mode) for p in locks.iterdir()] == [0o640]


def test_global_permissions_apply_to_sqlite_files(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = conf(
        map_server, {"cache": {"type": "mbtiles", "filename": "new/dir/t.mbtiles"}}
    )
    config["globals"]["cache"] = {
        "directory_permissions": "700",
        "file_permissions": "600",
    }
    app = make_app(tmp_path, config)
    assert get(app, TILE_URL)[0] == 200
    mbtiles = tmp_path / "cache_data/new/dir/t.mbtiles"
    assert stat.S_IMODE(mbtiles.stat().st_mode) == 0o600
    for directory in (mbtiles.parent, mbtiles.parent.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700


# tile_sources


def test_tile_sources_serve_tiles_from_their_caches_and_wms_from_sources(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = wms_conf(map_server)
    config["services"]["wmts"] = None
    config["caches"]["geo"] = {"grids": ["GLOBAL_GEODETIC"], "sources": ["w"]}
    config["layers"] = [
        {
            "name": "both",
            "title": "Both",
            "sources": ["w"],
            "tile_sources": ["c", "geo"],
        }
    ]
    app = make_app(tmp_path, config)
    _, _, capabilities = get(app, "/tms/1.0.0/")
    assert b"/tms/1.0.0/both/EPSG3857" in capabilities
    assert b"/tms/1.0.0/both/EPSG4326" in capabilities
    status, _, data = get(app, "/tiles/both/EPSG3857/3/1/6.png", "origin=nw")
    assert status == 200
    assert close(image(data), truth(TILE))
    assert len(list((tmp_path / "cache_data" / "c_EPSG3857").rglob("*.png"))) == 1
    # WMS draws `sources`: the WMS source asked for the map itself, nothing cached.
    map_server.requests.clear()
    status, _, _ = get(
        app,
        "/service",
        "SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&LAYERS=both&STYLES=&SRS=EPSG:4326"
        "&BBOX=0,0,10,10&WIDTH=100&HEIGHT=100&FORMAT=image/png",
    )
    assert status == 200
    (asked,) = map_server.requests
    assert asked.params["WIDTH"] == "100"


def test_tile_sources_must_be_caches(tmp_path: Path, map_server: MapServer) -> None:
    config = wms_conf(map_server)
    config["layers"][0]["tile_sources"] = ["w"]
    assert problems(tmp_path, config) == [
        "unknown cache 'w' (tile_sources are caches) @ $.layers[0].tile_sources[0]"
    ]


# Bad values


@pytest.mark.parametrize(
    ("cache", "problem"),
    [
        ({"upscale_tiles": -1}, "upscale_tiles must not be negative, got -1"),
        ({"downscale_tiles": -2}, "downscale_tiles must not be negative, got -2"),
        (
            {"concurrent_tile_creators": 0},
            "concurrent_tile_creators must be 1 or more, got 0",
        ),
        ({"use_direct_from_res": 0}, "use_direct_from_res must be positive, got 0.0"),
        (
            {"use_direct_from_level": 3, "use_direct_from_res": 10},
            "set use_direct_from_level or use_direct_from_res, not both",
        ),
    ],
)
def test_bad_option_values_are_config_errors_with_key_paths(
    tmp_path: Path, map_server: MapServer, cache: dict[str, Any], problem: str
) -> None:
    assert problems(tmp_path, conf(map_server, cache)) == [
        f"{problem} @ $.caches['xyz_cache']"
    ]


def test_bad_permissions_are_config_errors_with_key_paths(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = conf(map_server, {"cache": {"directory_permissions": "rwx"}})
    config["globals"]["cache"] = {"file_permissions": "999"}
    assert problems(tmp_path, config) == [
        "directory_permissions must be an octal mode like '755', got 'rwx'"
        " @ $.caches['xyz_cache'].cache",
        "file_permissions must be an octal mode like '755', got '999' @ $.globals.cache",
    ]


def test_config_loads_without_bootstrap_for_the_whole_option_set(
    tmp_path: Path,
) -> None:
    loaded = parse_config(
        {
            "sources": {"s": {"type": "debug"}},
            "caches": {
                "c": {
                    "sources": ["s"],
                    "refresh_before": {"weeks": 1, "days": 2},
                    "upscale_tiles": 2,
                    "downscale_tiles": 1,
                    "cache_rescaled_tiles": True,
                    "bulk_meta_tiles": True,
                    "concurrent_tile_creators": 4,
                    "use_direct_from_res": 10.5,
                }
            },
            "layers": [
                {"name": "l", "title": "L", "sources": ["c"], "tile_sources": ["c"]}
            ],
        },
        str(tmp_path / "mapproxy.yaml"),
    )
    assert loaded.warnings == ()
    cache = loaded.conf.caches["c"]
    assert cache.refresh_before is not None
    assert cache.refresh_before.delta_seconds == 9 * 86400
    assert bootstrap(loaded, tmp_path / "mapproxy.yaml").layers["l"].tilesets
