"""The WMS scenario's truth and PSNR, and its goal notes."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests import mapserver
from tests.bench import wms_scenario
from tests.bench.report import render
from tests.bench.results import Results, WmsResult
from tests.bench.wms_scenario import Case


def test_truth_in_the_cache_srs_is_the_map_servers_own_image() -> None:
    for case in wms_scenario.cases():
        if case.srs == wms_scenario.CACHE_SRS and case.size == 256:
            truth, inside = wms_scenario.expected(case)
            drawn = mapserver.render(case.bbox, (256, 256), case.srs)
            assert inside.all()
            assert np.array_equal(truth, np.asarray(drawn))
            assert wms_scenario.psnr(drawn, case) == wms_scenario.PSNR_CAP


def test_reprojected_truth_follows_the_mercator_picture() -> None:
    # Symmetric about the equator in EPSG:4326: the green of the middle rows is the middle of
    # the mercator gradient, and a row's green is mercator's, not the latitude's share.
    case = Case("equator", "EPSG:4326", (-30.0, -60.0, 30.0, 60.0), 64)
    truth, inside = wms_scenario.expected(case)
    assert inside.all()
    assert {int(truth[31, 0, 1]), int(truth[32, 0, 1])} <= {127, 128}
    # 60 degrees north is at 0.42 of mercator's half extent, so far less green than a
    # geographic gradient's 0.83 of the way up
    assert 175 < int(truth[0, 0, 1]) < 185


def test_psnr_falls_with_the_error() -> None:
    case = Case("Munich", "EPSG:25832", (650000.0, 5300000.0, 700000.0, 5340000.0), 64)
    truth, _ = wms_scenario.expected(case)
    near = np.clip(truth.astype(np.int16) + 2, 0, 255).astype(np.uint8)
    far = np.clip(truth.astype(np.int16) + 20, 0, 255).astype(np.uint8)
    assert wms_scenario.psnr(Image.fromarray(truth), case) == wms_scenario.PSNR_CAP
    assert 41 < wms_scenario.psnr(Image.fromarray(near), case) < 43
    assert 21 < wms_scenario.psnr(Image.fromarray(far), case) < 23


def test_goal_notes_name_the_cases_that_miss() -> None:
    results = Results()
    results.add_wms("WMS a", "Tilegate", WmsResult(6.0, 40.0, 12))
    results.add_wms("WMS a", "MapProxy", WmsResult(10.0, 35.0, 12))
    results.add_wms("WMS b", "Tilegate", WmsResult(9.0, 24.0, 12))
    results.add_wms("WMS b", "MapProxy", WmsResult(10.0, 20.0, 12))
    table = render(results, 1)
    assert (
        "latency <= 0.7x MapProxy's in every case: MISSED in 1: WMS b (9.0 vs 10.0 ms = 0.90x)"
        in table
    )
    assert (
        "PSNR >= MapProxy's and >= 25 dB in every case: MISSED in 1: WMS b (24.0 vs 20.0 dB)"
        in table
    )
