"""The WMS scenario: GetMap from the bench cache, in its SRS and reprojected, timed and compared
with the exact picture.

The map server's gradient depends on the SRS it is asked in (each SRS's own world extent), and
the cache holds it as drawn in EPSG:3857, so the true answer in another SRS is that EPSG:3857
picture warped: each pixel centre moved into EPSG:3857 and coloured there, as
`mapserver.render` colours it (`expected` equals `render` in EPSG:3857 itself).
"""

from __future__ import annotations

import io
import json
import math
import statistics
import time
from collections.abc import Callable
from urllib.parse import urlencode

import attrs
import numpy as np
import pyproj
from numpy.typing import NDArray
from PIL import Image

from tests import mapserver
from tests.bench import load, workload
from tests.bench.processes import BenchError, Server
from tests.bench.results import Results, WmsResult

SIZES = (256, 1024)
# Extents in degrees (lon/lat); each is asked for in the SRS listed with it.
EXTENTS = (
    (
        "central Europe",
        (5.0, 47.0, 15.0, 54.0),
        ("EPSG:3857", "EPSG:4326", "EPSG:25832"),
    ),
    ("equator", (-30.0, -20.0, 30.0, 20.0), ("EPSG:3857", "EPSG:4326")),
    ("Munich", (11.3, 48.0, 11.8, 48.3), ("EPSG:3857", "EPSG:25832")),
)
CACHE_SRS = "EPSG:3857"  # the bench cache's grid, GLOBAL_WEBMERCATOR
# An identical image has no noise: shown as this many dB rather than infinity.
PSNR_CAP = 100.0


@attrs.frozen
class Case:
    name: str
    srs: str
    bbox: tuple[float, float, float, float]  # in srs, east/north order
    size: int

    @property
    def key(self) -> str:
        return f"WMS {self.name} {self.srs.split(':')[1]} {self.size}px"

    def path(self) -> str:
        # WMS 1.1.1: the bbox is east/north in every SRS, as mapserver.render takes it.
        query = {
            "SERVICE": "WMS",
            "VERSION": "1.1.1",
            "REQUEST": "GetMap",
            "LAYERS": workload.LAYER,
            "STYLES": "",
            "SRS": self.srs,
            "BBOX": ",".join(repr(v) for v in self.bbox),
            "WIDTH": str(self.size),
            "HEIGHT": str(self.size),
            "FORMAT": "image/png",
        }
        return "/service?" + urlencode(query)


def cases() -> list[Case]:
    out = []
    for name, lonlat, srs_list in EXTENTS:
        for srs in srs_list:
            to_srs = pyproj.Transformer.from_crs("EPSG:4326", srs, always_xy=True)
            bbox = to_srs.transform_bounds(*lonlat, densify_pts=21)
            for size in SIZES:
                out.append(Case(name, srs, bbox, size))
    return out


def expected(case: Case) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """The true RGB answer (height x width x 3) and which of its pixels are inside the world."""
    minx, miny, maxx, maxy = case.bbox
    n = case.size
    steps = (np.arange(n) + 0.5) / n
    x, y = np.meshgrid(minx + steps * (maxx - minx), maxy - steps * (maxy - miny))
    if case.srs != CACHE_SRS:
        to_cache = pyproj.Transformer.from_crs(case.srs, CACHE_SRS, always_xy=True)
        x, y = to_cache.transform(x, y)
    wx0, wy0, wx1, wy1 = mapserver.world_bbox(CACHE_SRS)
    with np.errstate(invalid="ignore"):
        inside = (wx0 <= x) & (x <= wx1) & (wy0 <= y) & (y <= wy1)
        red = np.floor(256 * (x - wx0) / (wx1 - wx0))
        green = np.floor(256 * (y - wy0) / (wy1 - wy0))
    rgb = np.stack([red, green, np.full_like(red, 128)], axis=-1)
    return np.nan_to_num(np.clip(rgb, 0, 255)).astype(np.uint8), inside


def psnr(answer: Image.Image, case: Case) -> float:
    """PSNR in dB of the answer's RGB against the true picture, over the pixels inside the world."""
    truth, inside = expected(case)
    if not inside.any():
        raise BenchError(f"{case.key}: no pixel of the expected image is in the world")
    got = np.asarray(answer.convert("RGBA").convert("RGB"), dtype=np.float64)
    mse = float(np.mean((got[inside] - truth[inside]) ** 2))
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10 * math.log10(255**2 / mse))


def run(
    servers: dict[str, Server],
    upstream: str,
    requests: int,
    results: Results,
    say: Callable[[str], None],
) -> None:
    """Each case once per server (which fills its cache: the pre-seeding), then `requests` more
    per server, Tilegate and MapProxy taking turns, with no upstream request allowed."""
    all_cases = cases()
    for name, server in servers.items():
        for case in all_cases:
            _get(name, server, case)
    say(f"WMS: {len(all_cases)} GetMap cases cached in {', '.join(servers)}")
    load.fetch(upstream, "/_reset")
    for case in all_cases:
        times: dict[str, list[float]] = {name: [] for name in servers}
        quality: dict[str, float] = {}
        for _ in range(requests):
            for name, server in servers.items():
                start = time.perf_counter()
                body = _get(name, server, case)
                times[name].append((time.perf_counter() - start) * 1000)
                if name not in quality:
                    quality[name] = psnr(Image.open(io.BytesIO(body)), case)
        line = []
        for name in servers:
            res = WmsResult(statistics.median(times[name]), quality[name], requests)
            results.add_wms(case.key, name, res)
            line.append(f"{name} {res.median_ms:6.1f} ms PSNR {res.psnr_db:5.1f} dB")
        say(f"  {case.key:<34} " + " | ".join(line))
    stats = json.loads(load.fetch(upstream, "/_stats").body)
    if stats["total"]:
        results.wms_upstream = stats["total"]


def _get(name: str, server: Server, case: Case) -> bytes:
    answer = load.fetch(server.url, case.path())
    if answer.status != 200 or not answer.headers.get("content-type", "").startswith(
        "image/png"
    ):
        raise BenchError(
            f"{name}: {case.key} answered {answer.status} {answer.headers.get('content-type')}:"
            f" {answer.body[:300]!r}"
        )
    return answer.body
