"""Which way tile rows count, per URL, as MapProxy 7 answers (measured against it with this
configuration and the same map server): TMS always from the south; `/tiles` by its `origin`
parameter, else `services.tms.origin`, else the grid's own origin (GLOBAL_WEBMERCATOR: from
the top, as slippy maps count)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.integration.test_app import get, make_app
from tests.mapserver import MapServer

# Row 0 of level 2 is the northernmost or the southernmost quarter of the world; the map
# server's green grows northwards (about 224 and 32 at those rows' centres).
NORTH, SOUTH = "north", "south"
TMS_SOUTH_WEST = "16,15"  # TMS level 2 is grid level 3: row 0 is the south-west eighth


def conf(server: MapServer, tms: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "services": {"tms": tms},
        "layers": [
            {"name": "nw", "title": "NW", "sources": ["nw_cache"]},
            {"name": "sw", "title": "SW", "sources": ["sw_cache"]},
        ],
        "caches": {
            "nw_cache": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["w"]},
            "sw_cache": {"grids": ["south_up"], "sources": ["w"]},
        },
        "sources": {
            "w": {"type": "wms", "req": {"url": f"{server.url}/service", "layers": "x"}}
        },
        "grids": {"south_up": {"base": "GLOBAL_WEBMERCATOR", "origin": "sw"}},
        "globals": {"image": {"paletted": False}},
    }


def where(app: Any, path: str, query: str = "") -> str:
    """The tile's place: north/south for a level-2 tile, its centre's colour for TMS."""
    status, _, body = get(app, path, query)
    assert status == 200, body
    red, green, _ = Image.open(io.BytesIO(body)).convert("RGB").getpixel((128, 128))  # type: ignore[misc]
    if path.startswith("/tms/"):
        return f"{red},{green}"
    assert red == 32  # level 2, column 0: the grid's level, not TMS's
    return NORTH if green > 128 else SOUTH


@pytest.mark.parametrize(
    ("tms", "path", "query", "expected"),
    [
        # No origin configured: /tiles follows the grid.
        (None, "/tiles/nw/EPSG3857/2/0/0.png", "", NORTH),
        (None, "/tiles/sw/EPSG3857/2/0/0.png", "", SOUTH),
        (None, "/tiles/nw/EPSG3857/2/0/0.png", "origin=sw", SOUTH),
        (None, "/tiles/sw/EPSG3857/2/0/0.png", "origin=nw", NORTH),
        (None, "/tms/1.0.0/nw/EPSG3857/2/0/0.png", "", TMS_SOUTH_WEST),
        # services.tms.origin: nw turns /tiles of every grid, not TMS.
        ({"origin": "nw"}, "/tiles/sw/EPSG3857/2/0/0.png", "", NORTH),
        ({"origin": "nw"}, "/tiles/nw/EPSG3857/2/0/0.png", "origin=sw", SOUTH),
        ({"origin": "nw"}, "/tms/1.0.0/nw/EPSG3857/2/0/0.png", "", TMS_SOUTH_WEST),
        (
            {"origin": "nw"},
            "/tms/1.0.0/sw/EPSG3857/2/0/0.png",
            "origin=nw",
            TMS_SOUTH_WEST,
        ),
        ({"origin": "sw"}, "/tiles/nw/EPSG3857/2/0/0.png", "", SOUTH),
    ],
)
def test_rows_count_as_mapproxy_counts_them(
    tmp_path: Path,
    map_server: MapServer,
    tms: dict[str, Any] | None,
    path: str,
    query: str,
    expected: str,
) -> None:
    app = make_app(tmp_path, conf(map_server, tms))
    assert where(app, path, query) == expected
