"""The smallest configuration over one cache: a TMS layer `osm` of cache `osm_cache`, which
stores the map server's WMS one tile per request in the backend given."""

from __future__ import annotations

from typing import Any

from tests.mapserver import MapServer


def one_cache_conf(server: MapServer, cache: dict[str, Any]) -> dict[str, Any]:
    """`cache` is the cache's `cache:` section (its `type` and options)."""
    return {
        "services": {"tms": None},
        "globals": {"image": {"paletted": False}},
        "layers": [{"name": "osm", "title": "OSM", "sources": ["osm_cache"]}],
        "caches": {
            "osm_cache": {
                "sources": ["wms"],
                "meta_size": [1, 1],
                "meta_buffer": 0,
                "cache": cache,
            }
        },
        "sources": {
            "wms": {
                "type": "wms",
                "req": {"url": f"{server.url}/service", "layers": "x"},
            }
        },
    }
