"""The tile path end to end: a real map server, Tilegate under gunicorn (2 workers), real clients."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from owslib.wmts import WebMapTileService
from PIL import Image, ImageChops

from domain.grid import TileCoord
from domain.grids import resolve_grids
from tests.e2e.conftest import Server, fetch, start_gunicorn, stop
from tests.mapserver import MapServer

WEBMERCATOR = resolve_grids({})["GLOBAL_WEBMERCATOR"]


def write_config(directory: Path, upstream: MapServer, **cache_options: object) -> Path:
    conf = {
        "services": {"tms": None, "wmts": None, "demo": None},
        "globals": {"image": {"paletted": False}},
        "layers": [{"name": "osm", "title": "OSM via WMS", "sources": ["osm_cache"]}],
        "caches": {
            "osm_cache": {
                "grids": ["GLOBAL_WEBMERCATOR", "GLOBAL_MERCATOR"],
                "sources": ["osm_wms"],
                **cache_options,
            }
        },
        "sources": {
            "osm_wms": {
                "type": "wms",
                "req": {"url": f"{upstream.url}/service", "layers": "base"},
            }
        },
    }
    path = directory / "mapproxy.yaml"
    path.write_text(yaml.safe_dump(conf))
    return path


@pytest.fixture(scope="module")
def served_app(
    tmp_path_factory: pytest.TempPathFactory, upstream: MapServer
) -> Iterator[Server]:
    """One gunicorn for the module: every test asks for tiles no other test touches."""
    server = start_gunicorn(write_config(tmp_path_factory.mktemp("served"), upstream))
    yield server
    stop(server.proc)


@pytest.fixture
def served(served_app: Server, upstream: MapServer) -> Server:
    upstream.reset()
    return served_app


@pytest.fixture
def cache_dir(served_app: Server) -> Path:
    return Path(served_app.config).parent / "cache_data"


def upstream_getmaps(upstream: MapServer) -> list[dict[str, str]]:
    return [
        r["params"]
        for r in upstream.stats()["requests"]
        if r["params"].get("REQUEST", "").lower() == "getmap"
    ]


def direct_render(upstream: MapServer, coord: TileCoord) -> Image.Image:
    """What the source draws for exactly this tile's bbox: the ground truth for the cached tile."""
    bbox = ",".join(repr(v) for v in WEBMERCATOR.tile_bbox(coord).as_tuple())
    url = f"{upstream.url}/service?SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&LAYERS=base&STYLES=&SRS=EPSG:3857&BBOX={bbox}&WIDTH=256&HEIGHT=256&FORMAT=image/png"
    return Image.open(io.BytesIO(fetch(url)[2])).convert("RGBA")


def assert_same_pixels(data: bytes, expected: Image.Image) -> None:
    got = Image.open(io.BytesIO(data)).convert("RGBA")
    assert got.size == expected.size
    assert ImageChops.difference(got, expected).getbbox() is None


def test_tms_tile_equals_what_the_source_draws_for_its_bbox(
    served: Server, upstream: MapServer
) -> None:
    # TMS level 2 of the web mercator world profile is the grid's level 3; TMS rows count from the south.
    status, headers, data = fetch(f"{served.url}/tms/1.0.0/osm/EPSG3857/2/1/1.png")
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    coord = TileCoord(1, 2**3 - 1 - 1, 3)
    assert_same_pixels(data, direct_render(upstream, coord))


def test_wmts_rest_and_tiles_alias_serve_the_same_tile(
    served: Server, upstream: MapServer
) -> None:
    _, _, wmts = fetch(f"{served.url}/wmts/osm/GLOBAL_WEBMERCATOR/04/5/6.png")
    _, _, tiles = fetch(f"{served.url}/tiles/osm/EPSG3857/4/5/6.png?origin=nw")
    assert_same_pixels(wmts, direct_render(upstream, TileCoord(5, 6, 4)))
    assert wmts == tiles


def test_owslib_reads_capabilities_and_fetches_tiles(
    served: Server, upstream: MapServer
) -> None:
    wmts = WebMapTileService(f"{served.url}/wmts/1.0.0/WMTSCapabilities.xml")
    assert "osm" in wmts.contents
    assert set(wmts.contents["osm"].tilematrixsetlinks) == {
        "GLOBAL_WEBMERCATOR",
        "GLOBAL_MERCATOR",
    }
    matrix = wmts.tilematrixsets["GLOBAL_WEBMERCATOR"].tilematrix["03"]
    assert (matrix.matrixwidth, matrix.matrixheight) == (8, 8)
    tile = wmts.gettile(
        layer="osm",
        tilematrixset="GLOBAL_WEBMERCATOR",
        tilematrix="03",
        row=2,
        column=5,
        format="image/png",
    )
    assert_same_pixels(tile.read(), direct_render(upstream, TileCoord(5, 2, 3)))


def test_twenty_clients_on_one_uncached_meta_tile_make_one_upstream_request(
    served: Server, upstream: MapServer
) -> None:
    # The 16 tiles of one 4x4 meta-tile at level 5, each asked for by more than one client.
    urls = [
        f"{served.url}/wmts/osm/GLOBAL_WEBMERCATOR/05/{8 + i % 4}/{12 + i // 4 % 4}.png"
        for i in range(20)
    ]
    barrier = threading.Barrier(len(urls))
    statuses: list[int] = []

    def client(url: str) -> None:
        barrier.wait()
        statuses.append(fetch(url)[0])

    threads = [threading.Thread(target=client, args=(url,)) for url in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 20
    getmaps = upstream_getmaps(upstream)
    assert len(getmaps) == 1
    # 4x4 tiles of 256 pixels plus the 80 pixel meta buffer on each side.
    assert (getmaps[0]["WIDTH"], getmaps[0]["HEIGHT"]) == ("1184", "1184")


def test_cached_tile_answers_304_to_both_validators(served: Server) -> None:
    url = f"{served.url}/tms/1.0.0/osm/EPSG3857/1/0/0.png"
    fetch(url)
    status, headers, _ = fetch(url)
    assert status == 200
    assert headers["Cache-Control"] == "public, max-age=259200, s-maxage=259200"
    assert fetch(url, {"If-None-Match": headers["ETag"]})[0] == 304
    assert fetch(url, {"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    assert fetch(url, {"If-None-Match": '"other"'})[0] == 200


def test_upstream_failure_is_a_502_and_nothing_is_cached(
    served: Server, upstream: MapServer, cache_dir: Path
) -> None:
    upstream.add_fault("garbage")
    status, _, body = fetch(f"{served.url}/wmts/osm/GLOBAL_WEBMERCATOR/06/1/1.png")
    assert status == 502
    assert b"NoApplicableCode" in body
    assert not list(cache_dir.glob("osm_cache_EPSG3857/06/**/*.png"))
    upstream.reset()
    status, _, data = fetch(f"{served.url}/wmts/osm/GLOBAL_WEBMERCATOR/06/1/1.png")
    assert status == 200
    assert_same_pixels(data, direct_render(upstream, TileCoord(1, 1, 6)))


@pytest.mark.parametrize(
    ("path", "status", "needle"),
    [
        ("/tms/1.0.0/nope/EPSG3857/0/0/0.png", 404, b"unknown layer"),
        ("/tms/1.0.0/osm/EPSG3857/1/9/0.png", 404, b"outside"),
        ("/tms/1.0.0/osm/EPSG3857/99/0/0.png", 404, b"outside"),
        ("/tms/1.0.0/osm/EPSG3857/1/0/0.jpeg", 404, b"invalid format"),
        ("/tms/1.0.0/osm/EPSG3857/1/x/0.png", 400, b"invalid tile coordinates"),
        ("/tms/1.0.0/osm/EPSG3857/1/-1/0.png", 404, b"outside"),
        ("/tms/1.0.0/../../../etc/passwd", 404, b""),
        ("/tms/1.0.0/osm/EPSG3857/%2e%2e/%2e%2e/0.png", 400, b""),
        (
            "/wmts/osm/GLOBAL_WEBMERCATOR/01/5/0.png",
            400,
            b'exceptionCode="TileOutOfRange"',
        ),
        ("/wmts/osm/NOPE/01/0/0.png", 400, b'locator="tilematrixset"'),
        ("/wmts/<script>/GLOBAL_WEBMERCATOR/01/0/0.png", 400, b"&lt;script&gt;"),
        (
            "/service?SERVICE=WMTS&REQUEST=GetTile&LAYER=osm",
            400,
            b'exceptionCode="MissingParameterValue"',
        ),
        (
            "/service?SERVICE=WMTS&REQUEST=Frobnicate",
            400,
            b'exceptionCode="OperationNotSupported"',
        ),
        (
            "/service?SERVICE=WMTS&REQUEST=GetTile&LAYER=osm&TILEMATRIXSET=GLOBAL_WEBMERCATOR&TILEMATRIX=x&TILEROW=0&TILECOL=0&FORMAT=image/png",
            400,
            b'locator="tilematrix"',
        ),
    ],
)
def test_bad_requests_get_client_errors(
    served: Server, path: str, status: int, needle: bytes
) -> None:
    got_status, headers, body = fetch(served.url + path)
    assert got_status == status
    assert needle in body
    assert b"<script>" not in body
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_wmts_kvp_get_tile(served: Server, upstream: MapServer) -> None:
    status, _, data = fetch(
        f"{served.url}/service?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=osm&STYLE=default"
        "&TILEMATRIXSET=GLOBAL_WEBMERCATOR&TILEMATRIX=02&TILEROW=1&TILECOL=2&FORMAT=image/png"
    )
    assert status == 200
    assert_same_pixels(data, direct_render(upstream, TileCoord(2, 1, 2)))


def test_tiles_land_where_mapproxy_puts_them(served: Server, cache_dir: Path) -> None:
    fetch(f"{served.url}/tms/1.0.0/osm/EPSG900913/0/1/1.png")
    # GLOBAL_MERCATOR counts rows from the south; the tc layout under <cache>_<EPSG code>.
    assert (cache_dir / "osm_cache_EPSG900913/01/000/000/001/000/000/001.png").is_file()
