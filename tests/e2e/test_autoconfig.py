"""`tilegate autoconfig`: configurations made from the real map server's WMS capabilities load,
serve its pixels through Tilegate and seed; bad input is one error line and a non-zero exit."""

from __future__ import annotations

import io
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image, ImageChops

from adapters.config import load_config
from domain.bbox import Bbox
from domain.grid import TileCoord
from domain.grids import resolve_grids
from domain.srs import srs, transform_bbox
from entrypoints.cli import main
from entrypoints.wsgiapp import make_wsgi_app
from tests.e2e.conftest import free_port, run_command
from tests.mapserver import MapServer, render
from tests.wsgi_call import call

BASE = """\
services:
  demo:
  tms:
  wmts:
globals:
  image:
    paletted: false
  cache:
    base_dir: ./cache_data
grids:
  webmercator:
    base: GLOBAL_WEBMERCATOR
  utm32:
    srs: 'EPSG:25832'
    bbox: [200000, 5000000, 800000, 6500000]
    origin: nw
"""
# Level 2 of the world at most: the whole seed stays a few dozen tiles.
SEED_LEVELS = "seeds:\n  __all__:\n    levels:\n      to: 2\n"
WEBMERCATOR = resolve_grids({})["GLOBAL_WEBMERCATOR"]


def autoconfig(cwd: Path, *args: str) -> Any:
    return run_command(cwd, "tilegate", "autoconfig", *args)


def read(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def get(app: Any, path: str, query: str = "") -> tuple[int, dict[str, str], bytes]:
    return call(app, path, query)


def same_pixels(data: bytes, bbox: Bbox, size: tuple[int, int]) -> bool:
    """The image is exactly the map server's (transparent) drawing of bbox in EPSG:3857."""
    got = Image.open(io.BytesIO(data)).convert("RGBA")
    expected = render(bbox.as_tuple(), size, "EPSG:3857", True).convert("RGBA")
    return got.size == size and ImageChops.difference(got, expected).getbbox() is None


def getmap_query(layer: str, bbox: Bbox, size: tuple[int, int]) -> str:
    return (
        "SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&STYLES=&FORMAT=image/png&TRANSPARENT=true"
        f"&LAYERS={layer}&SRS=EPSG:3857&BBOX={','.join(map(repr, bbox.as_tuple()))}"
        f"&WIDTH={size[0]}&HEIGHT={size[1]}"
    )


def test_live_wms_gives_a_config_that_serves_tiles_maps_and_seeds(
    tmp_path: Path, upstream: MapServer
) -> None:
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "seed-overwrite.yaml").write_text(SEED_LEVELS)
    result = autoconfig(
        tmp_path,
        "--capabilities",
        f"{upstream.url}/service",
        "--output",
        "mapproxy.yaml",
        "--output-seed",
        "seed.yaml",
        "--base",
        "base.yaml",
        "--overwrite-seed",
        "seed-overwrite.yaml",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    conf = read(tmp_path / "mapproxy.yaml")

    # the layer tree as the capabilities have it: an unnamed root, a named group
    [root] = conf["layers"]
    assert root["title"] == "Test map server"
    assert "name" not in root
    assert "sources" not in root
    base, overlays = root["layers"]
    assert (base["name"], base["sources"]) == ("base", ["base_cache"])
    assert (overlays["name"], overlays["sources"]) == ("overlays", ["overlays_cache"])
    assert [(c["name"], c["title"], c["sources"]) for c in overlays["layers"]] == [
        ("roads", "Roads", ["roads_cache"]),
        ("places", "Places & <names>", ["places_cache"]),
    ]
    # a source per named layer, at the GetMap URL the capabilities give
    assert sorted(conf["sources"]) == [
        "base_wms",
        "overlays_wms",
        "places_wms",
        "roads_wms",
    ]
    roads = conf["sources"]["roads_wms"]
    assert roads["type"] == "wms"
    assert roads["req"] == {
        "url": f"{upstream.url}/service?",
        "layers": "roads",
        "transparent": True,
    }
    assert roads["supported_srs"] == ["EPSG:3857", "EPSG:4326", "EPSG:900913"]
    assert roads["supported_formats"] == ["image/png", "image/jpeg", "image/gif"]
    assert roads["coverage"] == {"srs": "EPSG:4326", "bbox": [5.0, 45.0, 15.0, 55.0]}
    assert conf["sources"]["base_wms"]["wms_opts"] == {"featureinfo": True}
    assert "wms_opts" not in roads
    # caches only for the base file's own grids in the source's SRS (no UTM: not offered)
    assert conf["caches"]["roads_cache"] == {
        "grids": ["webmercator"],
        "sources": ["roads_wms"],
    }
    assert conf["base"] == str((tmp_path / "base.yaml").resolve())
    assert conf["services"]["wms"]["md"]["title"] == "Tilegate test map server"

    loaded = load_config(tmp_path / "mapproxy.yaml")
    assert loaded.warnings == ()
    assert set(loaded.conf.caches) == {
        "base_cache",
        "overlays_cache",
        "places_cache",
        "roads_cache",
    }

    upstream.reset()
    app = make_wsgi_app(tmp_path / "mapproxy.yaml")
    coord = TileCoord(2, 1, 2)
    status, headers, body = get(app, "/wmts/base/webmercator/2/2/1.png")
    assert status == 200, body
    assert headers["Content-Type"] == "image/png"
    assert same_pixels(body, WEBMERCATOR.tile_bbox(coord), (256, 256))
    getmaps = [r for r in upstream.requests if r.params.get("REQUEST") == "GetMap"]
    assert getmaps
    assert all(r.params["LAYERS"] == "base" for r in getmaps)

    # a WMS GetMap inside the roads layer's extent: the map server's pixels, through its cache
    bbox = transform_bbox(Bbox(6, 46, 14, 54), srs("EPSG:4326"), srs("EPSG:3857"))
    status, headers, body = get(
        app, "/service", getmap_query("roads", bbox, (200, 200))
    )
    assert status == 200, body
    assert headers["Content-Type"] == "image/png"
    assert same_pixels(body, bbox, (200, 200))
    assert any(r.params.get("LAYERS") == "roads" for r in upstream.requests)

    upstream.reset()
    seeded = run_command(
        tmp_path, "tilegate", "seed", "-f", "mapproxy.yaml", "seed.yaml", "--dry-run"
    )
    assert seeded.returncode == 0, seeded.stderr
    assert (
        "[seed roads_cache_webmercator] cache roads_cache, grid webmercator, levels 0-2, "
        "full grid, missing tiles\n  dry run: would check 21 tiles" in seeded.stdout
    )
    assert "[cleanup base_cache_webmercator] cache base_cache" in seeded.stdout
    assert upstream.requests == []
    seed = read(tmp_path / "seed.yaml")
    assert seed["seeds"]["roads_cache_webmercator"] == {
        "caches": ["roads_cache"],
        "grids": ["webmercator"],
        "levels": {"to": 2},
    }
    assert seed["cleanups"]["roads_cache_webmercator"]["remove_before"] == {
        "time": "1900-01-01T00:00:00"
    }


def test_capabilities_file_without_base_gives_direct_sources(
    tmp_path: Path, upstream: MapServer
) -> None:
    url = f"{upstream.url}/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0"
    with urllib.request.urlopen(url, timeout=10) as response:
        (tmp_path / "caps.xml").write_bytes(response.read())
    result = autoconfig(
        tmp_path, "--capabilities", "caps.xml", "--output", "mapproxy.yaml"
    )
    assert result.returncode == 0, result.stderr
    conf = read(tmp_path / "mapproxy.yaml")
    assert conf["caches"] == {}
    assert "base" not in conf
    roads = conf["sources"]["roads_wms"]
    assert roads["wms_opts"] == {"version": "1.3.0"}
    # 1.3.0 documents write EPSG:4326 latitude first; the coverage is east/north
    assert roads["coverage"]["bbox"] == [5.0, 45.0, 15.0, 55.0]
    assert conf["layers"][0]["layers"][1]["layers"][0]["sources"] == ["roads_wms"]
    assert load_config(tmp_path / "mapproxy.yaml").warnings == ()

    upstream.reset()
    app = make_wsgi_app(tmp_path / "mapproxy.yaml")
    bbox = transform_bbox(Bbox(6, 46, 14, 54), srs("EPSG:4326"), srs("EPSG:3857"))
    status, _, body = get(app, "/service", getmap_query("roads", bbox, (120, 100)))
    assert status == 200, body
    assert same_pixels(body, bbox, (120, 100))
    [getmap] = [r for r in upstream.requests if r.params.get("REQUEST") == "GetMap"]
    assert (getmap.path, getmap.params["VERSION"]) == ("/wms", "1.3.0")


def test_overwrite_files_apply_mapproxys_special_keys(
    tmp_path: Path, upstream: MapServer
) -> None:
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "overwrite.yaml").write_text(
        """\
sources:
  __all__:
    req:
      sessionid: 42
  roads_wms:
    supported_srs__extend__: ['EPSG:25832']
    req:
      layers: roads,places
  ___wms:
    http:
      client_timeout: 5
caches:
  overlays___:
    meta_size: [2, 2]
layers:
  places:
    title: Named places
  __all__:
    md:
      abstract: made by autoconfig
globals:
  image:
    resampling_method: nearest
"""
    )
    (tmp_path / "seed-overwrite.yaml").write_text(
        "seeds:\n  ___utm32:\n    levels:\n      to: 1\n  roads____:\n    refresh_before:\n      days: 5\n"
    )
    result = autoconfig(
        tmp_path,
        "--capabilities",
        f"{upstream.url}/service",
        "--base",
        "base.yaml",
        "--overwrite",
        "overwrite.yaml",
        "--overwrite-seed",
        "seed-overwrite.yaml",
        "--output-seed",
        "seed.yaml",
    )
    assert result.returncode == 0, result.stderr
    conf = yaml.safe_load(result.stdout)  # --output defaults to standard output
    roads = conf["sources"]["roads_wms"]
    assert roads["req"]["layers"] == "roads,places"
    assert roads["req"]["sessionid"] == 42
    assert roads["http"] == {"client_timeout": 5}
    assert conf["sources"]["base_wms"]["req"]["sessionid"] == 42
    assert roads["supported_srs"][-1] == "EPSG:25832"
    # the extended SRS list decides the caches: roads also gets one in the UTM grid
    assert conf["caches"]["roads_cache"]["grids"] == ["webmercator", "utm32"]
    assert conf["caches"]["base_cache"]["grids"] == ["webmercator"]
    assert conf["caches"]["overlays_cache"]["meta_size"] == [2, 2]
    assert "meta_size" not in conf["caches"]["roads_cache"]
    places = conf["layers"][0]["layers"][1]["layers"][1]
    assert places["title"] == "Named places"
    assert places["md"] == {"abstract": "made by autoconfig"}
    assert "md" not in conf["layers"][0]  # the unnamed root is no named layer
    assert conf["globals"] == {"image": {"resampling_method": "nearest"}}
    seed = read(tmp_path / "seed.yaml")
    assert seed["seeds"]["roads_cache_utm32"]["levels"] == {"to": 1}
    assert seed["seeds"]["roads_cache_utm32"]["refresh_before"] == {"days": 5}
    assert "levels" not in seed["seeds"]["roads_cache_webmercator"]
    assert "refresh_before" not in seed["seeds"]["base_cache_webmercator"]
    (tmp_path / "mapproxy.yaml").write_text(result.stdout)
    assert load_config(tmp_path / "mapproxy.yaml").warnings == ()


def in_process(
    cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, *args: str
) -> tuple[int, str, str]:
    """The command's own main() in cwd (many cases, no process start each): code, stdout, stderr."""
    monkeypatch.chdir(cwd)
    code = main(["autoconfig", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_installed_command_answers_bad_input_with_one_line(
    tmp_path: Path, upstream: MapServer
) -> None:
    port = free_port()
    result = autoconfig(tmp_path, "--capabilities", f"http://127.0.0.1:{port}/wms")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"tilegate autoconfig: cannot connect to http://127.0.0.1:{port}/wms\n"
    )
    (tmp_path / "mapproxy.yaml").write_text("# mine\n")
    result = autoconfig(
        tmp_path, "--capabilities", f"{upstream.url}/wms", "--output", "mapproxy.yaml"
    )
    assert result.returncode == 2
    assert result.stderr == (
        "tilegate autoconfig: mapproxy.yaml already exists, use --force to replace it\n"
    )
    assert (tmp_path / "mapproxy.yaml").read_text() == "# mine\n"


@pytest.mark.parametrize(
    ("capabilities", "message"),
    [
        ("{url}/wms?fault=html", "not a WMS capabilities document (root element html)"),
        ("{url}/wms?fault=garbage", "no XML document"),
        ("{url}/wms?fault=exception", "exception: injected failure"),
        ("{url}/wms?status=404", "HTTP 404"),
        ("{url}/wms?fault=entities", "entities"),
        ("missing.xml", "cannot read missing.xml"),
        ("notcaps.xml", "not a WMS capabilities document"),
        ("empty.xml", "no XML document"),
    ],
)
def test_bad_capabilities_are_one_error_line(
    tmp_path: Path,
    upstream: MapServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    capabilities: str,
    message: str,
) -> None:
    (tmp_path / "notcaps.xml").write_text("<html><body>hello</body></html>")
    (tmp_path / "empty.xml").write_text("")
    code, out, err = in_process(
        tmp_path,
        monkeypatch,
        capsys,
        "--capabilities",
        capabilities.format(url=upstream.url),
        "--output",
        "mapproxy.yaml",
    )
    assert (code, out) == (1, "")
    [line] = err.splitlines()
    assert line.startswith("tilegate autoconfig: ")
    assert message in line
    assert not (tmp_path / "mapproxy.yaml").exists()


def test_existing_output_needs_force(
    tmp_path: Path, upstream: MapServer, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    for name in ("mapproxy.yaml", "seed.yaml"):
        (tmp_path / name).write_text("# mine\n")
    args = ("--capabilities", f"{upstream.url}/wms", "--output", "mapproxy.yaml")
    for extra in ((), ("--output-seed", "seed.yaml")):
        code, _, err = in_process(tmp_path, monkeypatch, capsys, *args, *extra)
        assert code == 2
        assert err == (
            "tilegate autoconfig: mapproxy.yaml already exists, use --force to replace it\n"
        )
    code, out, err = in_process(
        tmp_path, monkeypatch, capsys, *args[:2], "--output-seed", "seed.yaml"
    )
    assert (code, out) == (2, "")
    assert "seed.yaml already exists" in err
    code, _, err = in_process(
        tmp_path,
        monkeypatch,
        capsys,
        *args,
        "--output-seed",
        "mapproxy.yaml",
        "--force",
    )
    assert code == 2
    assert "name the same file" in err
    assert (tmp_path / "mapproxy.yaml").read_text() == "# mine\n"
    assert (tmp_path / "seed.yaml").read_text() == "# mine\n"

    code, _, err = in_process(
        tmp_path, monkeypatch, capsys, *args, "--output-seed", "seed.yaml", "--force"
    )
    assert code == 0, err
    assert "roads_wms" in read(tmp_path / "mapproxy.yaml")["sources"]
    # no grids of a --base: no caches, and so nothing to seed
    assert read(tmp_path / "seed.yaml") == {"seeds": {}, "cleanups": {}}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"--overwrite": "sources: [\n"}, "invalid YAML"),
        ({"--overwrite": "- a list\n"}, "expected a mapping"),
        (
            {"--overwrite": "sources:\n  roads_wms:\n    type__extend__: [x]\n"},
            "type__extend__ extends lists only",
        ),
        ({"--overwrite": "layers:\n  nosuch:\n    title: x\n"}, "nosuch"),
        (
            {"--overwrite": "sources: 3\n"},
            "sources in an overwrite file must be a mapping",
        ),
        ({"--overwrite-seed": "- x\n"}, "expected a mapping"),
        ({"--base": "grids:\n  g:\n    srs: 'EPSG:999999'\n"}, "EPSG:999999"),
        ({"--base": "grids: [\n"}, "invalid YAML"),
        ({"--base-missing": ""}, "file not found"),
    ],
)
def test_bad_overwrite_or_base_files_are_one_error_line(
    tmp_path: Path,
    upstream: MapServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    files: dict[str, str],
    message: str,
) -> None:
    args: list[str] = []
    for option, text in files.items():
        if option.endswith("-missing"):
            args += [option.removesuffix("-missing"), "nosuch.yaml"]
            continue
        (tmp_path / "given.yaml").write_text(text)
        args += [option, "given.yaml"]
    code, _, err = in_process(
        tmp_path,
        monkeypatch,
        capsys,
        "--capabilities",
        f"{upstream.url}/wms",
        "--output",
        "out.yaml",
        *args,
    )
    assert code == 1
    [line] = err.splitlines()
    assert line.startswith("tilegate autoconfig: ")
    assert message in line
    assert not (tmp_path / "out.yaml").exists()


def test_mapproxy_util_runs_autoconfig(tmp_path: Path, upstream: MapServer) -> None:
    result = run_command(
        tmp_path, "mapproxy-util", "autoconfig", "--capabilities", f"{upstream.url}/wms"
    )
    assert result.returncode == 0, result.stderr
    assert sorted(yaml.safe_load(result.stdout)["sources"]) == [
        "base_wms",
        "overlays_wms",
        "places_wms",
        "roads_wms",
    ]


HINTS_111 = """<?xml version="1.0"?>
<WMT_MS_Capabilities version="1.1.1"><Service><Title>Hints</Title></Service><Capability>
<Request><GetMap><Format>image/png</Format><Format>image/svg+xml</Format><DCPType><HTTP><Get>
<OnlineResource xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="http://example.org/wms?map=x&amp;"/>
</Get></HTTP></DCPType></GetMap></Request>
<Layer><Title>Root</Title><SRS>EPSG:4326</SRS><SRS>EPSG:31467</SRS><SRS>EPSG:99999999</SRS>
<ScaleHint min="0.5" max="1000"/>
<Layer queryable="1" opaque="1"><Name>streets</Name><Title>Streets</Title><Abstract>All streets</Abstract>
<Style><Name>default</Name><LegendURL><Format>image/png</Format>
<OnlineResource xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="http://example.org/legend.png"/>
</LegendURL></Style></Layer>
<Layer><Name>parcels</Name><Title>Parcels</Title><ScaleHint min="0" max="10"/></Layer>
</Layer></Capability></WMT_MS_Capabilities>
"""


def test_legends_scale_hints_and_opaque_layers_reach_the_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    (tmp_path / "caps.xml").write_text(HINTS_111)
    v13 = (
        HINTS_111.replace("WMT_MS_Capabilities", "WMS_Capabilities")
        .replace('version="1.1.1"', 'version="1.3.0"')
        .replace("SRS>", "CRS>")
        .replace('<ScaleHint min="0.5" max="1000"/>', "")
        .replace(
            '<ScaleHint min="0" max="10"/>',
            "<MinScaleDenominator>500</MinScaleDenominator>"
            "<MaxScaleDenominator>25000</MaxScaleDenominator>",
        )
    )
    (tmp_path / "caps13.xml").write_text(v13)
    code, out, err = in_process(
        tmp_path, monkeypatch, capsys, "--capabilities", "caps.xml"
    )
    assert code == 0, err
    sources = yaml.safe_load(out)["sources"]
    streets, parcels = sources["streets_wms"], sources["parcels_wms"]
    # ScaleHints are pixel diagonals; the parent's hint is inherited
    assert streets["min_res"] == pytest.approx(1000 / 2**0.5)
    assert streets["max_res"] == pytest.approx(0.5 / 2**0.5)
    assert parcels["min_res"] == pytest.approx(10 / 2**0.5)
    assert "max_res" not in parcels
    assert streets["wms_opts"] == {
        "featureinfo": True,
        "legendurl": "http://example.org/legend.png",
    }
    assert "transparent" not in streets["req"]  # an opaque layer
    assert parcels["req"]["transparent"] is True
    assert parcels["req"]["url"] == "http://example.org/wms?map=x&"
    # unknown SRS codes and formats Tilegate cannot read are left out
    assert parcels["supported_srs"] == ["EPSG:31467", "EPSG:4326"]
    assert parcels["supported_formats"] == ["image/png"]
    (tmp_path / "mapproxy.yaml").write_text(out)
    assert load_config(tmp_path / "mapproxy.yaml").warnings == ()

    code, out, err = in_process(
        tmp_path, monkeypatch, capsys, "--capabilities", "caps13.xml"
    )
    assert code == 0, err
    sources = yaml.safe_load(out)["sources"]
    assert sources["parcels_wms"]["min_scale"] == 500
    assert sources["parcels_wms"]["max_scale"] == 25000
    assert "min_res" not in sources["streets_wms"]
    assert "min_scale" not in sources["streets_wms"]
    (tmp_path / "mapproxy.yaml").write_text(out)
    assert load_config(tmp_path / "mapproxy.yaml").warnings == ()


def test_overwriting_one_layer_keeps_the_rest_of_the_tree(
    tmp_path: Path, upstream: MapServer, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    (tmp_path / "overwrite.yaml").write_text(
        "layers:\n  roads:\n    title: Roads and labels\n"
    )
    args = ("--capabilities", f"{upstream.url}/wms")
    code, plain, err = in_process(tmp_path, monkeypatch, capsys, *args)
    assert code == 0, err
    code, out, err = in_process(
        tmp_path, monkeypatch, capsys, *args, "--overwrite", "overwrite.yaml"
    )
    assert code == 0, err
    expected = yaml.safe_load(plain)["layers"]
    expected[0]["layers"][1]["layers"][0]["title"] = "Roads and labels"
    assert yaml.safe_load(out)["layers"] == expected
