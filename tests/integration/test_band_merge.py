"""Band merging: a cache's channels made from bands of several sources of the real map server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain.grid import TileCoord
from domain.tiles import get_tile
from entrypoints.bootstrap import read_tile
from tests.integration.test_source_options import pixels, problems, px, tileset, wms
from tests.mapserver import MapServer

# Level 0 of GLOBAL_WEBMERCATOR, one 256 px tile: the map server's red is the column,
# green 255 - the row, blue 128.
WORLD = TileCoord(0, 0, 0)


def band_config(server: MapServer, sources: dict[str, Any]) -> dict[str, Any]:
    return {
        "caches": {
            "c": {
                "grids": ["GLOBAL_WEBMERCATOR"],
                "sources": sources,
                "meta_size": [1, 1],
                "meta_buffer": 0,
            }
        },
        "sources": {"one": wms(server, "one"), "two": wms(server, "two")},
        # full colour, so that pixels are exact
        "globals": {"image": {"paletted": False}},
    }


def test_channels_from_bands_of_two_sources(
    tmp_path: Path, map_server: MapServer
) -> None:
    sources = {
        "r": [{"source": "one", "band": 1}],
        "g": [{"source": "two", "band": 0}],
        "b": [{"source": "one", "band": 2, "factor": 0.5}],
    }
    tiles = tileset(tmp_path, band_config(map_server, sources))
    img = pixels(read_tile(get_tile(WORLD, tiles)))
    assert px(img, (10, 200)) == (55, 10, 64, 255)
    assert px(img, (250, 3)) == (252, 250, 64, 255)
    # one request per source, each for its own layer
    assert sorted(r.params["LAYERS"] for r in map_server.requests) == ["one", "two"]
    assert tiles.cache.load(WORLD) is not None


def test_grey_is_the_sum_of_weighted_bands(
    tmp_path: Path, map_server: MapServer
) -> None:
    sources = {
        "l": [
            {"source": "one", "band": 0, "factor": 0.5},
            {"source": "two", "band": 1, "factor": 0.25},
        ]
    }
    tiles = tileset(tmp_path, band_config(map_server, sources))
    img = pixels(read_tile(get_tile(WORLD, tiles)))
    # column 100, row 55: red 100, green 200 -> 50 + 50
    assert px(img, (100, 55)) == (100, 100, 100, 255)
    assert px(img, (255, 0)) == (127 + 63,) * 3 + (255,)


def test_an_entry_without_factor_replaces_the_channel(
    tmp_path: Path, map_server: MapServer
) -> None:
    # as MapProxy 7 (checked against it): r is two's red alone, not one's green plus it
    sources = {
        "r": [{"source": "one", "band": 1}, {"source": "two", "band": 0}],
        "g": [
            {"source": "two", "band": 0},
            {"source": "one", "band": 0, "factor": 0.5},
        ],
    }
    tiles = tileset(tmp_path, band_config(map_server, sources))
    img = pixels(read_tile(get_tile(WORLD, tiles)))
    assert px(img, (10, 200)) == (10, 15, 0, 255)
    assert px(img, (250, 3)) == (250, 255, 0, 255)


def test_alpha_channel_from_a_band(tmp_path: Path, map_server: MapServer) -> None:
    sources = {"g": [{"source": "one", "band": 2}], "a": [{"source": "two", "band": 0}]}
    tiles = tileset(tmp_path, band_config(map_server, sources))
    img = pixels(read_tile(get_tile(WORLD, tiles)))
    assert px(img, (40, 9)) == (0, 128, 0, 40)


@pytest.mark.parametrize(
    ("sources", "problem"),
    [
        (
            {"r": [{"source": "nowhere", "band": 0}]},
            "unknown source or cache 'nowhere' @ $.caches['c'].sources.r[0].source",
        ),
        (
            {"r": [{"source": "one", "band": 4}]},
            "band must be 0 to 3, got 4 @ $.caches['c'].sources.r[0]",
        ),
        (
            {"r": [{"source": "one"}]},
            "required field missing @ $.caches['c'].sources.r[0].band",
        ),
        (
            {"l": [{"source": "one", "band": 0}], "r": [{"source": "two", "band": 0}]},
            "band merging takes l (grey) or r, g, b, a, not both @ $.caches['c'].sources",
        ),
        ({"r": []}, "r needs at least one source band @ $.caches['c'].sources"),
        (
            {},
            "band merging needs at least one of r, g, b, a, l @ $.caches['c'].sources",
        ),
    ],
)
def test_bad_band_merging_is_a_config_error(
    map_server: MapServer, sources: dict[str, Any], problem: str
) -> None:
    assert problems(band_config(map_server, sources)) == [problem]


def test_unknown_channel_is_a_config_error(map_server: MapServer) -> None:
    sources = {"x": [{"source": "one", "band": 0}], "r": [{"source": "one", "band": 0}]}
    assert problems(band_config(map_server, sources)) == [
        "unknown band merging channel x, expected r, g, b, a or l @ $.caches['c'].sources"
    ]
