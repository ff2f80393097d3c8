"""Source options against the real map server: tagged sources, on_error, forward_req_params,
image.transparent_color."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, cast

import pytest
from PIL import Image

from adapters.config import parse_config
from domain.errors import ConfigError, SourceError
from domain.grid import TileCoord, TileRange
from domain.seeding import seed_meta_tile
from domain.tiles import TileSet, get_tile
from entrypoints.bootstrap import bootstrap, read_tile
from tests.integration.test_app import make_app
from tests.integration.test_wms_service import getmap
from tests.mapserver import MapServer

TILE = TileCoord(0, 0, 1)


def wms(server: MapServer, layers: str | None = "a,b,c", **more: Any) -> dict[str, Any]:
    req: dict[str, Any] = {"url": f"{server.url}/service"}
    if layers is not None:
        req["layers"] = layers
    return {"type": "wms", "req": req, **more}


def config(
    sources: dict[str, Any], cache_sources: list[str], **cache: Any
) -> dict[str, Any]:
    return {
        "services": {"wms": {}},
        "layers": [{"name": "cached", "title": "Cached", "sources": ["c"]}],
        "caches": {
            "c": {
                "grids": ["GLOBAL_WEBMERCATOR"],
                "sources": cache_sources,
                "meta_size": [1, 1],
                "meta_buffer": 0,
                **cache,
            }
        },
        "sources": sources,
    }


def tileset(tmp_path: Path, conf: dict[str, Any]) -> TileSet:
    path = tmp_path / "mapproxy.yaml"
    return bootstrap(parse_config(conf, str(path)), path).caches["c"][0]


def pixels(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGBA")


def px(img: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    return cast(tuple[int, ...], img.getpixel(xy))


def tile_image(tiles: TileSet, coord: TileCoord = TILE) -> Image.Image:
    return pixels(read_tile(get_tile(coord, tiles)))


def problems(conf: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(conf, "t.yaml")
    return info.value.problems


# -- tagged sources


def test_tagged_source_asks_for_its_layers_in_caches_and_layers(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = config({"w": wms(map_server)}, ["w:b,c"])
    conf["layers"].append({"name": "direct", "title": "D", "sources": ["w:a"]})
    tiles = tileset(tmp_path, conf)
    get_tile(TILE, tiles)
    (sent,) = map_server.requests
    assert sent.params["LAYERS"] == "b,c"
    map_server.reset()
    status, _, _ = getmap(make_app(tmp_path, conf), layers="direct")
    assert status == 200
    (sent,) = map_server.requests
    assert sent.params["LAYERS"] == "a"


def test_source_without_req_layers_serves_tagged(
    tmp_path: Path, map_server: MapServer
) -> None:
    get_tile(TILE, tileset(tmp_path, config({"w": wms(map_server, None)}, ["w:x"])))
    assert map_server.requests[0].params["LAYERS"] == "x"


def test_bad_tagged_sources_are_config_errors(map_server: MapServer) -> None:
    tile = {"type": "tile", "url": f"{map_server.url}/tiles/%(z)s/%(x)s/%(y)s.png"}
    assert problems(config({"w": wms(map_server), "t": tile}, ["t:a", "w:a,x"])) == [
        "tagged sources (t:a) are only supported for wms, mapserver and mapnik sources @ $.caches['c'].sources[0]",
        "layers (x) not in req.layers of source 'w' (a,b,c) @ $.caches['c'].sources[1]",
    ]
    # As MapProxy: a WMS source without req.layers is a warning, not an error.
    loaded = parse_config(config({"w": wms(map_server, None)}, ["w"]), "t.yaml")
    assert loaded.warnings == (
        "source 'w' has no req.layers: its maps name no layer unless it is used as"
        " w:layer1,layer2 @ $.sources['w'].req",
    )
    conf = config({"w": wms(map_server)}, ["w"])
    conf["layers"][0]["sources"] = ["nowhere:a"]
    assert problems(conf) == [
        "unknown source or cache 'nowhere' @ $.layers[0].sources[0]"
    ]


# -- on_error


def test_on_error_colour_tile_is_served_and_not_stored(
    tmp_path: Path, map_server: MapServer
) -> None:
    source = wms(map_server, on_error={404: {"response": "#ff0000"}})
    tiles = tileset(tmp_path, config({"w": source}, ["w"]))
    map_server.add_fault(status=404)
    img = tile_image(tiles)
    assert px(img, (10, 10)) == (255, 0, 0, 255)
    assert tiles.cache.load(TILE) is None
    tile_image(tiles)
    assert len(map_server.requests) == 2  # asked again: nothing was stored


@pytest.mark.parametrize(
    "options",
    [
        {"supported_srs": ["EPSG:4326"]},
        {"coverage": {"bbox": [0, 0, 90, 45], "srs": "EPSG:4326", "clip": True}},
    ],
)
def test_on_error_tile_warped_or_clipped_is_still_not_stored(
    tmp_path: Path, map_server: MapServer, options: dict[str, Any]
) -> None:
    source = wms(map_server, on_error={404: {"response": "#ff0000"}}, **options)
    tiles = tileset(tmp_path, config({"w": source}, ["w"]))
    map_server.add_fault(status=404)
    img = tile_image(tiles, TileCoord(1, 0, 1))  # north-east quarter
    assert px(img, (60, 250)) == (255, 0, 0, 255)
    assert tiles.cache.load(TileCoord(1, 0, 1)) is None


def test_on_error_with_cache_stores_the_tile(
    tmp_path: Path, map_server: MapServer
) -> None:
    tile = {
        "type": "tile",
        "url": f"{map_server.url}/tiles/%(z)s/%(x)s/%(y)s.png",
        "grid": "GLOBAL_WEBMERCATOR",
        "on_error": {"other": {"response": "transparent", "cache": True}},
    }
    tiles = tileset(tmp_path, config({"t": tile}, ["t"]))
    map_server.add_fault(status=503)
    img = tile_image(tiles)
    assert px(img, (10, 10))[3] == 0
    assert tiles.cache.load(TILE) is not None
    tile_image(tiles)
    assert len(map_server.requests) == 1


def test_other_covers_no_answer_at_all(tmp_path: Path, map_server: MapServer) -> None:
    source = wms(map_server, on_error={"other": {"response": [0, 0, 255]}})
    tiles = tileset(tmp_path, config({"w": source}, ["w"]))
    map_server.add_fault("drop")
    assert px(tile_image(tiles), (0, 0)) == (0, 0, 255, 255)


def test_status_without_on_error_entry_fails(
    tmp_path: Path, map_server: MapServer
) -> None:
    source = wms(map_server, on_error={404: {"response": "transparent"}})
    tiles = tileset(tmp_path, config({"w": source}, ["w"]))
    map_server.add_fault(status=500)
    with pytest.raises(SourceError, match="HTTP 500"):
        get_tile(TILE, tiles)
    assert tiles.cache.load(TILE) is None


@pytest.mark.parametrize("authorize_stale", [True, False])
def test_authorize_stale_keeps_the_stored_tile_on_refresh(
    tmp_path: Path, map_server: MapServer, authorize_stale: bool
) -> None:
    entry = {"response": "#00ff00", "cache": True, "authorize_stale": authorize_stale}
    tiles = tileset(
        tmp_path, config({"w": wms(map_server, on_error={503: entry})}, ["w"])
    )
    good = read_tile(get_tile(TILE, tiles))
    map_server.add_fault(status=503)
    # a seed refresh remakes every tile older than now
    meta = TileRange(TILE.x, TILE.y, TILE.x, TILE.y, TILE.z)
    assert seed_meta_tile(meta, tiles, refresh_before=2e9)
    kept = read_tile(get_tile(TILE, tiles))
    if authorize_stale:
        assert kept == good
    else:
        assert px(pixels(kept), (5, 5)) == (0, 255, 0, 255)
    assert len(map_server.requests) == 2


def test_on_error_overrides_the_gateway_error_of_a_wms_layer(
    tmp_path: Path, map_server: MapServer
) -> None:
    source = wms(map_server, on_error={502: {"response": "#336699"}})
    conf = config({"w": source}, ["w"])
    conf["layers"] = [{"name": "direct", "title": "D", "sources": ["w"]}]
    app = make_app(tmp_path, conf)
    map_server.add_fault(status=502)
    status, headers, body = getmap(app, layers="direct", transparent="true")
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert px(pixels(body), (200, 100)) == (0x33, 0x66, 0x99, 255)


def test_bad_on_error_is_a_config_error(map_server: MapServer) -> None:
    conf = config({"w": wms(map_server, on_error={404: {"response": "#12"}})}, ["w"])
    assert problems(conf) == [
        "response: expected a colour #rrggbb, got '#12' @ $.sources['w'].on_error[404]"
    ]
    conf = config(
        {"w": wms(map_server, on_error={"sometimes": {"cache": True}})}, ["w"]
    )
    assert problems(conf) == [
        "on_error keys must be HTTP status codes or 'other', got 'sometimes' @ $.sources['w']"
    ]


# -- forward_req_params


def test_forward_req_params_go_to_uncached_sources_only(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = config({"w": wms(map_server, forward_req_params=["key", "ENV"])}, ["w"])
    conf["layers"].append({"name": "direct", "title": "D", "sources": ["w"]})
    app = make_app(tmp_path, conf)
    status, _, _ = getmap(app, layers="direct", KEY="s3cret", env="x:1", other="no")
    assert status == 200
    (sent,) = map_server.requests
    assert "key=s3cret" in sent.query
    assert "ENV=x:1" in sent.query
    assert "OTHER" not in sent.params
    map_server.reset()
    status, _, _ = getmap(app, layers="cached", key="s3cret")
    assert status == 200
    assert map_server.requests
    assert all("KEY" not in r.params for r in map_server.requests)


# -- image.transparent_color


def test_transparent_color_within_tolerance(
    tmp_path: Path, map_server: MapServer
) -> None:
    image = {"transparent_color": "#808080", "transparent_color_tolerance": 4}
    tiles = tileset(tmp_path, config({"w": wms(map_server, image=image)}, ["w"]))
    # level 0: red is the column, green 255 - the row, blue 128 everywhere
    img = tile_image(tiles, TileCoord(0, 0, 0))
    alpha = img.getchannel("A")
    assert alpha.histogram()[0] == 9 * 9
    assert px(img, (128, 127))[3] == 0
    assert px(img, (124, 131))[3] == 0
    assert px(img, (123, 127)) == (123, 128, 128, 255)
    assert px(img, (0, 0)) == (0, 255, 128, 255)


def test_bad_transparent_color_is_a_config_error(map_server: MapServer) -> None:
    image: dict[str, object] = {"transparent_color": [1, 2]}
    assert problems(config({"w": wms(map_server, image=image)}, ["w"])) == [
        "transparent_color: expected 3 or 4 numbers 0 to 255, got [1, 2] @ $.sources['w'].image"
    ]
    image = {"transparent_color": "#ffffff", "transparent_color_tolerance": -1}
    assert problems(config({"w": wms(map_server, image=image)}, ["w"])) == [
        "transparent_color_tolerance must not be negative, got -1.0 @ $.sources['w'].image"
    ]
