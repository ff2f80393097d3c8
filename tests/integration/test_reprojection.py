"""Caches filled in another SRS than their source's: from a lower cache, or from a WMS asked in
one of its `supported_srs`; in-process app against the real map server, tiles against ground
truth."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
from PIL import Image

from domain.bbox import Bbox
from domain.grid import TileCoord
from domain.grids import resolve_grids
from tests.integration.test_app import get, make_app
from tests.mapserver import MapServer, render

GRIDS = resolve_grids({})


def conf(server: MapServer, caches: dict[str, Any], **wms: object) -> dict[str, Any]:
    return {
        "services": {"tms": None},
        "globals": {"image": {"paletted": False}},
        "layers": [{"name": "top", "title": "Top", "sources": ["top"]}],
        "caches": caches,
        "sources": {
            "w": {
                "type": "wms",
                "req": {"url": f"{server.url}/service", "layers": "x"},
                **wms,
            }
        },
    }


def truth(bbox: Bbox, size: tuple[int, int], srs: str, server_srs: str) -> np.ndarray:
    """What the server draws in server_srs, seen at the pixel centres of bbox in srs.

    The server's red follows its x and its green its y; between EPSG:4326 and EPSG:3857 x
    depends only on longitude and y only on latitude, so one column and one row of 1-pixel
    renders give the whole image.
    """
    to_server = pyproj.Transformer.from_crs(srs, server_srs, always_xy=True)
    w, h = size
    mid_x, mid_y = (bbox.minx + bbox.maxx) / 2, (bbox.miny + bbox.maxy) / 2

    def at(x: float, y: float) -> tuple[int, ...]:
        e = 1e-6 * max(abs(x), abs(y), 1.0)
        pixel = render((x - e, y - e, x + e, y + e), (1, 1), server_srs).getpixel(
            (0, 0)
        )
        assert isinstance(pixel, tuple)
        return pixel

    reds = [
        at(to_server.transform(bbox.minx + (i + 0.5) * bbox.width / w, mid_y)[0], 0)[0]
        for i in range(w)
    ]
    greens = [
        at(0, to_server.transform(mid_x, bbox.maxy - (j + 0.5) * bbox.height / h)[1])[1]
        for j in range(h)
    ]
    out = np.empty((h, w, 3), dtype=float)
    out[:, :, 0] = np.array(reds)[None, :]
    out[:, :, 1] = np.array(greens)[:, None]
    out[:, :, 2] = 128
    return out


def psnr(data: bytes, expected: np.ndarray) -> float:
    got = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(float)
    mse = float(((got - expected) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def test_a_geodetic_cache_filled_from_a_mercator_cache_matches_ground_truth(
    tmp_path: Path, map_server: MapServer
) -> None:
    # The upper cache comes first: caches are built when first needed, in any order.
    caches = {
        "top": {"grids": ["GLOBAL_GEODETIC"], "sources": ["lower"]},
        "lower": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["w"]},
    }
    app = make_app(tmp_path, conf(map_server, caches))
    coord = TileCoord(4, 2, 3)  # 0°..45° east and north
    # The EPSG:4326 TMS profile's level 0 is the grid's level 1; rows count from the south.
    status, headers, data = get(app, "/tms/1.0.0/top/EPSG4326/2/4/2.png")

    assert status == 200, data
    assert headers["Content-Type"] == "image/png"
    bbox = GRIDS["GLOBAL_GEODETIC"].tile_bbox(coord)
    assert bbox == Bbox(0, 0, 45, 45)
    assert psnr(data, truth(bbox, (256, 256), "EPSG:4326", "EPSG:3857")) > 30
    assert map_server.requests
    assert {r.params["SRS"] for r in map_server.requests} == {"EPSG:3857"}
    lower = list((tmp_path / "cache_data" / "lower_EPSG3857").rglob("*.png"))
    upper = list((tmp_path / "cache_data" / "top_EPSG4326").rglob("*.png"))
    assert lower
    assert upper
    # Served again from the upper cache, nothing asked upstream.
    asked = len(map_server.requests)
    assert get(app, "/tms/1.0.0/top/EPSG4326/2/4/2.png")[2] == data
    assert len(map_server.requests) == asked


def test_a_mercator_cache_from_a_wms_serving_only_epsg_4326_matches_ground_truth(
    tmp_path: Path, map_server: MapServer
) -> None:
    caches = {"top": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["w"]}}
    app = make_app(tmp_path, conf(map_server, caches, supported_srs=["EPSG:4326"]))
    # As for EPSG:4326, TMS level 2 is the grid's level 3; row 4 from the south is row 3
    # from the top.
    status, _, data = get(app, "/tms/1.0.0/top/EPSG3857/2/4/4.png")

    assert status == 200, data
    bbox = GRIDS["GLOBAL_WEBMERCATOR"].tile_bbox(TileCoord(4, 3, 3))
    assert bbox.minx == 0
    assert bbox.miny == 0
    assert psnr(data, truth(bbox, (256, 256), "EPSG:3857", "EPSG:4326")) > 30
    assert [r.params["SRS"] for r in map_server.requests] == ["EPSG:4326"]
    assert list((tmp_path / "cache_data" / "top_EPSG3857").rglob("*.png"))
