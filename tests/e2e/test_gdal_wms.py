"""GDAL's WMS driver (Debian's gdalinfo and gdal_translate) against Tilegate under gunicorn."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import (
    Server,
    fetch,
    serving,
    upstream_wms,
)
from tests.integration.test_wms_service import psnr, truth
from tests.mapserver import WEBMERCATOR_EXTENT, MapServer

pytestmark = pytest.mark.skipif(
    shutil.which("gdalinfo") is None or shutil.which("gdal_translate") is None,
    reason="gdalinfo/gdal_translate missing: install Debian's gdal-bin (.ci/install-system-packages)",
)
E = WEBMERCATOR_EXTENT


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, upstream: MapServer
) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("gdal")
    conf = {
        "services": {"wms": {"md": {"title": "GDAL <test>"}}},
        "globals": {"image": {"paletted": False}},
        "layers": [
            {"name": "cached", "title": "Cached & tiled", "sources": ["c"]},
            {"name": "direct", "title": "Direct", "sources": ["w"]},
        ],
        "caches": {"c": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["w"]}},
        "sources": {"w": upstream_wms(upstream)},
    }
    with serving(directory, conf) as server:
        yield server


def gdal(*args: str) -> subprocess.CompletedProcess[str]:
    # --debug on makes the WMS driver log each URL it asks for ("HTTP: Requesting ...").
    result = subprocess.run(
        [*args, "--debug", "on"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def gdalinfo(dataset: str) -> dict[str, Any]:
    info: dict[str, Any] = json.loads(gdal("gdalinfo", "-json", dataset).stdout)
    return info


def service_xml(
    server: Server,
    layer: str,
    version: str,
    code: str,
    window: tuple[float, float, float, float],
    size: tuple[int, int],
) -> str:
    """A GDAL_WMS description: the window (ulx, uly, lrx, lry) at size, in 256 px blocks."""
    ulx, uly, lrx, lry = window
    # GDAL writes 1.3.0 bboxes in x/y order unless told (its WMS: URL form says yxYX too).
    order = "<BBoxOrder>yxYX</BBoxOrder>" if version == "1.3.0" else ""
    srs_tag = "CRS" if version == "1.3.0" else "SRS"
    return f"""<GDAL_WMS>
  <Service name="WMS">
    <Version>{version}</Version>
    <ServerUrl>{server.url}/service?</ServerUrl>
    <{srs_tag}>{code}</{srs_tag}>
    <ImageFormat>image/png</ImageFormat>
    <Layers>{layer}</Layers>{order}
  </Service>
  <DataWindow>
    <UpperLeftX>{ulx!r}</UpperLeftX><UpperLeftY>{uly!r}</UpperLeftY>
    <LowerRightX>{lrx!r}</LowerRightX><LowerRightY>{lry!r}</LowerRightY>
    <SizeX>{size[0]}</SizeX><SizeY>{size[1]}</SizeY>
  </DataWindow>
  <Projection>{code}</Projection>
  <BlockSizeX>256</BlockSizeX><BlockSizeY>256</BlockSizeY>
  <BandsCount>3</BandsCount>
</GDAL_WMS>
"""


def translate(
    xml: Path, srcwin: tuple[int, int, int, int], out: Path
) -> tuple[np.ndarray, list[str]]:
    """gdal_translate of a pixel window to 256x256: the pixels and the GetMap URLs GDAL used."""
    result = gdal(
        "gdal_translate",
        "-q",
        "-srcwin",
        *map(str, srcwin),
        "-outsize",
        "256",
        "256",
        "-of",
        "PNG",
        str(xml),
        str(out),
    )
    urls = re.findall(r"HTTP: Requesting \[\d+/\d+\] (\S+)", result.stderr)
    with Image.open(out) as image:
        return np.asarray(image.convert("RGB")), urls


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def test_gdal_lists_the_layers_from_the_capabilities(served: Server) -> None:
    info = gdalinfo(f"WMS:{served.url}/service?")
    subdatasets = info["metadata"]["SUBDATASETS"]
    names = [subdatasets[f"SUBDATASET_{i}_NAME"] for i in (1, 2)]
    assert [subdatasets[f"SUBDATASET_{i}_DESC"] for i in (1, 2)] == [
        "Cached & tiled",
        "Direct",
    ]
    # Each is a GetMap of the layer over its geographic bounding box from our capabilities.
    query = dict(parse_qsl(urlsplit(names[0].removeprefix("WMS:")).query))
    assert query["LAYERS"] == "cached"
    assert query["SRS"] == "EPSG:4326"
    bbox = [float(v) for v in query["BBOX"].split(",")]
    assert bbox == pytest.approx([-180, -85.0511287798, 180, 85.0511287798])


def test_gdal_url_form_georeferencing(served: Server) -> None:
    # 1.3.0 with EPSG:4326: the BBOX is lat/lon; GDAL must still see lon -180..180.
    info = gdalinfo(
        f"WMS:{served.url}/service?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap"
        "&LAYERS=direct&CRS=EPSG:4326&BBOX=-90,-180,90,180"
    )
    width, height = info["size"]
    assert width == 2 * height
    origin_x, pixel_x, _, origin_y, _, pixel_y = info["geoTransform"]
    assert (origin_x, origin_y) == (-180, 90)
    assert (pixel_x * width, pixel_y * height) == pytest.approx((360, -180))
    assert 'ID["EPSG",4326]' in info["coordinateSystem"]["wkt"]


def test_gdal_reads_a_window_of_the_cached_layer(
    served: Server, tmp_path: Path
) -> None:
    xml = tmp_path / "cached.xml"
    xml.write_text(
        service_xml(
            served, "cached", "1.1.1", "EPSG:3857", (-E, E, E, -E), (4096, 4096)
        )
    )
    info = gdalinfo(str(xml))
    assert info["size"] == [4096, 4096]
    assert info["geoTransform"] == pytest.approx(
        [-E, 2 * E / 4096, 0, E, 0, -2 * E / 4096]
    )
    assert 'ID["EPSG",3857]' in info["coordinateSystem"]["wkt"]
    bands = info["bands"]
    assert len(bands) == 3

    # Pixels 1024..2048 shrunk 4x: the 1024 px overview's block (1, 1), one GetMap of its bbox.
    got, urls = translate(xml, (1024, 1024, 1024, 1024), tmp_path / "out.png")
    assert len(urls) == 1
    params = dict(parse_qsl(urlsplit(urls[0]).query))
    assert (params["width"], params["height"], params["srs"]) == (
        "256",
        "256",
        "EPSG:3857",
    )
    bbox = [float(v) for v in params["bbox"].split(",")]
    assert bbox == pytest.approx([-E / 2, 0, 0, E / 2], abs=1e-6)
    status, _, body = fetch(urls[0])
    assert status == 200
    assert np.array_equal(got, pixels(body))
    expected = truth((-E / 2, 0, 0, E / 2), "EPSG:3857", (256, 256))
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_gdal_reads_a_window_over_wms_130_in_epsg_4326(
    served: Server, tmp_path: Path
) -> None:
    xml = tmp_path / "direct.xml"
    xml.write_text(
        service_xml(
            served, "direct", "1.3.0", "EPSG:4326", (-180, 90, 180, -90), (2048, 1024)
        )
    )
    # Block (6, 1): lon 90..135, lat 0..45 (a swapped axis order would ask for lat 90..135).
    got, urls = translate(xml, (1536, 256, 256, 256), tmp_path / "out.png")
    assert len(urls) == 1
    params = dict(parse_qsl(urlsplit(urls[0]).query))
    assert params["crs"] == "EPSG:4326"
    assert [float(v) for v in params["bbox"].split(",")] == [0, 90, 45, 135]
    # The same map asked for through 1.1.1 in x/y order.
    status, _, body = fetch(
        f"{served.url}/service?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=direct"
        "&STYLES=&SRS=EPSG:4326&BBOX=90,0,135,45&WIDTH=256&HEIGHT=256&FORMAT=image/png"
    )
    assert status == 200
    assert np.array_equal(got, pixels(body))
    buffer = io.BytesIO()
    Image.fromarray(got).save(buffer, "PNG")
    assert (
        psnr(buffer.getvalue(), truth((90, 0, 135, 45), "EPSG:4326", (256, 256))) > 30
    )
