"""`type: ogcapimaps` sources against the test map server's OGC API (tests/ogcapi_upstream.py):
the map parameters sent as MapProxy sends them, the pixels served, warping, meta-tiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.grid import TileCoord
from tests.integration.ogcapi_source_support import app_for, asked, pixels, same_image
from tests.integration.test_app import get, same_pixels
from tests.integration.test_wms_service import getmap
from tests.mapserver import MapServer, render
from tests.ogcapi_upstream import CRS84, EPSG


def test_maps_send_bbox_crs_size_as_mapproxy_and_return_the_servers_pixels(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(tmp_path, map_server, om={"transparent": True, "bgcolor": "#ff0000"})
    bbox = (-1000000.0, -500000.0, 1000000.0, 500000.0)
    status, _, data = getmap(
        app, layers="m", bbox=",".join(map(str, bbox)), width=200, height=100
    )
    assert status == 200, data
    assert asked(map_server) == [
        "/ogcapi/collections/base",
        "/ogcapi/collections/base/map",
    ]
    assert map_server.requests[-1].params == {
        "F": "png",
        "BBOX": "-1000000.0,-500000.0,1000000.0,500000.0",
        "BBOX-CRS": EPSG + "3857",
        "CRS": EPSG + "3857",
        "WIDTH": "200",
        "HEIGHT": "100",
        "TRANSPARENT": "true",
        "BGCOLOR": "0xFF0000",
    }
    assert same_image(data, render(bbox, (200, 100), "EPSG:3857"))


def test_maps_in_epsg4326_send_a_crs84_bbox(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(tmp_path, map_server)
    status, _, data = getmap(
        app,
        version="1.3.0",
        layers="m",
        crs="EPSG:4326",
        bbox="-20,-10,20,10",
        width=100,
        height=50,
        srs=None,
    )
    assert status == 200, data
    # WMS 1.3.0 gave lat/lon; the map server gets lon/lat and no bbox-crs (CRS84 is the default).
    assert map_server.requests[-1].params == {
        "F": "png",
        "BBOX": "-10.0,-20.0,10.0,20.0",
        "CRS": CRS84,
        "WIDTH": "100",
        "HEIGHT": "50",
    }
    assert same_image(data, render((-10, -20, 10, 20), (100, 50), "EPSG:4326"))


def test_maps_in_an_srs_the_server_does_not_list_are_warped_from_one_it_does(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(tmp_path, map_server)
    status, _, data = getmap(
        app,
        layers="m",
        srs="EPSG:25832",
        bbox="400000,5000000,600000,6000000",
        width=100,
        height=100,
    )
    assert status == 200, data
    assert pixels(data).size == (100, 100)
    assert map_server.requests[-1].params["CRS"] == EPSG + "3857"


def test_supported_srs_replaces_what_the_server_lists(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(tmp_path, map_server, om={"supported_srs": ["EPSG:4326"]})
    status, _, data = getmap(
        app, layers="m", bbox="-1000000,-1000000,1000000,1000000", width=100, height=100
    )
    assert status == 200, data
    sent = map_server.requests[-1].params
    # Only CRS84: neither bbox-crs nor crs is sent, as by MapProxy.
    assert "CRS" not in sent
    assert "BBOX-CRS" not in sent
    assert [float(v) for v in sent["BBOX"].split(",")] == pytest.approx(
        [-8.983152841195214, -8.946573850543412, 8.983152841195214, 8.946573850543412]
    )


def test_transparent_color_turns_the_colour_transparent(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = app_for(
        tmp_path,
        map_server,
        om={
            "image": {"transparent_color": "#ffffff", "transparent_color_tolerance": 0}
        },
    )
    # Half the map is east of 180°, where the map server draws white.
    status, _, data = getmap(
        app,
        layers="m",
        srs="EPSG:4326",
        bbox="170,-10,190,10",
        width=100,
        height=100,
        transparent="true",
    )
    assert status == 200, data
    alpha = pixels(data).getchannel("A")
    assert alpha.getpixel((25, 50)) == 255
    assert alpha.getpixel((75, 50)) == 0


def test_cached_maps_come_as_meta_tiles(tmp_path: Path, map_server: MapServer) -> None:
    app = app_for(tmp_path, map_server)
    status, _, data = get(app, "/tiles/mc/EPSG3857/4/5/6.png", "origin=nw")
    assert status == 200
    assert same_pixels(data, TileCoord(5, 6, 4))
    maps = [r for r in map_server.requests if r.path.endswith("/map")]
    assert len(maps) == 1
    assert maps[0].params["WIDTH"] == str(4 * 256 + 2 * 80)
