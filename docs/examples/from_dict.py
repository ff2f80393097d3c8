"""Tilegate from a configuration built in Python: no mapproxy.yaml on disk."""

from __future__ import annotations

from typing import Any

from entrypoints.app import TilegateApp
from entrypoints.wsgiapp import make_wsgi_app_from_dict


def make_app(wms_url: str, cache_dir: str) -> TilegateApp:
    """One WMS layer, cached in web mercator tiles under cache_dir, served as WMS, TMS and WMTS."""
    conf: dict[str, Any] = {
        "services": {"wms": {"srs": ["EPSG:3857", "EPSG:4326"]}, "tms": {}, "wmts": {}},
        "layers": [{"name": "osm", "title": "OpenStreetMap", "sources": ["osm_cache"]}],
        "caches": {
            "osm_cache": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["osm_wms"]}
        },
        "sources": {
            "osm_wms": {"type": "wms", "req": {"url": wms_url, "layers": "osm"}},
        },
        # Relative paths, as in a mapproxy.yaml, are taken from base_dir.
        "globals": {"cache": {"base_dir": "tiles"}},
    }
    return make_wsgi_app_from_dict(conf, base_dir=cache_dir)
