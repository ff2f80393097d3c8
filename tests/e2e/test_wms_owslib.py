"""WMS end to end: OWSLib's WebMapService (1.1.1 and 1.3.0) against Tilegate under gunicorn."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
from owslib.wms import WebMapService
from PIL import Image

from tests.e2e.conftest import Server, serving, upstream_wms
from tests.integration.test_wms_service import psnr, truth
from tests.mapserver import MapServer


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, upstream: MapServer
) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("wms")
    conf = {
        "services": {"wms": {"md": {"title": "Tilegate <test> WMS"}}},
        "globals": {"image": {"paletted": False}},
        "layers": [
            {
                "name": "base",
                "title": "Base",
                "layers": [
                    {"name": "cached", "title": "Cached", "sources": ["c"]},
                    {"name": "direct", "title": "Direct", "sources": ["w"]},
                ],
            }
        ],
        "caches": {"c": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["w"]}},
        "sources": {"w": upstream_wms(upstream)},
    }
    with serving(directory, conf) as server:
        yield server


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_owslib_reads_the_capabilities(served: Server, version: str) -> None:
    wms = WebMapService(f"{served.url}/service", version=version)
    assert wms.identification.title == "Tilegate <test> WMS"
    assert list(wms.contents) == ["base", "cached", "direct"]
    cached = wms["cached"]
    assert cached.title == "Cached"
    assert cached.parent is not None
    assert cached.parent.id == "base"
    assert "EPSG:3857" in cached.crsOptions
    west, south, east, north = cached.boundingBoxWGS84
    assert south == pytest.approx(-85.0511, abs=1e-3)
    assert (west, east) == pytest.approx((-180, 180))
    assert north == pytest.approx(85.0511, abs=1e-3)
    assert "image/png" in wms.getOperationByName("GetMap").formatOptions


@pytest.mark.parametrize(
    ("version", "layer"),
    [("1.1.1", "cached"), ("1.3.0", "cached"), ("1.3.0", "direct")],
)
def test_owslib_getmap_reprojected_to_epsg_4326(
    served: Server, version: str, layer: str
) -> None:
    wms = WebMapService(f"{served.url}/service", version=version)
    # OWSLib takes the bbox as x/y and flips it for EPSG:4326 in 1.3.0 itself.
    answer = wms.getmap(
        layers=[layer],
        styles=[""],
        srs="EPSG:4326",
        bbox=(-60, -40, 60, 40),
        size=(300, 200),
        format="image/png",
    )
    data = answer.read()
    assert answer.info()["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(data))
    assert image.size == (300, 200)
    expected: np.ndarray = truth((-60, -40, 60, 40), "EPSG:4326", (300, 200))
    assert psnr(data, expected) > 25
