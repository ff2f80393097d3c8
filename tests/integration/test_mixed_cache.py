"""`format: mixed` caches: PNG where a tile has transparency, JPEG where it is opaque, in every
cache type, each tile answered with its real Content-Type; file names as MapProxy 7 writes them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.config import parse_config
from domain.errors import ConfigError
from domain.formats import PNG
from domain.grid import TileCoord
from entrypoints.app import TilegateApp
from entrypoints.bootstrap import read_tile
from tests.integration.test_app import get, make_app
from tests.integration.test_file_cache import MAPPROXY_SEED
from tests.mapserver import MapServer

PNG_MAGIC, JPEG_MAGIC = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"
BACKENDS = {
    "file": {"type": "file"},
    "mbtiles": {"type": "mbtiles"},
    "sqlite": {"type": "sqlite"},
    "geopackage": {"type": "geopackage"},
}
# Level 2 tiles of GLOBAL_WEBMERCATOR (rows from the top) against the source's coverage:
# wholly outside (blank), across its edge (partly transparent), wholly inside (opaque).
OUTSIDE, ACROSS, INSIDE = TileCoord(0, 3, 2), TileCoord(1, 2, 2), TileCoord(2, 1, 2)


def conf(server: MapServer) -> dict[str, Any]:
    return {
        "services": {"tms": None, "wmts": None, "kml": None},
        "globals": {"cache": {"meta_size": [1, 1], "meta_buffer": 0}},
        "layers": [
            {"name": kind, "title": kind, "sources": [f"c_{kind}"]} for kind in BACKENDS
        ],
        "caches": {
            f"c_{kind}": {
                "grids": ["GLOBAL_WEBMERCATOR"],
                "sources": ["w"],
                "format": "mixed",
                # MapProxy 7 insists on it; Tilegate asks for PNG without it too.
                "request_format": "image/png",
                "cache": backend,
            }
            for kind, backend in BACKENDS.items()
        },
        "sources": {
            "w": {
                "type": "wms",
                "req": {
                    "url": f"{server.url}/service",
                    "layers": "x",
                    "transparent": True,
                },
                "coverage": {
                    "bbox": [-5e6, -5e6, 2.1e7, 2.1e7],
                    "srs": "EPSG:3857",
                    "clip": True,
                },
            }
        },
    }


@pytest.fixture
def app(tmp_path: Path, map_server: MapServer) -> TilegateApp:
    return make_app(tmp_path, conf(map_server))


def tile_url(layer: str, coord: TileCoord, ext: str = "png") -> str:
    return f"/tiles/{layer}/EPSG3857/{coord.z}/{coord.x}/{coord.y}.{ext}"


@pytest.mark.parametrize("kind", list(BACKENDS))
@pytest.mark.parametrize(
    ("coord", "mime", "magic"),
    [
        (OUTSIDE, "image/png", PNG_MAGIC),
        (ACROSS, "image/png", PNG_MAGIC),
        (INSIDE, "image/jpeg", JPEG_MAGIC),
    ],
)
def test_tiles_are_stored_and_served_as_png_or_jpeg_by_their_transparency(
    app: TilegateApp, kind: str, coord: TileCoord, mime: str, magic: bytes
) -> None:
    status, headers, made = get(app, tile_url(kind, coord), "origin=nw")
    assert status == 200
    assert headers["Content-Type"] == mime
    assert made.startswith(magic)
    stored = app.state.caches[f"c_{kind}"][0].cache.load(coord)
    assert stored is not None
    assert read_tile(stored) == made
    # A hit is read back from the store with the same type.
    status, headers, hit = get(app, tile_url(kind, coord), "origin=nw")
    assert (status, headers["Content-Type"], hit) == (200, mime, made)


def test_file_cache_names_mixed_tiles_as_mapproxy(
    app: TilegateApp, tmp_path: Path
) -> None:
    for coord in (ACROSS, INSIDE):
        get(app, tile_url("file", coord), "origin=nw")
    root = tmp_path / "cache_data/c_file_EPSG3857"
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*.*"))
    assert names == [
        "02/000/000/001/000/000/002.mixed",
        "02/000/000/002/000/000/001.mixed",
    ]
    assert (root / names[0]).read_bytes().startswith(PNG_MAGIC)
    assert (root / names[1]).read_bytes().startswith(JPEG_MAGIC)


def test_services_offer_mixed_caches_as_png_and_answer_the_real_type(
    app: TilegateApp,
) -> None:
    _, _, tile_map = get(app, "/tms/1.0.0/file/EPSG3857")
    assert b'mime-type="image/png" extension="png"' in tile_map
    _, _, caps = get(app, "/wmts/1.0.0/WMTSCapabilities.xml")
    assert b"<Format>image/png</Format>" in caps
    assert b"mixed" not in caps
    for path, query in (
        ("/wmts/file/GLOBAL_WEBMERCATOR/2/2/1.png", ""),
        ("/kml/file/EPSG3857/2/2/1.png", "origin=nw"),
        (tile_url("file", INSIDE, "mixed"), "origin=nw"),
        (
            "/service",
            "SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=file&STYLE=default"
            "&FORMAT=image/png&TILEMATRIXSET=GLOBAL_WEBMERCATOR&TILEMATRIX=2"
            "&TILEROW=1&TILECOL=2",
        ),
    ):
        status, headers, body = get(app, path, query)
        assert (status, headers["Content-Type"]) == (200, "image/jpeg"), path
        assert body.startswith(JPEG_MAGIC)
    status, _, _ = get(app, tile_url("file", INSIDE, "jpeg"), "origin=nw")
    assert status == 404


@pytest.mark.skipif(
    not MAPPROXY_SEED.exists(), reason="MapProxy 7 is not installed here"
)
def test_tilegate_serves_a_mixed_file_cache_mapproxy_seeded(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = conf(map_server)
    config["caches"] = {"c_file": config["caches"]["c_file"]}
    config["layers"] = [config["layers"][0]]
    config["services"] = {"tms": None}
    (tmp_path / "mapproxy.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "seed.yaml").write_text(
        "seeds: {s: {caches: [c_file], levels: {from: 2, to: 2}}}\n"
    )
    subprocess.run(
        [MAPPROXY_SEED, "-f", "mapproxy.yaml", "-s", "seed.yaml", "-q"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    root = tmp_path / "cache_data/c_file_EPSG3857"
    seeded = sorted(p.relative_to(root) for p in root.rglob("*.mixed"))
    assert Path("02/000/000/002/000/000/001.mixed") in seeded
    asked = map_server.stats()["total"]
    app = make_app(tmp_path, config)
    for coord, mime in ((ACROSS, "image/png"), (INSIDE, "image/jpeg")):
        status, headers, body = get(app, tile_url("file", coord), "origin=nw")
        assert (status, headers["Content-Type"]) == (200, mime)
        path = root / f"02/000/000/00{coord.x}/000/000/00{coord.y}.mixed"
        assert body == path.read_bytes()
    # Served from MapProxy's files: the source was not asked again.
    assert map_server.stats()["total"] == asked


def test_without_request_format_sources_are_asked_for_png(
    tmp_path: Path, map_server: MapServer
) -> None:
    config = conf(map_server)
    del config["caches"]["c_file"]["request_format"]
    app = make_app(tmp_path, config)
    assert app.state.caches["c_file"][0].request_format == PNG
    status, headers, _ = get(app, tile_url("file", ACROSS), "origin=nw")
    assert (status, headers["Content-Type"]) == (200, "image/png")
    assert map_server.requests[-1].params["FORMAT"] == "image/png"


@pytest.mark.parametrize(
    ("cache", "problem"),
    [
        (
            {"format": "mixed", "request_format": "image/jpeg"},
            "request_format must be image/png when format is mixed"
            " @ $.caches['c'].request_format",
        ),
        (
            {"format": "image/bmp"},
            "unknown image format 'image/bmp' @ $.caches['c'].format",
        ),
        (
            {"request_format": "mixd"},
            "unknown image format 'mixd' @ $.caches['c'].request_format",
        ),
    ],
)
def test_bad_cache_formats_are_config_errors(
    cache: dict[str, object], problem: str
) -> None:
    raw = {
        "sources": {"d": {"type": "debug"}},
        "caches": {"c": {"sources": ["d"], **cache}},
    }
    with pytest.raises(ConfigError) as err:
        parse_config(raw, "mapproxy.yaml")
    assert err.value.problems == [problem]
