"""`type: mapnik` sources rendered with a real Mapnik (Debian's python3-mapnik) from XML styles."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from adapters.config import parse_config
from adapters.mapnik_source import load_mapnik
from domain.errors import ConfigError
from entrypoints.app import TilegateApp
from entrypoints.bootstrap import bootstrap
from tests.integration.test_wms_service import getmap

needs_mapnik = pytest.mark.skipif(
    load_mapnik() is None, reason="no mapnik Python module (Debian's python3-mapnik)"
)
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def layer(name: str, color: str, wkt: str) -> str:
    return f"""<Style name="{name}"><Rule><PolygonSymbolizer fill="{color}"/></Rule></Style>
<Layer name="{name}" srs="epsg:4326"><StyleName>{name}</StyleName>
<Datasource><Parameter name="type">csv</Parameter><Parameter name="inline">wkt
"{wkt}"
</Parameter></Datasource></Layer>"""


# A red square from 0,0 to 10,10 degrees and a blue one from -10,-10 to 0,0, on white.
STYLE = f"""<Map srs="epsg:4326" background-color="white">
{layer("red", "#ff0000", "POLYGON((0 0,10 0,10 10,0 10,0 0))")}
{layer("blue", "#0000ff", "POLYGON((-10 -10,0 -10,0 0,-10 0,-10 -10))")}
</Map>"""


def conf(tmp_path: Path, **source: Any) -> dict[str, Any]:
    (tmp_path / "style.xml").write_text(STYLE)
    return {
        "services": {"wms": {}},
        "globals": {"image": {"paletted": False}},
        "layers": [{"name": "mn", "title": "Mapnik", "sources": ["mn"]}],
        "sources": {"mn": {"type": "mapnik", "mapfile": "style.xml"} | source},
    }


def make_app(tmp_path: Path, config: dict[str, Any]) -> TilegateApp:
    path = tmp_path / "mapproxy.yaml"
    return TilegateApp.from_state(
        bootstrap(parse_config(config, str(path), tmp_path), path)
    )


def px(img: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = img.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def pixels(app: TilegateApp, **params: Any) -> Image.Image:
    base = {"layers": "mn", "srs": "EPSG:4326", "bbox": "-20,-20,20,20"}
    status, _, body = getmap(app, width=40, height=40, **(base | params))
    assert status == 200, body
    return Image.open(io.BytesIO(body)).convert("RGBA")


@needs_mapnik
def test_mapnik_draws_the_style_where_its_polygons_are(tmp_path: Path) -> None:
    img = pixels(make_app(tmp_path, conf(tmp_path)))
    # 1 degree per pixel, the top row at 20 degrees north.
    assert px(img, (25, 15)) == (*RED, 255)  # 5E 5N
    assert px(img, (15, 25)) == (*BLUE, 255)  # 5W 5S
    assert px(img, (5, 5)) == (*WHITE, 255)


@needs_mapnik
def test_mapnik_renders_in_web_mercator(tmp_path: Path) -> None:
    app = make_app(tmp_path, conf(tmp_path))
    # 0..2,226,389 m is 0..20 degrees east; 10 degrees north is 1,118,890 m.
    img = pixels(app, srs="EPSG:3857", bbox="0,0,2226389,2226389")
    assert px(img, (10, 30)) == (*RED, 255)
    assert px(img, (30, 30)) == (*WHITE, 255)


@needs_mapnik
@pytest.mark.parametrize("layers", ["red", ["red"]])
def test_layers_limit_what_is_drawn_and_transparent_clears_the_background(
    tmp_path: Path, layers: object
) -> None:
    app = make_app(tmp_path, conf(tmp_path, layers=layers, transparent=True))
    img = pixels(app, transparent="true")
    assert px(img, (25, 15)) == (*RED, 255)
    assert px(img, (15, 25))[3] == 0  # the blue layer is not drawn
    assert px(img, (5, 5))[3] == 0


@needs_mapnik
def test_multithreaded_renders_in_parallel_threads_alike(tmp_path: Path) -> None:
    app = make_app(tmp_path, conf(tmp_path, multithreaded=True, scale_factor=2))
    results: list[tuple[int, ...]] = []

    def render() -> None:
        results.append(px(pixels(app), (25, 15)))

    threads = [threading.Thread(target=render) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [(*RED, 255)] * 4


@needs_mapnik
@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ({"mapfile": "nothing.xml"}, "does not exist @ $.sources['mn'].mapfile"),
        (
            {"layers": ["red", "green"]},
            "no layer 'green' in style.xml @ $.sources['mn'].layers[1]",
        ),
        (
            {"scale_factor": -1},
            "scale_factor must be positive, got -1.0 @ $.sources['mn']",
        ),
        ({"multithreaded": "yes"}, "expected bool @ $.sources['mn'].multithreaded"),
    ],
)
def test_bad_mapnik_options_name_their_key(
    tmp_path: Path, source: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(conf(tmp_path, **source), "t.yaml", tmp_path)
    assert any(p.endswith(problem) for p in info.value.problems), info.value.problems


@needs_mapnik
def test_a_style_mapnik_cannot_read_is_a_config_error(tmp_path: Path) -> None:
    config = conf(tmp_path)
    (tmp_path / "style.xml").write_text("<Map><Layer></Map>")
    with pytest.raises(ConfigError) as info:
        parse_config(config, "t.yaml", tmp_path)
    (problem,) = info.value.problems
    assert problem.startswith("mapnik cannot load")
    assert problem.endswith("@ $.sources['mn'].mapfile")


def test_without_the_mapnik_module_a_mapnik_source_is_a_config_error(
    tmp_path: Path,
) -> None:
    # A fresh interpreter that finds no mapnik: none installed for it, no Debian path.
    script = f"""
import sys
import adapters.mapnik_source as m
m.DEBIAN_DIST_PACKAGES = {str(tmp_path)!r}
sys.modules["mapnik"] = None  # an import of it fails as if it were not installed
from pathlib import Path
from adapters.config import parse_config
from domain.errors import ConfigError
try:
    parse_config({conf(tmp_path)!r}, "t.yaml", Path({str(tmp_path)!r}))
except ConfigError as exc:
    print(exc.problems)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == str(
        [
            "source type 'mapnik' needs the mapnik Python module (Debian's "
            "python3-mapnik or the PyPI bindings) @ $.sources['mn'].type"
        ]
    )
