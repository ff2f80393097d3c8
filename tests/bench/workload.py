"""What the benchmark asks for: the configuration both servers read and the tiles it requests.

Tiles are named in grid coordinates of GLOBAL_WEBMERCATOR: level `z` has 2**z x 2**z tiles and
`y` counts rows from the bottom (as TMS does). The URLs translate them per service: MapProxy's
TMS shows the global-mercator profile, whose level 0 is the grid's level 1 (2 x 2 tiles), and
WMTS counts rows from the top.
"""

from __future__ import annotations

import random

import attrs

LAYER = "bench"
WMS_SRS = ("EPSG:3857", "EPSG:4326", "EPSG:25832")
META_SIZE = 4
META_BUFFER = 80

# Written byte for byte the same next to each server; relative paths resolve against the
# configuration's directory in MapProxy and Tilegate alike, so each gets its own cache. The
# `tms` layout (z/x/y, rows from the top in this grid) is what nginx's fast path needs. The WMS
# serves the cache's SRS and two it reprojects to (the WMS scenario asks for each).
CONFIG_TEMPLATE = """\
services:
  demo:
  tms:
  wmts:
  wms:
    srs: [{srs}]

layers:
  - name: {layer}
    title: Benchmark layer
    sources: [bench_cache]

caches:
  bench_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [bench_wms]
    meta_size: [{meta_size}, {meta_size}]
    meta_buffer: {meta_buffer}
    cache:
      type: file
      directory_layout: tms

sources:
  bench_wms:
    type: wms
    req:
      url: {upstream}/service
      layers: base

globals:
  cache:
    base_dir: ./cache_data
    lock_dir: ./cache_data/locks
"""


def mapproxy_yaml(upstream: str) -> str:
    return CONFIG_TEMPLATE.format(
        layer=LAYER,
        meta_size=META_SIZE,
        meta_buffer=META_BUFFER,
        upstream=upstream,
        srs=", ".join(f"'{s}'" for s in WMS_SRS),
    )


@attrs.frozen
class Tile:
    """A tile in grid coordinates (rows from the bottom)."""

    z: int
    x: int
    y: int

    @property
    def meta(self) -> tuple[int, int, int]:
        return (self.z, self.x // META_SIZE, self.y // META_SIZE)

    def tms_path(self) -> str:
        return f"/tms/1.0.0/{LAYER}/EPSG3857/{self.z - 1}/{self.x}/{self.y}.png"

    def wmts_path(self) -> str:
        return f"/wmts/{LAYER}/GLOBAL_WEBMERCATOR/{self.z}/{self.x}/{(1 << self.z) - 1 - self.y}.png"

    def path(self, service: str) -> str:
        return self.tms_path() if service == "tms" else self.wmts_path()


def block(z: int, x0: int, y0: int, width: int, height: int) -> list[Tile]:
    return [
        Tile(z, x, y) for y in range(y0, y0 + height) for x in range(x0, x0 + width)
    ]


def cached_tiles() -> list[Tile]:
    """320 distinct tiles over 20 meta-tiles on two levels, in a fixed shuffled order."""
    tiles = block(6, 24, 28, 16, 12) + block(8, 128, 100, 16, 8)
    random.Random(6).shuffle(tiles)  # noqa: S311 -- a fixed order, not a secret
    return tiles


def miss_tiles(round_no: int, metas: int) -> list[Tile]:
    """All tiles of `metas` meta-tiles on level 12 that no earlier round asked for, shuffled so
    that concurrent clients ask for tiles of the same meta-tile at the same time."""
    tiles: list[Tile] = []
    y0 = 1600 + META_SIZE * 3 * round_no
    for i in range(metas):
        x0 = 2000 + META_SIZE * 3 * i  # two meta-tiles apart: no shared neighbours
        tiles += block(12, x0, y0, META_SIZE, META_SIZE)
    random.Random(round_no).shuffle(tiles)  # noqa: S311 -- a fixed order, not a secret
    return tiles
