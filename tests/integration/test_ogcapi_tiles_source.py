"""`type: ogcapitiles` sources against the test map server's OGC API (tests/ogcapi_upstream.py):
which tileset is found, what is asked upstream, the pixels served, coverage and seed_only."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.ogcapi_tiles_source import parse_tile_matrix_set
from domain.bbox import Bbox
from domain.grid import TileCoord
from tests.integration.ogcapi_source_support import (
    WEB_MERCATOR_QUAD,
    app_for,
    asked,
    conf,
    pixels,
    same_image,
)
from tests.integration.test_app import get, make_app, same_pixels
from tests.integration.test_wms_service import getmap
from tests.mapserver import MapServer, render


def test_tiles_are_found_from_the_collection_and_fetched_once(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(tmp_path, map_server)
    assert map_server.requests == []  # nothing is asked before a tile is
    status, _, data = get(app, "/tms/1.0.0/t/EPSG3857/2/1/1.png")
    assert status == 200
    # TMS level 2 row 1 (from the south) is the grid's level 3 row 6 (from the north).
    assert same_pixels(data, TileCoord(1, 6, 3))
    tile = "/ogcapi/collections/base/tiles/WebMercatorQuad/3/6/1"
    assert asked(map_server) == [*WEB_MERCATOR_QUAD, tile]
    assert map_server.requests[-1].params == {"F": "png"}
    assert all(
        r.headers["accept"] == "application/json" for r in map_server.requests[:4]
    )
    # Discovery is kept, the tile is cached: one more request for one more tile.
    assert get(app, "/tms/1.0.0/t/EPSG3857/2/1/1.png")[2] == data
    status, _, other = get(app, "/tiles/t/EPSG3857/4/8/5.png", "origin=nw")
    assert status == 200
    assert same_pixels(other, TileCoord(8, 5, 4))
    assert asked(map_server)[5:] == [
        "/ogcapi/collections/base/tiles/WebMercatorQuad/4/5/8"
    ]


def test_wms_maps_from_an_ogcapi_tiles_cache(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(tmp_path, map_server)
    world = 20037508.342789244
    status, _, data = getmap(
        app, layers="t", bbox=f"0,0,{world},{world}", width=256, height=256
    )
    assert status == 200, data
    # The north-east quarter of the world is tile (1, 0) of level 1.
    assert same_pixels(data, TileCoord(1, 0, 1))
    assert (
        asked(map_server)[-1] == "/ogcapi/collections/base/tiles/WebMercatorQuad/1/0/1"
    )


def test_a_tile_matrix_set_of_the_1_0_encoding_is_read_in_its_axis_order() -> None:
    # WMTS-style: no cellSize, the scale of 0.28 mm pixels, topLeftCorner lat/lon for EPSG:4326.
    tms = parse_tile_matrix_set(
        {
            "identifier": "geo",
            "crs": "urn:ogc:def:crs:EPSG::4326",
            "tileMatrices": [
                {
                    "id": "0",
                    "scaleDenominator": 279541132.0143589,
                    "topLeftCorner": [90, -180],
                    "tileWidth": 256,
                    "tileHeight": 256,
                    "matrixWidth": 2,
                    "matrixHeight": 1,
                }
            ],
        },
        "http://example.org/tms",
    )
    matrix = tms.matrices[0]
    assert matrix.origin == (-180, 90)
    assert matrix.cell_size == pytest.approx(180 / 256)
    assert tms.tile_for(Bbox(0, -90, 180, 90), (256, 256)) == (matrix, 1, 0)


def test_geodetic_cache_from_worldcrs84quad_of_the_landing_page(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = conf(
        f"{map_server.url}/ogcapi/",
        ot={"collection": None, "tile_matrix_set_id": "WorldCRS84Quad"},
    )
    del config["sources"]["ot"]["collection"]
    config["caches"]["tc"]["grids"] = ["GLOBAL_GEODETIC"]
    app = make_app(tmp_path, config)
    status, _, data = get(app, "/tiles/t/EPSG4326/1/1/0.png")
    assert status == 200
    assert same_image(data, render((0, -90, 180, 90), (256, 256), "EPSG:4326"))
    assert asked(map_server) == [
        "/ogcapi",
        "/ogcapi/tiles",
        "/ogcapi/tiles/WorldCRS84Quad",
        "/ogcapi/tileMatrixSets/WorldCRS84Quad",
        "/ogcapi/tiles/WorldCRS84Quad/0/0/1",
    ]
    # Level 0 of GLOBAL_GEODETIC (one tile reaching past 90°) is no tile of WorldCRS84Quad.
    status, _, body = get(app, "/tiles/t/EPSG4326/0/0/0.png")
    assert status == 502
    assert b"no tile of tile matrix set WorldCRS84Quad" in body


def test_a_grid_in_an_srs_without_tileset_is_a_502_naming_what_is_offered(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = conf(f"{map_server.url}/ogcapi")
    config["grids"] = {
        "utm": {"srs": "EPSG:25832", "bbox": [0, 5000000, 1000000, 6000000]}
    }
    config["caches"]["tc"]["grids"] = ["utm"]
    config["services"] = {"tms": None}
    config["layers"] = config["layers"][:1]
    app = make_app(tmp_path, config)
    status, _, body = get(app, "/tiles/t/EPSG25832/0/0/0.png")
    assert status == 502
    assert b"no map tileset in EPSG:25832 (in: EPSG:3857)" in body


def test_tiles_outside_the_coverage_and_of_seed_only_sources_are_blank_without_requests(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(
        tmp_path,
        map_server,
        ot={"coverage": {"bbox": [5, 45, 15, 55], "srs": "EPSG:4326"}},
    )
    status, _, data = get(app, "/tiles/t/EPSG3857/4/1/1.png", "origin=nw")  # Pacific
    assert status == 200
    assert pixels(data).getchannel("A").getextrema() == (0, 0)
    assert map_server.requests == []
    assert get(app, "/tiles/t/EPSG3857/4/8/5.png", "origin=nw")[0] == 200  # Europe
    assert (
        asked(map_server)[-1] == "/ogcapi/collections/base/tiles/WebMercatorQuad/4/5/8"
    )

    seed_only = app_for(tmp_path / "seed", map_server, ot={"seed_only": True})
    map_server.reset()
    status, _, data = get(seed_only, "/tiles/t/EPSG3857/4/8/5.png", "origin=nw")
    assert status == 200
    assert pixels(data).getchannel("A").getextrema() == (0, 0)
    assert map_server.requests == []
