"""`services.wms.attribution`: the text line MapProxy draws into every GetMap answer."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pytest
from PIL import Image

from adapters.config import parse_config
from domain.errors import ConfigError
from tests.integration.test_app import get, make_app
from tests.mapserver import WEBMERCATOR_EXTENT as E
from tests.mapserver import MapServer


def conf(server: MapServer, attribution: object = None) -> dict[str, Any]:
    wms: dict[str, Any] = {}
    if attribution is not None:
        wms["attribution"] = attribution
    return {
        "services": {"wms": wms, "tms": None},
        "globals": {"image": {"paletted": False}},
        "layers": [{"name": "direct", "title": "Direct", "sources": ["w"]}],
        "sources": {
            "w": {
                "type": "wms",
                "req": {
                    "url": f"{server.url}/service",
                    "layers": "x",
                    "transparent": True,
                },
                "supported_srs": ["EPSG:3857"],
            }
        },
    }


def getmap(
    tmp_path: Path, server: MapServer, attribution: object, **params: str
) -> np.ndarray:
    app = make_app(tmp_path, conf(server, attribution))
    query = {
        "SERVICE": "WMS",
        "VERSION": "1.1.1",
        "REQUEST": "GetMap",
        "LAYERS": "direct",
        "STYLES": "",
        "SRS": "EPSG:3857",
        "BBOX": f"{-E / 2},{-E / 2},{E},{E / 2}",
        "WIDTH": "300",
        "HEIGHT": "100",
        "FORMAT": "image/png",
        **params,
    }
    status, headers, body = get(app, "/service", urlencode(query))
    assert status == 200, body
    assert headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(body)) as image:
        return np.asarray(image.convert("RGBA")).astype(int)


@pytest.mark.parametrize(
    ("transparent", "bbox"),
    [
        ("false", f"{-E / 2},{-E / 2},{E},{E / 2}"),
        # East of the world: the map server leaves the corner transparent.
        ("true", f"0,{-E / 2},{E * 1.5},{E / 2}"),
    ],
)
def test_attribution_is_drawn_in_the_bottom_right_corner(
    tmp_path: Path, map_server: MapServer, transparent: str, bbox: str
) -> None:
    params = {"TRANSPARENT": transparent, "BBOX": bbox}
    plain = getmap(tmp_path, map_server, None, **params)
    marked = getmap(tmp_path, map_server, {"text": "© Tilegate & <co>"}, **params)
    changed = np.argwhere((plain != marked).any(axis=2))
    rows, cols = changed[:, 0], changed[:, 1]
    # One small line on a plate in the bottom right corner, nothing elsewhere.
    assert rows.max() == 99
    assert cols.max() == 299
    assert rows.min() >= 80
    assert cols.min() >= 100
    plate = (slice(rows.min(), 100), slice(cols.min(), 300))
    assert len(changed) == (100 - rows.min()) * (300 - cols.min())
    # Dark text on a lighter plate.
    assert (marked[plate][:, :, :3].max(axis=2) < 80).sum() > 30
    if transparent == "true":
        # The map is transparent there; the plate is not quite.
        assert (plain[plate][:, :, 3] == 0).all()
        assert (marked[plate][:, :, 3] > 0).all()
    else:
        assert (marked[:, :, 3] == 255).all()
        light = marked[plate][:, :, :3].sum(axis=2) > plain[plate][:, :, :3].sum(axis=2)
        assert light.mean() > 0.5


def test_empty_attribution_text_draws_nothing(
    tmp_path: Path, map_server: MapServer
) -> None:
    plain = getmap(tmp_path, map_server, None)
    assert np.array_equal(getmap(tmp_path, map_server, {"text": ""}), plain)
    assert np.array_equal(getmap(tmp_path, map_server, {}), plain)


def test_tiles_carry_no_attribution(tmp_path: Path, map_server: MapServer) -> None:
    # MapProxy draws it into WMS maps only; a cached tile is the same with or without it.
    tiles_conf = conf(map_server, {"text": "© Tilegate"})
    tiles_conf["layers"][0]["sources"] = ["c"]
    tiles_conf["caches"] = {"c": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["w"]}}
    tiles_conf["globals"]["cache"] = {"base_dir": str(tmp_path / "cache")}
    app = make_app(tmp_path, tiles_conf)
    status, _, body = get(app, "/tiles/direct/EPSG3857/1/1/0.png")
    assert status == 200
    with Image.open(io.BytesIO(body)) as image:
        tile = np.asarray(image.convert("RGBA")).astype(int)
    assert (tile[:, :, :3].max(axis=2) < 80).sum() == 0  # no dark text anywhere


def test_attribution_loads_without_warnings(map_server: MapServer) -> None:
    loaded = parse_config(conf(map_server, {"text": "© me"}), "mapproxy.yaml")
    attribution = loaded.conf.services.wms.attribution  # type: ignore[union-attr]
    assert attribution is not None
    assert attribution.text == "© me"
    assert loaded.warnings == ()


@pytest.mark.parametrize(
    ("attribution", "problem"),
    [
        ("© me", "expected a mapping, got a string @ $.services.wms.attribution"),
        (
            {"text": ["a", "b"]},
            "invalid value for type, expected str | None @ $.services.wms.attribution.text",
        ),
    ],
)
def test_bad_attribution_is_a_config_error(
    map_server: MapServer, attribution: object, problem: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(conf(map_server, attribution), "mapproxy.yaml")
    assert info.value.problems == [problem]
