"""The OGC API documents: landing page, conformance, API, collections and tile matrix sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain.grids import BUILTIN_GRIDS, build_grid
from domain.scales import scale_denominator
from entrypoints.app import TilegateApp
from tests.integration.ogcapi_support import BASE, get_json, hrefs, ogcapi_app
from tests.mapserver import WEBMERCATOR_EXTENT, MapServer
from tests.wsgi_call import call

OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0/"
SPEC = "http://www.opengis.net/spec/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


@pytest.fixture
def app(tmp_path: Path, map_server: MapServer) -> TilegateApp:
    return ogcapi_app(tmp_path, map_server)


def test_the_landing_page_links_every_part_of_the_api(app: TilegateApp) -> None:
    doc = get_json(app, "/ogcapi")
    assert doc["title"] == "Tiles & maps"
    assert doc["description"] == "A <b>test</b> service"
    assert hrefs(doc, "self") == [("application/json", f"{BASE}?f=json")]
    assert hrefs(doc, "conformance")[0] == (
        "application/json",
        f"{BASE}/conformance?f=json",
    )
    assert hrefs(doc, "service-desc") == [(OPENAPI, f"{BASE}/api?f=json")]
    assert hrefs(doc, "service-doc") == [("text/html", f"{BASE}/api?f=html")]
    assert ("application/json", f"{BASE}/collections?f=json") in hrefs(doc, "data")
    assert hrefs(doc, OGC_REL + "tiling-schemes")[0] == (
        "application/json",
        f"{BASE}/tileMatrixSets?f=json",
    )
    # A trailing slash is the same resource; proxy headers make the links.
    assert get_json(app, "/ogcapi/") == doc
    _status, _, body = call(
        app, "/ogcapi", X_FORWARDED_HOST="maps.example.org", X_FORWARDED_PROTO="https"
    )
    assert hrefs(json.loads(body), "self")[0][1] == (
        "https://maps.example.org/ogcapi?f=json"
    )


def test_conformance_declares_maps_and_tiles(app: TilegateApp) -> None:
    classes = get_json(app, "/ogcapi/conformance")["conformsTo"]
    for part in (
        "ogcapi-common-1/1.0/conf/core",
        "ogcapi-maps-1/1.0/conf/core",
        "ogcapi-maps-1/1.0/conf/png",
        "ogcapi-tiles-1/1.0/conf/core",
        "ogcapi-tiles-1/1.0/conf/tileset",
    ):
        assert SPEC + part in classes


def test_the_openapi_document_describes_the_paths(app: TilegateApp) -> None:
    status, headers, body = call(app, "/ogcapi/api")
    assert (status, headers["Content-Type"]) == (200, OPENAPI)
    doc = json.loads(body)
    assert doc["openapi"].startswith("3.0")
    assert doc["info"]["title"] == "Tiles & maps"
    assert doc["info"]["termsOfService"] == "free"
    assert doc["info"]["contact"] == {"name": "Jane", "email": "jane@example.org"}
    assert doc["servers"] == [{"url": BASE}]
    tile = "/collections/{collectionId}/map/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}"
    assert {"/collections/{collectionId}/map", tile, "/tileMatrixSets"} <= set(
        doc["paths"]
    )


def test_collections_are_the_layers_with_their_extents(app: TilegateApp) -> None:
    doc = get_json(app, "/ogcapi/collections")
    by_id = {c["id"]: c for c in doc["collections"]}
    assert list(by_id) == ["osm", "geo", "direct"]
    osm = by_id["osm"]
    assert osm["title"] == "OSM"
    assert osm["storageCrs"] == "http://www.opengis.net/def/crs/EPSG/0/3857"
    spatial = osm["extent"]["spatial"]
    assert spatial["bbox"][0] == pytest.approx(
        [-180, -85.0511287798, 180, 85.0511287798]
    )
    world = [-WEBMERCATOR_EXTENT, -WEBMERCATOR_EXTENT]
    assert spatial["storageCrsBbox"] == [world + [-v for v in world]]
    geo = by_id["geo"]
    assert geo["storageCrs"] == CRS84
    assert geo["extent"]["spatial"]["bbox"] == [[-180, -90, 180, 90]]
    assert "storageCrsBbox" not in geo["extent"]["spatial"]
    assert CRS84 in osm["crs"]
    assert "http://www.opengis.net/def/crs/EPSG/0/4326" in osm["crs"]
    assert hrefs(osm, OGC_REL + "map")[0] == (
        "image/png",
        f"{BASE}/collections/osm/map.png",
    )
    assert hrefs(osm, OGC_REL + "tilesets-map")[0] == (
        "application/json",
        f"{BASE}/collections/osm/map/tiles?f=json",
    )
    assert get_json(app, "/ogcapi/collections/geo") == geo


def test_every_grid_is_a_tile_matrix_set_web_mercator_by_its_well_known_name(
    app: TilegateApp,
) -> None:
    doc = get_json(app, "/ogcapi/tileMatrixSets")
    ids = [t["id"] for t in doc["tileMatrixSets"]]
    assert ids == ["GLOBAL_GEODETIC", "GLOBAL_MERCATOR", "WebMercatorQuad"]
    quad = get_json(app, "/ogcapi/tileMatrixSets/WebMercatorQuad")
    assert (
        quad["uri"]
        == "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    )
    assert quad["crs"] == "http://www.opengis.net/def/crs/EPSG/0/3857"
    grid = build_grid("GLOBAL_WEBMERCATOR", BUILTIN_GRIDS)
    assert len(quad["tileMatrices"]) == grid.num_levels
    for z, matrix in enumerate(quad["tileMatrices"]):
        assert matrix["id"] == str(z)
        assert matrix["cellSize"] == grid.res[z]
        assert matrix["scaleDenominator"] == pytest.approx(
            scale_denominator(grid, grid.res[z])
        )
        assert (matrix["matrixWidth"], matrix["matrixHeight"]) == (2**z, 2**z)
        assert matrix["cornerOfOrigin"] == "topLeft"
        assert matrix["pointOfOrigin"] == [-WEBMERCATOR_EXTENT, WEBMERCATOR_EXTENT]
        assert (matrix["tileWidth"], matrix["tileHeight"]) == (256, 256)


def test_a_south_west_grid_counts_rows_from_the_bottom(app: TilegateApp) -> None:
    geodetic = get_json(app, "/ogcapi/tileMatrixSets/GLOBAL_GEODETIC")
    assert geodetic["crs"] == CRS84
    matrices = geodetic["tileMatrices"]
    assert matrices[2]["cornerOfOrigin"] == "bottomLeft"
    assert matrices[2]["pointOfOrigin"] == [-180, -90]
    assert (matrices[2]["matrixWidth"], matrices[2]["matrixHeight"]) == (4, 2)
    # The degrees of a cell are metres for the scale: 1.40625° at 0.28 mm pixels.
    assert matrices[0]["scaleDenominator"] == pytest.approx(559082264.03, rel=1e-6)


def test_a_collection_has_a_map_tile_set_per_tile_matrix_set(app: TilegateApp) -> None:
    doc = get_json(app, "/ogcapi/collections/osm/map/tiles")
    titles = [t["title"] for t in doc["tilesets"]]
    assert len(titles) == 3
    quad = get_json(app, "/ogcapi/collections/osm/map/tiles/WebMercatorQuad")
    assert quad["crs"] == "http://www.opengis.net/def/crs/EPSG/0/3857"
    assert quad["tileMatrixSetURI"].endswith("/WebMercatorQuad")
    assert (
        "image/png",
        f"{BASE}/collections/osm/map/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}.png",
    ) in hrefs(quad, "item")
    assert hrefs(quad, OGC_REL + "tiling-scheme")[0][1] == (
        f"{BASE}/tileMatrixSets/WebMercatorQuad?f=json"
    )


@pytest.mark.parametrize(
    ("query", "accept"),
    [("f=html", ""), ("", "text/html,application/xhtml+xml,*/*;q=0.8")],
)
def test_html_by_f_or_accept_with_every_value_escaped(
    app: TilegateApp, query: str, accept: str
) -> None:
    headers = {"ACCEPT": accept} if accept else {}
    status, response_headers, body = call(app, "/ogcapi", query, **headers)
    assert status == 200
    assert response_headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Accept" in response_headers["Vary"]
    page = body.decode()
    assert "<title>Tiles &amp; maps</title>" in page
    assert "A &lt;b&gt;test&lt;/b&gt; service" in page
    assert "<b>" not in page
    assert f'href="{BASE}/collections?f=json"' in page


def test_json_is_the_default_and_what_json_clients_ask_for(app: TilegateApp) -> None:
    for accept in ("", "*/*", "application/json", "text/html;q=0.5,application/json"):
        headers = {"ACCEPT": accept} if accept else {}
        _status, response_headers, _ = call(app, "/ogcapi/collections", **headers)
        assert response_headers["Content-Type"] == "application/json", accept


@pytest.mark.parametrize("off", ["enable_tiles", "enable_maps"])
def test_a_disabled_part_is_not_served_nor_linked(
    tmp_path: Path, map_server: MapServer, off: str
) -> None:
    app = ogcapi_app(tmp_path, map_server, **{off: False})
    tiles = [
        "/ogcapi/tileMatrixSets",
        "/ogcapi/collections/osm/map/tiles",
        "/ogcapi/collections/osm/map/tiles/WebMercatorQuad/0/0/0.png",
    ]
    maps = ["/ogcapi/collections/osm/map", "/ogcapi/map"]
    gone, kept = (tiles, maps) if off == "enable_tiles" else (maps, tiles)
    for path in gone:
        status, _headers, body = call(app, path, "collections=osm")
        assert status == 404, path
        assert json.loads(body)["code"] == "NotFound"
    for path in kept:
        assert call(app, path, "collections=osm")[0] == 200, path
    collection = get_json(app, "/ogcapi/collections/osm")
    rel = OGC_REL + ("tilesets-map" if off == "enable_tiles" else "map")
    assert hrefs(collection, rel) == []
    classes = " ".join(get_json(app, "/ogcapi/conformance")["conformsTo"])
    assert ("ogcapi-tiles-1" in classes) == (off != "enable_tiles")
    assert ("ogcapi-maps-1" in classes) == (off != "enable_maps")
