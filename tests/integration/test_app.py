"""The WSGI app in-process against the real map server: options that need no gunicorn."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops

from adapters.config import parse_config
from domain.grid import TileCoord
from domain.grids import resolve_grids
from entrypoints.app import TilegateApp
from entrypoints.bootstrap import bootstrap
from tests.mapserver import MapServer, render
from tests.wsgi_call import call

WEBMERCATOR = resolve_grids({})["GLOBAL_WEBMERCATOR"]


def make_app(tmp_path: Path, conf: dict[str, Any]) -> TilegateApp:
    config = tmp_path / "mapproxy.yaml"
    return TilegateApp.from_state(bootstrap(parse_config(conf, str(config)), config))


def get(
    app: TilegateApp, path: str, query: str = ""
) -> tuple[int, dict[str, str], bytes]:
    return call(app, path, query)


def tile_source_conf(server: MapServer, **source: object) -> dict[str, Any]:
    return {
        "services": {
            "tms": None,
            "wmts": {
                "restful_template": "/{TileMatrixSet}/{Layer}/{TileMatrix}/{TileRow}/{TileCol}.{Format}"
            },
        },
        "globals": {"image": {"paletted": False}},
        "layers": [{"name": "xyz", "title": "XYZ", "sources": ["xyz_cache"]}],
        "caches": {"xyz_cache": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["xyz"]}},
        "sources": {
            "xyz": {
                "type": "tile",
                "url": f"{server.url}/tiles/%(z)s/%(x)s/%(y)s.png",
                "grid": "GLOBAL_WEBMERCATOR",
                **source,
            }
        },
    }


def same_pixels(data: bytes, coord: TileCoord) -> bool:
    got = Image.open(io.BytesIO(data)).convert("RGBA")
    expected = render(
        WEBMERCATOR.tile_bbox(coord).as_tuple(), (256, 256), "EPSG:3857", False
    ).convert("RGBA")
    return ImageChops.difference(got, expected).getbbox() is None


def test_tile_source_cache_fetches_each_tile_once_without_meta_tiles(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, tile_source_conf(map_server))
    status, _, data = get(app, "/tms/1.0.0/xyz/EPSG3857/2/1/1.png")
    assert status == 200
    # TMS level 2 is the grid's level 3; TMS rows count from the south, the grid's from the north.
    assert same_pixels(data, TileCoord(1, 6, 3))
    assert get(app, "/tms/1.0.0/xyz/EPSG3857/2/1/1.png")[2] == data
    assert [r.path for r in map_server.requests] == ["/tiles/3/1/6.png"]


def test_restful_template_orders_the_url_as_configured(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, tile_source_conf(map_server))
    status, _, data = get(app, "/wmts/GLOBAL_WEBMERCATOR/xyz/03/6/1.png")
    assert status == 200
    assert same_pixels(data, TileCoord(1, 6, 3))
    _, _, capabilities = get(app, "/wmts/1.0.0/WMTSCapabilities.xml")
    assert (
        b'template="http://localhost:80/wmts/{TileMatrixSet}/xyz/{TileMatrix}/{TileRow}/{TileCol}.png"'
        in capabilities
    )


def test_tile_source_coverage_blanks_tiles_outside_without_a_request(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = tile_source_conf(
        map_server, coverage={"bbox": [5, 45, 15, 55], "srs": "EPSG:4326"}
    )
    app = make_app(tmp_path, conf)
    status, _, data = get(
        app, "/tiles/xyz/EPSG3857/4/1/1.png", "origin=nw"
    )  # over the Pacific
    assert status == 200
    assert Image.open(io.BytesIO(data)).convert("RGBA").getchannel(
        "A"
    ).getextrema() == (0, 0)
    assert map_server.requests == []
    get(app, "/tiles/xyz/EPSG3857/4/8/5.png", "origin=nw")  # central Europe
    assert [r.path for r in map_server.requests] == ["/tiles/4/8/5.png"]
