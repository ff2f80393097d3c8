"""What the tests of the `ogcapitiles` and `ogcapimaps` sources share: a configuration of both
against an OGC API landing page, and how their answers are compared."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageChops

from entrypoints.app import TilegateApp
from tests.integration.test_app import make_app
from tests.mapserver import MapServer

WEB_MERCATOR_QUAD = [
    "/ogcapi/collections/base",
    "/ogcapi/collections/base/tiles",
    "/ogcapi/collections/base/tiles/WebMercatorQuad",
    "/ogcapi/tileMatrixSets/WebMercatorQuad",
]


def conf(landing: str, **sources: dict[str, Any]) -> dict[str, Any]:
    """Layer `t` (cache `tc` of source `ot`, tiles of collection base), layer `m` (source
    `om` directly, maps of collection base) and layer `mc` (cache `mc` of `om`)."""
    own = {
        "ot": {
            "type": "ogcapitiles",
            "landingpage_url": landing,
            "collection": "base",
            "tile_matrix_set_id": "WebMercatorQuad",
        },
        "om": {"type": "ogcapimaps", "landingpage_url": landing, "collection": "base"},
    }
    return {
        "services": {
            "tms": None,
            "wms": {"srs": ["EPSG:3857", "EPSG:4326", "EPSG:25832"]},
        },
        "globals": {
            "image": {"paletted": False},
            "http": {"client_timeout": 0.5},
        },
        "layers": [
            {"name": "t", "title": "Tiles", "sources": ["tc"]},
            {"name": "m", "title": "Maps", "sources": ["om"]},
            {"name": "mc", "title": "Cached maps", "sources": ["mc"]},
        ],
        "caches": {
            "tc": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["ot"]},
            "mc": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["om"]},
        },
        "sources": {
            name: own.get(name, {}) | sources.get(name, {})
            for name in own.keys() | sources.keys()
        },
    }


def app_for(
    tmp_path: Path, server: MapServer, **sources: dict[str, Any]
) -> TilegateApp:
    return make_app(tmp_path, conf(f"{server.url}/ogcapi", **sources))


def asked(server: MapServer) -> list[str]:
    return [r.path for r in server.requests]


def pixels(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGBA")


def largest_difference(data: bytes, expected: Image.Image) -> int:
    """The largest difference of a colour channel between data's pixels and expected's."""
    got = np.asarray(pixels(data).convert("RGB"), dtype=np.int16)
    return int(np.abs(got - np.asarray(expected.convert("RGB"), dtype=np.int16)).max())


def same_image(data: bytes, expected: Image.Image) -> bool:
    return (
        ImageChops.difference(pixels(data), expected.convert("RGBA")).getbbox() is None
    )
