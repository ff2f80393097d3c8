"""Tagged source names (`name:layer1,layer2`) for `mapserver` and `mapnik` sources: the tag picks
the layers MapServer is asked for (LAYERS) or the Mapnik layers drawn, in WMS maps and caches."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from adapters.config import parse_config
from domain.errors import ConfigError
from entrypoints.app import TilegateApp
from tests.integration import test_mapnik_source as mapnik_test
from tests.integration.test_mapserver_featureinfo import MAPFILE
from tests.integration.test_mapserver_source import MAPSERV, make_app, needs_mapserv
from tests.integration.test_wms_service import getmap

RED, BLUE, WHITE = (255, 0, 0, 255), (0, 0, 255, 255), (255, 255, 255, 255)
# 1 degree per pixel, the top row at 20 degrees north: (25, 15) is 5E 5N (the red square),
# (15, 25) 5W 5S (the blue one).
AROUND = {"srs": "EPSG:4326", "bbox": "-20,-20,20,20", "width": 40, "height": 40}


# MapServer 8 will not run without its own config file (tests/integration/conftest.py).
pytestmark = pytest.mark.usefixtures("mapserver_config")


def conf(tmp_path: Path, source: dict[str, Any], tag: str) -> dict[str, Any]:
    (tmp_path / "test.map").write_text(MAPFILE)
    (tmp_path / "style.xml").write_text(mapnik_test.STYLE)
    return {
        "services": {"wms": {}, "tms": {}},
        "globals": {"image": {"paletted": False}},
        "layers": [
            {"name": "direct", "title": "Direct", "sources": [f"s:{tag}"]},
            {"name": "cached", "title": "Cached", "sources": ["c"]},
        ],
        "caches": {"c": {"sources": [f"s:{tag}"], "grids": ["GLOBAL_GEODETIC"]}},
        "sources": {"s": source},
    }


def mapserver(**req: Any) -> dict[str, Any]:
    return {
        "type": "mapserver",
        "req": {"map": "test.map"} | req,
        "mapserver": {"binary": str(MAPSERV)},
    }


def mapnik(**more: Any) -> dict[str, Any]:
    return {"type": "mapnik", "mapfile": "style.xml"} | more


def pixels(app: TilegateApp, layer: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The map's pixels in the red square and in the blue one."""
    status, _, body = getmap(app, layers=layer, **AROUND)
    assert status == 200, body
    img = Image.open(io.BytesIO(body)).convert("RGBA")
    return img.getpixel((25, 15)), img.getpixel((15, 25))  # type: ignore[return-value]


@pytest.mark.parametrize("layer", ["direct", "cached"])
@pytest.mark.parametrize(
    ("source", "tag", "seen"),
    [
        pytest.param(mapserver(), "red", (RED, WHITE), marks=needs_mapserv),
        pytest.param(mapserver(), "blue", (WHITE, BLUE), marks=needs_mapserv),
        pytest.param(mapserver(), "blue,red", (RED, BLUE), marks=needs_mapserv),
        pytest.param(
            mapserver(layers="red,blue"), "blue", (WHITE, BLUE), marks=needs_mapserv
        ),
        pytest.param(mapnik(), "red", (RED, WHITE), marks=mapnik_test.needs_mapnik),
        pytest.param(
            mapnik(layers=["red", "blue"]),
            "blue",
            (WHITE, BLUE),
            marks=mapnik_test.needs_mapnik,
        ),
    ],
)
def test_the_tag_picks_the_layers_drawn(
    tmp_path: Path,
    source: dict[str, Any],
    tag: str,
    seen: tuple[tuple[int, ...], tuple[int, ...]],
    layer: str,
) -> None:
    app = make_app(tmp_path, conf(tmp_path, source, tag))
    assert pixels(app, layer) == seen


@pytest.mark.parametrize(
    ("source", "tag", "problem"),
    [
        (
            mapserver(layers="red"),
            "blue",
            "layers (blue) not in req.layers of source 's' (red) @ $.layers[0].sources[0]",
        ),
        (
            mapnik(layers=["red"]),
            "blue",
            "layers (blue) not in req.layers of source 's' (red) @ $.layers[0].sources[0]",
        ),
        (
            {"type": "debug"},
            "red",
            "tagged sources (s:red) are only supported for wms, mapserver and mapnik"
            " sources @ $.layers[0].sources[0]",
        ),
    ],
)
def test_a_tag_the_source_cannot_serve_is_a_config_error(
    tmp_path: Path, source: dict[str, Any], tag: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(conf(tmp_path, source, tag), "t.yaml", tmp_path)
    assert problem in exc.value.problems, exc.value.problems
