"""OGC API end to end: OWSLib's OGC API client (owslib.ogcapi) against Tilegate under gunicorn."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from owslib.ogcapi.maps import Maps
from PIL import Image

from tests.e2e.conftest import Server, fetch, serving, upstream_wms
from tests.integration.ogcapi_support import hrefs
from tests.mapserver import MapServer


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, upstream: MapServer
) -> Iterator[Server]:
    conf = {
        "services": {
            "ogcapi": {"md": {"identification": {"title": "Tilegate OGC API"}}},
            "wmts": None,
        },
        "globals": {"image": {"paletted": False}},
        "layers": [
            {"name": "cached", "title": "Cached", "sources": ["c"]},
            {"name": "direct", "title": "Direct", "sources": ["w"]},
        ],
        "caches": {"c": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["w"]}},
        "sources": {"w": upstream_wms(upstream)},
    }
    with serving(tmp_path_factory.mktemp("ogcapi"), conf) as server:
        yield server


def test_owslib_reads_the_api_conformance_and_collections(served: Server) -> None:
    api = Maps(f"{served.url}/ogcapi")
    assert api.response["title"] == "Tilegate OGC API"
    openapi = api.api()
    assert "/collections/{collectionId}/map" in openapi["paths"]
    classes = api.conformance()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/core" in classes
    assert api.maps() == ["cached", "direct"]
    cached = api.collection("cached")
    assert cached["title"] == "Cached"
    assert cached["extent"]["spatial"]["bbox"][0] == pytest.approx(
        [-180, -85.0511287798, 180, 85.0511287798]
    )


def test_owslib_gets_a_map(served: Server) -> None:
    api = Maps(f"{served.url}/ogcapi")
    data = api.map(
        "direct",
        bbox=[-60, -40, 60, 40],
        bbox_crs="http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        width=300,
        height=200,
    )
    image = Image.open(data)
    assert image.format == "PNG"
    assert image.size == (300, 200)
    assert "Content-Crs" in (api.response_headers or {})


def test_a_tile_through_the_advertised_template_is_the_wmts_tile(
    served: Server,
) -> None:
    status, _, body = fetch(
        f"{served.url}/ogcapi/collections/cached/map/tiles/WebMercatorQuad?f=json"
    )
    assert status == 200
    (template,) = [h for t, h in hrefs(json.loads(body), "item") if t == "image/png"]
    url = template.format(tileMatrix=3, tileRow=2, tileCol=5)
    status, headers, tile = fetch(url)
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert Image.open(io.BytesIO(tile)).size == (256, 256)
    wmts = fetch(f"{served.url}/wmts/cached/GLOBAL_WEBMERCATOR/03/5/2.png")
    assert wmts[2] == tile


def test_a_bad_request_under_gunicorn_is_a_json_400(served: Server) -> None:
    status, headers, body = fetch(
        f"{served.url}/ogcapi/collections/cached/map?width=999999&height=999999"
    )
    assert (status, headers["Content-Type"]) == (400, "application/json")
    assert json.loads(body)["code"] == "InvalidParameterValue"
