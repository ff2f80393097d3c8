"""Sources limited by `min_scale`/`max_scale`: asked only at the scales they are configured for."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.config import parse_config
from domain.config import ScalarParam, TileSourceConf, WMSSourceConf
from domain.errors import ConfigError
from domain.res_range import res_range
from tests.integration.test_app import make_app
from tests.integration.test_wms_service import getmap
from tests.mapserver import MapServer

REQ: dict[str, ScalarParam] = {"url": "http://x/", "layers": "a"}


def test_source_scales_convert_as_a_layers_do() -> None:
    for source in (
        WMSSourceConf(REQ, min_scale=5000, max_scale=1_000_000),
        TileSourceConf("http://x/%(z)s", min_scale=5000, max_scale=1_000_000),
    ):
        assert source.res_limits() == res_range(min_scale=5000, max_scale=1_000_000)
    # 1:1,000,000 with the OGC 0.28 mm pixel is 280 m per pixel, the coarsest allowed.
    limits = WMSSourceConf(REQ, max_scale=1_000_000).res_limits()
    assert limits is not None
    assert limits.min_res == pytest.approx(280.0)
    assert limits.max_res is None


@pytest.mark.parametrize("kind", ["wms", "tile"])
def test_resolutions_and_scales_together_are_a_config_error(kind: str) -> None:
    source: dict[str, object] = (
        {"type": "wms", "req": REQ}
        if kind == "wms"
        else {"type": "tile", "url": "http://x/%(z)s"}
    )
    with pytest.raises(ConfigError) as info:
        parse_config(
            {"sources": {"s": source | {"min_res": 100, "min_scale": 5000}}}, "t.yaml"
        )
    assert info.value.problems == [
        "set either min_res/max_res or min_scale/max_scale, not both @ $.sources['s']"
    ]


def test_inverted_scales_are_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            {
                "sources": {
                    "s": {
                        "type": "wms",
                        "req": REQ,
                        "min_scale": 9000,
                        "max_scale": 100,
                    }
                }
            },
            "t.yaml",
        )
    (problem,) = info.value.problems
    assert "max_scale larger than min_scale" in problem
    assert problem.endswith("@ $.sources['s']")


def test_a_wms_source_is_asked_only_within_its_max_scale(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = {
        "services": {"wms": {}},
        "layers": [{"name": "direct", "title": "Direct", "sources": ["w"]}],
        "sources": {
            "w": {
                "type": "wms",
                "req": {"url": f"{map_server.url}/service", "layers": "a"},
                "max_scale": 1_000_000,  # at most 280 m per pixel
            }
        },
    }
    app = make_app(tmp_path, conf)
    # 20,000 km over 400 px: 50 km per pixel, far coarser than the source's range.
    status, headers, body = getmap(app, layers="direct")
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert body
    assert map_server.requests == []
    # 100 km over 400 px: 250 m per pixel, within it.
    status, _, _ = getmap(app, layers="direct", bbox="0,0,100000,50000")
    assert status == 200
    (sent,) = map_server.requests
    assert sent.params["REQUEST"] == "GetMap"
    assert sent.params["BBOX"] == "0.0,0.0,100000.0,50000.0"
