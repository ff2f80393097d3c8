"""The Python API of docs/python-api.md: its examples run as shown, apps from dicts, and the
multiapp's `mapproxy.instance_name`."""

from __future__ import annotations

import copy
import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from domain.errors import ConfigError
from entrypoints import multiapp
from entrypoints.wsgiapp import make_wsgi_app, make_wsgi_app_from_dict
from tests.integration.decorate_support import (
    Decorator,
    cache_files,
    config,
    pixels,
    same,
)
from tests.mapserver import MapServer
from tests.wsgi_call import call

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "python-api.md"
WMTS_TILE = "/wmts/cached/GLOBAL_WEBMERCATOR/2/1/2.png"
_EXAMPLE = re.compile(r"<!-- example: (\S+) -->\n```python\n(.*?)```", re.S)


def example(name: str) -> ModuleType:
    """A file of docs/examples imported as a module, as a server would import it."""
    spec = importlib.util.spec_from_file_location(
        f"example_{name}", ROOT / "docs" / "examples" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_shows_each_example_file_as_it_is() -> None:
    shown = dict(_EXAMPLE.findall(PAGE.read_text()))
    assert sorted(shown) == [
        "docs/examples/from_dict.py",
        "docs/examples/watermark_app.py",
    ]
    for path, code in shown.items():
        assert code == (ROOT / path).read_text(), f"{path} differs from the page"


def test_the_watermark_example_marks_each_users_images_and_caches_them_plain(
    tmp_path: Path, map_server: MapServer
) -> None:
    watermark_app = example("watermark_app")
    conf_path = tmp_path / "mapproxy.yaml"
    conf_path.write_text(yaml.safe_dump(config(map_server)))
    app = watermark_app.make_app(str(conf_path))

    status, headers, alice = call(app, WMTS_TILE, x_forwarded_user="alice")
    assert (status, headers["Content-Type"]) == (200, "image/png")
    stored = cache_files(tmp_path / "cache_data")
    plain_app = make_wsgi_app(str(conf_path))
    plain_tile = call(plain_app, WMTS_TILE)[2]
    assert plain_tile in stored.values()
    plain = pixels(plain_tile)
    # The stored tile is plain; the answer is it with alice's name on it.
    expected = watermark_app.watermark(plain, "alice").convert("RGB")
    assert same(pixels(alice), expected)
    assert not same(pixels(alice), plain)
    bob = call(app, WMTS_TILE, x_forwarded_user="bob")[2]
    assert same(pixels(bob), watermark_app.watermark(plain, "bob").convert("RGB"))
    assert not same(pixels(bob), pixels(alice))
    nobody = call(app, WMTS_TILE)[2]
    assert same(
        pixels(nobody), watermark_app.watermark(plain, "anonymous").convert("RGB")
    )
    assert cache_files(tmp_path / "cache_data") == stored
    getmap = (
        "SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&LAYERS=grp&STYLES=&SRS=EPSG:3857"
        "&BBOX=-20037508.34,-20037508.34,20037508.34,20037508.34"
        "&WIDTH=256&HEIGHT=256&FORMAT=image/png"
    )
    status, _, marked_map = call(app, "/service", getmap, x_forwarded_user="carol")
    assert status == 200
    plain_map = pixels(call(plain_app, "/service", getmap)[2])
    expected_map = watermark_app.watermark(plain_map, "carol").convert("RGB")
    assert same(pixels(marked_map), expected_map)


def test_the_dict_example_serves_with_paths_from_base_dir(
    tmp_path: Path, map_server: MapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    app = example("from_dict").make_app(f"{map_server.url}/service", str(tmp_path))
    status, headers, body = call(app, "/wmts/osm/GLOBAL_WEBMERCATOR/1/0/0.png")
    assert (status, headers["Content-Type"]) == (200, "image/png")
    files = cache_files(tmp_path / "tiles")
    assert body in files.values()
    assert all(
        p.is_relative_to(tmp_path / "tiles" / "osm_cache_EPSG3857") for p in files
    )
    assert list(elsewhere.iterdir()) == []


def test_an_app_from_a_dict_leaves_the_dict_alone_and_finds_base_files(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = config(map_server)
    services = conf.pop("services")
    (tmp_path / "services.yaml").write_text(yaml.safe_dump({"services": services}))
    conf["base"] = "services.yaml"
    before = copy.deepcopy(conf)
    app = make_wsgi_app_from_dict(conf, base_dir=tmp_path)
    assert conf == before
    assert call(app, WMTS_TILE)[0] == 200
    assert cache_files(tmp_path / "cache_data")


@pytest.mark.parametrize(
    ("conf", "problem"),
    [
        (
            {"caches": {"c": {"grids": ["nowhere"], "sources": []}}},
            "unknown grid 'nowhere' @ $.caches['c'].grids[0]",
        ),
        (
            {"grids": {"g": {"base": "GLOBAL_WEBMERCATOR", "res": ["x"]}}},
            "@ $.grids['g'].res[0]",
        ),
        ({"base": "missing.yaml"}, "missing.yaml"),
    ],
)
def test_a_bad_dict_raises_config_error_with_the_key_path(
    tmp_path: Path, conf: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        make_wsgi_app_from_dict(conf, base_dir=tmp_path, source="tenant 7")
    assert raised.value.source == "tenant 7"
    assert any(problem in p for p in raised.value.problems), raised.value.problems


def test_the_multiapp_tells_callbacks_the_instance_name(
    tmp_path: Path, map_server: MapServer
) -> None:
    for name in ("roads", "rivers"):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(config(map_server)))
    decorated = Decorator(multiapp.make_wsgi_app(tmp_path))
    assert call(decorated, "/roads" + WMTS_TILE)[0] == 200
    assert call(decorated, "/rivers/tms/1.0.0/cached/EPSG3857/2/1/2.png")[0] == 200
    assert [c["instance"] for c in decorated.calls] == ["roads", "rivers"]
    # A single app names no instance, as in MapProxy.
    single = Decorator(make_wsgi_app_from_dict(config(map_server), base_dir=tmp_path))
    assert call(single, WMTS_TILE)[0] == 200
    assert single.calls[0]["instance"] is None
