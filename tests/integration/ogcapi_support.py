"""A configuration for the OGC API tests: a cached Web Mercator layer, a cached geodetic one
and an uncached one, all from the real map server, with WMTS and WMS to compare against."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from entrypoints.app import TilegateApp
from tests.integration.test_app import make_app
from tests.mapserver import MapServer
from tests.wsgi_call import call

BASE = "http://localhost:80/ogcapi"


def ogcapi_conf(server: MapServer, **ogcapi: object) -> dict[str, Any]:
    upstream = {"type": "wms", "req": {"url": f"{server.url}/service", "layers": "x"}}
    cache = {"sources": ["w"], "meta_size": [1, 1], "meta_buffer": 0}
    return {
        "services": {
            "ogcapi": {
                "md": {
                    "identification": {
                        "title": "Tiles & maps",
                        "description": "A <b>test</b> service",
                        "terms_of_service": "free",
                        "keywords": ["tiles", "maps"],
                    },
                    "contact": {"name": "Jane", "email": "jane@example.org"},
                },
                **ogcapi,
            },
            "wmts": None,
            "wms": {"srs": ["EPSG:3857", "EPSG:4326"]},
        },
        "globals": {"image": {"paletted": False}},
        "layers": [
            {"name": "osm", "title": "OSM", "sources": ["merc"]},
            {"name": "geo", "title": "Geodetic", "sources": ["geodetic"]},
            {"name": "direct", "title": "Direct", "sources": ["w"]},
        ],
        "caches": {
            "merc": {"grids": ["GLOBAL_WEBMERCATOR"], **cache},
            "geodetic": {"grids": ["GLOBAL_GEODETIC"], **cache},
        },
        "sources": {"w": upstream},
    }


def ogcapi_app(tmp_path: Path, server: MapServer, **ogcapi: object) -> TilegateApp:
    return make_app(tmp_path, ogcapi_conf(server, **ogcapi))


def get_json(app: Any, path: str, query: str = "") -> dict[str, Any]:
    status, headers, body = call(app, path, query)
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/"), headers
    doc: dict[str, Any] = json.loads(body)
    return doc


def hrefs(doc: dict[str, Any], rel: str) -> list[tuple[str, str]]:
    """(type, href) of the document's links of relation `rel`."""
    return [(x["type"], x["href"]) for x in doc["links"] if x["rel"] == rel]
