"""The installed `tilegate` command, run from a scratch directory as a user would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import fetch, run_command, serve_develop, stop


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[str]:
    proc, url = serve_develop(tmp_path)
    yield url
    stop(proc)


def test_builtin_demo_serves_countries_offline(
    demo_server: str, tmp_path: Path
) -> None:
    status, headers, body = fetch(
        f"{demo_server}/tms/1.0.0/countries/EPSG3857/0/0/0.png"
    )
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert body.startswith(b"\x89PNG")
    assert fetch(f"{demo_server}/demo/")[0] == 200
    # The demo cache lands in ./cache_data of the directory it was started in.
    assert list((tmp_path / "cache_data" / "countries_cache_EPSG3857").rglob("*.png"))
    # Every service is on: a WMS map, a KML super-overlay and an OGC API tile of the layer.
    status, headers, body = fetch(
        f"{demo_server}/service?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=countries"
        "&STYLES=&SRS=EPSG:4326&BBOX=-10,35,30,60&WIDTH=200&HEIGHT=125&FORMAT=image/png"
    )
    assert (status, headers["Content-Type"]) == (200, "image/png")
    status, headers, body = fetch(f"{demo_server}/kml/countries/EPSG3857")
    assert status == 200
    assert b"<NetworkLink>" in body
    status, headers, body = fetch(
        f"{demo_server}/ogcapi/collections/countries/map/tiles/WebMercatorQuad/0/0/0.png"
    )
    assert (status, headers["Content-Type"]) == (200, "image/png")


def test_broken_config_stops_with_one_line_naming_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "mapproxy.yaml"
    config.write_text(
        "grids:\n  utm:\n    srs: EPSG:25832\n    bbox: [0, 0, 1000, 1000]\n    res: [10, oops]\n"
    )
    result = run_command(tmp_path, "mapproxy-util", "serve-develop", str(config))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "mapproxy.yaml" in lines[0]
    assert "$.grids['utm'].res[1]" in lines[0]


def test_missing_config_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = run_command(
        tmp_path, "tilegate", "serve-develop", str(tmp_path / "nope.yaml")
    )
    assert result.returncode == 1
    assert "nope.yaml" in result.stderr
    assert "Traceback" not in result.stderr


def write(config: Path, layers: list[str]) -> None:
    conf = {
        "services": {"tms": None},
        "layers": [{"name": n, "title": n, "sources": ["c"]} for n in layers],
        "caches": {
            "c": {
                "grids": ["GLOBAL_WEBMERCATOR"],
                "sources": ["dbg"],
                "disable_storage": True,
            }
        },
        "sources": {"dbg": {"type": "debug"}},
    }
    config.write_text(yaml.safe_dump(conf))


def eventually(check: object, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return True
        time.sleep(0.2)
    return False


def test_dev_server_reloads_a_changed_config_and_keeps_the_old_one_when_broken(
    tmp_path: Path,
) -> None:
    config = tmp_path / "mapproxy.yaml"
    write(config, ["first"])
    proc, url = serve_develop(tmp_path, str(config))
    try:
        assert fetch(f"{url}/tms/1.0.0/second/EPSG3857/0/0/0.png")[0] == 404
        write(config, ["first", "second"])
        assert eventually(
            lambda: fetch(f"{url}/tms/1.0.0/second/EPSG3857/0/0/0.png")[0] == 200
        )
        config.write_text("layers: [")
        time.sleep(1.5)
        assert fetch(f"{url}/tms/1.0.0/second/EPSG3857/0/0/0.png")[0] == 200
    finally:
        stop(proc)
