"""OGC API tiles and maps against the real map server: the same pixels WMTS and WMS give."""

from __future__ import annotations

import io
import json
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest
from PIL import Image

from entrypoints.app import TilegateApp
from tests.integration.ogcapi_support import BASE, hrefs, ogcapi_app, ogcapi_conf
from tests.integration.test_app import make_app
from tests.mapserver import WEBMERCATOR_EXTENT, MapServer
from tests.wsgi_call import call

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


@pytest.fixture
def app(tmp_path: Path, map_server: MapServer) -> TilegateApp:
    return ogcapi_app(tmp_path, map_server)


def image(body: bytes) -> Image.Image:
    return Image.open(io.BytesIO(body))


def test_a_cached_tile_is_the_wmts_tile_byte_for_byte(
    app: TilegateApp, map_server: MapServer
) -> None:
    path = "/ogcapi/collections/osm/map/tiles/WebMercatorQuad/2/1/3.png"
    status, headers, body = call(app, path)
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert "ETag" in headers
    wmts = call(app, "/wmts/osm/GLOBAL_WEBMERCATOR/02/3/1.png")
    assert wmts[0] == 200
    assert body == wmts[2]
    # Served from the cache: asking again asks the map server nothing more.
    asked = map_server.stats()["total"]
    assert call(app, path)[2] == body
    assert map_server.stats()["total"] == asked


def test_rows_of_a_bottom_left_grid_count_from_the_south(app: TilegateApp) -> None:
    # The map server's green grows northwards: row 0 of GLOBAL_GEODETIC level 2 is the south.
    south = image(
        call(app, "/ogcapi/collections/geo/map/tiles/GLOBAL_GEODETIC/2/0/1")[2]
    )
    north = image(
        call(app, "/ogcapi/collections/geo/map/tiles/GLOBAL_GEODETIC/2/1/1")[2]
    )
    green = [np.asarray(i.convert("RGB"))[..., 1].mean() for i in (south, north)]
    assert green[0] < 128 < green[1]


def test_a_tile_on_a_grid_without_a_cache_is_rendered(app: TilegateApp) -> None:
    status, headers, body = call(
        app, "/ogcapi/collections/osm/map/tiles/GLOBAL_GEODETIC/1/0/0.jpg"
    )
    assert (status, headers["Content-Type"]) == (200, "image/jpeg")
    assert image(body).size == (256, 256)
    status, _, body = call(
        app, "/ogcapi/collections/direct/map/tiles/WebMercatorQuad/1/0/0"
    )
    assert status == 200
    assert image(body).size == (256, 256)


def test_a_map_has_the_asked_size_crs_and_the_wms_pixels(app: TilegateApp) -> None:
    bbox = "-10000000,-5000000,10000000,5000000"
    query = urlencode(
        {
            "bbox": bbox,
            "bbox-crs": EPSG + "3857",
            "crs": EPSG + "3857",
            "width": 300,
            "height": 150,
        }
    )
    status, headers, body = call(app, "/ogcapi/collections/osm/map", query)
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert headers["Content-Crs"] == f"<{EPSG}3857>"
    assert headers["Content-Bbox"] == "-10000000.0,-5000000.0,10000000.0,5000000.0"
    assert headers["Access-Control-Allow-Origin"] == "*"
    ours = image(body)
    assert ours.size == (300, 150)
    wms = call(
        app,
        "/service",
        urlencode(
            {
                "SERVICE": "WMS",
                "REQUEST": "GetMap",
                "VERSION": "1.1.1",
                "LAYERS": "osm",
                "STYLES": "",
                "SRS": "EPSG:3857",
                "BBOX": bbox,
                "WIDTH": 300,
                "HEIGHT": 150,
                "FORMAT": "image/png",
                "TRANSPARENT": "TRUE",
            }
        ),
    )
    assert wms[0] == 200
    assert np.array_equal(
        np.asarray(ours.convert("RGBA")), np.asarray(image(wms[2]).convert("RGBA"))
    )


def test_a_bbox_in_epsg_4326_is_latitude_first(app: TilegateApp) -> None:
    query = urlencode(
        {
            "bbox": "10,0,20,40",
            "bbox-crs": EPSG + "4326",
            "crs": EPSG + "4326",
            "width": 400,
        }
    )
    status, headers, body = call(app, "/ogcapi/collections/direct/map", query)
    assert status == 200
    assert headers["Content-Bbox"] == "10.0,0.0,20.0,40.0"
    # 40° of longitude by 10° of latitude: the height follows the aspect ratio.
    assert image(body).size == (400, 100)


def test_a_map_without_parameters_shows_the_collection_at_1024_pixels(
    app: TilegateApp,
) -> None:
    status, headers, body = call(app, "/ogcapi/collections/osm/map")
    assert status == 200
    assert headers["Content-Crs"] == f"<{EPSG}3857>"
    values = [float(v) for v in headers["Content-Bbox"].split(",")]
    assert values == pytest.approx(
        [
            -WEBMERCATOR_EXTENT,
            -WEBMERCATOR_EXTENT,
            WEBMERCATOR_EXTENT,
            WEBMERCATOR_EXTENT,
        ]
    )
    assert image(body).size == (1024, 1024)
    # A world in EPSG:4326 ends at Web Mercator's edge, not at infinity.
    status, headers, _ = call(app, "/ogcapi/collections/geo/map", "width=10")
    values = [float(v) for v in headers["Content-Bbox"].split(",")]
    assert values == pytest.approx(
        [
            -WEBMERCATOR_EXTENT,
            -WEBMERCATOR_EXTENT,
            WEBMERCATOR_EXTENT,
            WEBMERCATOR_EXTENT,
        ]
    )


def test_a_map_of_several_collections_and_an_opaque_background(
    app: TilegateApp,
) -> None:
    query = "collections=geo,osm&width=64&height=32&bgcolor=ff0000&bbox=-180,-80,180,80"
    status, headers, body = call(app, "/ogcapi/map.png", query)
    assert status == 200
    assert image(body).mode == "RGB"
    status, headers, body = call(
        app, "/ogcapi/collections/osm/map.jpg", "width=64&bbox=0,0,10,10"
    )
    assert (status, headers["Content-Type"]) == (200, "image/jpeg")


def test_attribution_is_drawn_into_maps(tmp_path: Path, map_server: MapServer) -> None:
    plain = ogcapi_app(tmp_path, map_server)
    signed = ogcapi_app(tmp_path, map_server, attribution={"text": "(c) Test"})
    query = "width=300&height=100&bbox=0,0,30,10"
    a, b = (
        np.asarray(
            image(call(app, "/ogcapi/collections/direct/map", query)[2]).convert("RGBA")
        )
        for app in (plain, signed)
    )
    differs = np.argwhere((a != b).any(axis=-1))
    assert differs.size > 0
    # In the bottom right corner only.
    assert differs[:, 0].min() > 50
    assert differs[:, 1].min() > 100


def test_the_dataset_map_and_tiles_draw_default_dataset_layers(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = ogcapi_app(tmp_path, map_server, default_dataset_layers=["geo", "osm"])
    landing = json.loads(call(app, "/ogcapi")[2])
    assert (
        "image/png",
        f"{BASE}/map.png",
    ) in hrefs(landing, "http://www.opengis.net/def/rel/ogc/1.0/map")
    assert hrefs(landing, "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map")[0] == (
        "application/json",
        f"{BASE}/map/tiles?f=json",
    )
    query = "bbox=-10,-10,10,10&width=50&height=50"
    dataset = call(app, "/ogcapi/map", query)
    assert dataset[0] == 200
    both = call(app, "/ogcapi/map", query + "&collections=geo,osm")
    assert np.array_equal(np.asarray(image(dataset[2])), np.asarray(image(both[2])))
    tilesets = json.loads(call(app, "/ogcapi/map/tiles")[2])
    quad = next(
        t
        for t in tilesets["tilesets"]
        if t["crs"].endswith("/3857") and "tileMatrixSetURI" in t
    )
    (template,) = [h for t, h in hrefs(quad, "item") if t == "image/png"]
    assert template == (
        f"{BASE}/map/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}.png"
    )
    status, headers, body = call(app, "/ogcapi/map/tiles/WebMercatorQuad/1/0/1.png")
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert image(body).size == (256, 256)
    # One cached collection asked for: its cached tile.
    one = call(app, "/ogcapi/map/tiles/WebMercatorQuad/1/0/1.png", "collections=osm")
    assert one[2] == call(app, "/wmts/osm/GLOBAL_WEBMERCATOR/01/1/0.png")[2]


def test_without_default_dataset_layers_the_dataset_needs_collections(
    app: TilegateApp,
) -> None:
    assert call(app, "/ogcapi/map/tiles")[0] == 404
    assert call(app, "/ogcapi/map")[0] == 400
    assert call(app, "/ogcapi/map", "collections=osm&width=10")[0] == 200


def test_a_map_of_several_collections_without_bbox_covers_all_their_extents(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = ogcapi_conf(map_server)
    for name, bbox in (("west", [0, 0, 10, 10]), ("east", [20, 5, 30, 15])):
        conf["sources"][name] = {
            **conf["sources"]["w"],
            "coverage": {"bbox": bbox, "srs": "EPSG:4326"},
        }
        conf["layers"].append({"name": name, "title": name, "sources": [name]})
    app = make_app(tmp_path, conf)
    query = f"collections=west,east&crs={EPSG}4326&width=30"
    status, headers, body = call(app, "/ogcapi/map", query)
    assert status == 200, body
    # lat/lon, as EPSG:4326 orders its axes
    values = [float(v) for v in headers["Content-Bbox"].split(",")]
    assert values == pytest.approx([0, 0, 15, 30])
    assert image(body).size == (30, 15)
