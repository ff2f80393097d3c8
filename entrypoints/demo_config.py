"""The built-in demo configuration: works offline, from data shipped in the package."""

from __future__ import annotations

from pathlib import Path

DEMO_DATA = Path(__file__).parent / "demo_data"


def demo_config() -> dict[str, object]:
    """A mapproxy.yaml as a dict: Natural Earth countries and a debug layer, served by every
    service (TMS, WMTS, WMS, KML, OGC API and the demo page)."""
    return {
        "services": {
            "demo": None,
            "tms": None,
            "wmts": None,
            "wms": None,
            "kml": None,
            "ogcapi": None,
        },
        "layers": [
            {
                "name": "countries",
                "title": "Countries (Natural Earth, offline)",
                "sources": ["countries_cache"],
            },
            {"name": "debug", "title": "Debug grid", "sources": ["debug_cache"]},
        ],
        "caches": {
            "countries_cache": {
                "grids": ["GLOBAL_WEBMERCATOR", "GLOBAL_GEODETIC"],
                "sources": ["countries"],
            },
            "debug_cache": {
                "grids": ["GLOBAL_WEBMERCATOR"],
                "sources": ["debug"],
                "disable_storage": True,
            },
        },
        "sources": {
            "countries": {
                "type": "geojson",
                "file": str(DEMO_DATA / "countries.geojson"),
            },
            "debug": {"type": "debug"},
        },
    }
