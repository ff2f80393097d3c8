"""Tilegate's ogcapitiles and ogcapimaps sources reading Tilegate's own OGC API (services.ogcapi)
under gunicorn, which serves the map server's WMS through a cache."""

from __future__ import annotations

from pathlib import Path

from domain.grid import TileCoord
from tests.e2e.conftest import serving, upstream_wms
from tests.integration.ogcapi_source_support import conf, largest_difference
from tests.integration.test_app import get, make_app, same_pixels
from tests.integration.test_wms_service import getmap
from tests.mapserver import MapServer, render


def test_a_tilegate_reads_tiles_and_maps_of_another_tilegates_ogc_api(
    tmp_path: Path, upstream: MapServer
) -> None:
    served = {
        "services": {"ogcapi": None},
        "globals": {"image": {"paletted": False}},
        "layers": [{"name": "base", "title": "Base", "sources": ["c"]}],
        "caches": {"c": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["w"]}},
        "sources": {"w": upstream_wms(upstream)},
    }
    (tmp_path / "served").mkdir()
    with serving(tmp_path / "served", served) as server:
        config = conf(f"{server.url}/ogcapi")
        config["globals"]["http"]["client_timeout"] = 10
        app = make_app(tmp_path, config)
        status, _, data = get(app, "/tiles/t/EPSG3857/4/8/5.png", "origin=nw")
        assert status == 200, data
        assert same_pixels(data, TileCoord(8, 5, 4))
        bbox = (-1000000.0, -500000.0, 1000000.0, 500000.0)
        status, _, data = getmap(
            app, layers="m", bbox=",".join(map(str, bbox)), width=200, height=100
        )
        assert status == 200, data
        # The serving Tilegate draws the map from its cached tiles (resampled).
        assert largest_difference(data, render(bbox, (200, 100), "EPSG:3857")) <= 6
