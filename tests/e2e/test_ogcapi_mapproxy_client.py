"""MapProxy 7's own OGC API client sources (`ogcapitiles`, `ogcapimaps`) reading Tilegate's
`/ogcapi` under gunicorn: they find its links, tile sets and tile matrix sets, and their
tiles and maps have Tilegate's pixels."""

from __future__ import annotations

import io
from collections.abc import Iterator
from urllib.parse import urlencode

import numpy as np
import pytest
import yaml
from PIL import Image

from tests.e2e.conftest import (
    Server,
    fetch,
    free_port,
    serving,
    start_server,
    stop,
    upstream_wms,
)
from tests.mapproxy7 import MAPPROXY_PYTHON
from tests.mapserver import MapServer

# MapProxy's WSGI app on wsgiref, without a line per request (nobody reads the pipe).
SERVE = """
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server
from mapproxy.wsgiapp import make_wsgi_app
class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass
make_server("127.0.0.1", int(sys.argv[2]), make_wsgi_app(sys.argv[1]),
            handler_class=Quiet).serve_forever()
"""

pytestmark = pytest.mark.skipif(
    not MAPPROXY_PYTHON.exists(), reason="MapProxy 7 is not installed here"
)


@pytest.fixture(scope="module")
def tilegate(
    tmp_path_factory: pytest.TempPathFactory, upstream: MapServer
) -> Iterator[Server]:
    conf = {
        "services": {"ogcapi": None, "wms": None, "wmts": None},
        "globals": {"image": {"paletted": False}},
        "layers": [
            {"name": "cached", "title": "Cached", "sources": ["c"]},
            {"name": "direct", "title": "Direct", "sources": ["w"]},
        ],
        "caches": {"c": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["w"]}},
        "sources": {"w": upstream_wms(upstream)},
    }
    with serving(tmp_path_factory.mktemp("tilegate"), conf) as server:
        yield server


@pytest.fixture(scope="module")
def mapproxy(
    tmp_path_factory: pytest.TempPathFactory, tilegate: Server
) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("mapproxy")
    landing = f"{tilegate.url}/ogcapi"
    conf = {
        "services": {"wms": None, "wmts": None},
        "globals": {"image": {"paletted": False}},
        "layers": [
            {"name": "tiles", "title": "Tiles", "sources": ["tc"]},
            {"name": "maps", "title": "Maps", "sources": ["ms"]},
        ],
        "caches": {
            "tc": {
                "grids": ["GLOBAL_WEBMERCATOR"],
                "sources": ["ts"],
                "disable_storage": True,
            }
        },
        "sources": {
            "ts": {
                "type": "ogcapitiles",
                "landingpage_url": landing,
                "collection": "cached",
                "tile_matrix_set_id": "WebMercatorQuad",
            },
            "ms": {
                "type": "ogcapimaps",
                "landingpage_url": landing,
                "collection": "direct",
            },
        },
    }
    config = directory / "mapproxy.yaml"
    config.write_text(yaml.safe_dump(conf))
    port = free_port()
    cmd = [str(MAPPROXY_PYTHON), "-c", SERVE, str(config), str(port)]
    proc, url = start_server(cmd, directory, port)
    try:
        yield url
    finally:
        stop(proc)


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def test_mapproxys_ogcapitiles_source_gets_tilegates_tiles(
    tilegate: Server, mapproxy: str
) -> None:
    theirs = fetch(f"{mapproxy}/wmts/tiles/GLOBAL_WEBMERCATOR/03/5/2.png")
    assert theirs[0] == 200, theirs[2][:300]
    ours = fetch(f"{tilegate.url}/wmts/cached/GLOBAL_WEBMERCATOR/03/5/2.png")
    assert np.array_equal(pixels(theirs[2]), pixels(ours[2]))


def test_mapproxys_ogcapimaps_source_gets_tilegates_maps(
    tilegate: Server, mapproxy: str
) -> None:
    params = {
        "SERVICE": "WMS",
        "REQUEST": "GetMap",
        "VERSION": "1.1.1",
        "STYLES": "",
        "SRS": "EPSG:3857",
        "BBOX": "-2000000,-1000000,2000000,1000000",
        "WIDTH": "200",
        "HEIGHT": "100",
        "FORMAT": "image/png",
    }
    theirs = fetch(f"{mapproxy}/service?{urlencode({**params, 'LAYERS': 'maps'})}")
    assert theirs[0] == 200, theirs[2][:300]
    ours = fetch(f"{tilegate.url}/service?{urlencode({**params, 'LAYERS': 'direct'})}")
    assert np.array_equal(pixels(theirs[2]), pixels(ours[2]))
