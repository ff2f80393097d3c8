"""A `type: tile` source: tiles of one grid fetched from a URL template."""

from __future__ import annotations

import math

import attrs

from adapters.http_client import HttpClient, image_from_response, split_credentials
from adapters.logs import get_logger, source_logger_name
from adapters.source_fallback import fetch
from domain.config import TileSourceConf
from domain.errors import ConfigValueError, SourceError
from domain.formats import image_format
from domain.grid import Grid, TileCoord
from domain.on_error import OnError
from domain.ports import MapQuery, SourceImage
from domain.srs import same_srs

# A query matches a tile when its edges are within this fraction of a tile of the tile's edges.
_TOLERANCE = 1e-6
_ORIGINS = {"nw": "ul", "ul": "ul", "tl": "ul", "sw": "ll", "ll": "ll", "bl": "ll"}

_log = get_logger(source_logger_name("tile"))


def quadkey(coord: TileCoord) -> str:
    """Bing's quadkey: one digit per level, x bit plus twice the y bit (y counted from the top)."""
    return "".join(
        str(((coord.x >> bit) & 1) + 2 * ((coord.y >> bit) & 1))
        for bit in range(coord.z - 1, -1, -1)
    )


def tc_path(coord: TileCoord) -> str:
    """TileCache's `zz/xxx/xxx/xxx/yyy/yyy/yyy`."""
    x, y = coord.x, coord.y
    return f"{coord.z:02d}/{x // 1000000:03d}/{x // 1000 % 1000:03d}/{x % 1000:03d}/{y // 1000000:03d}/{y // 1000 % 1000:03d}/{y % 1000:03d}"


def arcgiscache_path(coord: TileCoord) -> str:
    """ArcGIS exploded cache's `Lzz/Ryyyyyyyy/Cxxxxxxxx` (hex row and column)."""
    return f"L{coord.z:02d}/R{coord.y:08x}/C{coord.x:08x}"


def template_values(
    coord: TileCoord, bbox: tuple[float, float, float, float], ext: str
) -> dict[str, object]:
    """What the `%(name)s` placeholders of a tile URL template stand for."""
    return {
        "x": coord.x,
        "y": coord.y,
        "z": coord.z,
        "format": ext,
        "quadkey": quadkey(coord),
        "tms_path": f"{coord.z}/{coord.x}/{coord.y}",
        "tc_path": tc_path(coord),
        "arcgiscache_path": arcgiscache_path(coord),
        "bbox": ",".join(f"{v:.8f}" for v in bbox),
    }


@attrs.define
class TileSource:
    """Fetches single tiles of `grid`; `url` is a Python %-template, as in MapProxy's configuration.

    `origin` (nw/ul or sw/ll) says how the server counts rows; without it, the grid's origin.
    MapProxy 7 ignores a tile source's `origin` (with a deprecation warning); we honour it.
    """

    conf: TileSourceConf
    grid: Grid
    http: HttpClient
    origin: str = attrs.field(init=False)
    _template: str = attrs.field(init=False)
    _auth: str | None = attrs.field(init=False)
    _on_error: OnError | None = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        if self.conf.origin is None:
            self.origin = self.grid.origin
        elif self.conf.origin.lower() in _ORIGINS:
            self.origin = _ORIGINS[self.conf.origin.lower()]
        else:
            raise ConfigValueError(
                f"origin must be nw, ul, sw or ll, got {self.conf.origin!r}"
            )
        self._on_error = OnError.from_conf(self.conf.on_error)
        # credentials leave the URL before it is a template: a percent-encoded password is no placeholder
        self._template, self._auth = split_credentials(self.conf.url)
        try:
            self._template % template_values(
                TileCoord(0, 0, 0),
                self.grid.tile_bbox(TileCoord(0, 0, 0)).as_tuple(),
                "png",
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ConfigValueError(
                f"tile source url {self._template!r} is no valid template: {exc}"
            ) from None

    @property
    def supports_meta_tiles(self) -> bool:
        return False

    @property
    def transparent(self) -> bool:
        return self.conf.transparent

    def tile_for(self, query: MapQuery) -> TileCoord:
        """The grid tile query asks for; SourceError unless it is exactly one tile."""
        if not same_srs(query.srs, self.grid.srs):
            raise SourceError(f"tile source serves {self.grid.srs}, not {query.srs}")
        if query.size != self.grid.tile_size:
            raise SourceError(
                f"tile source serves {self.grid.tile_size[0]}x{self.grid.tile_size[1]} tiles, not {query.size[0]}x{query.size[1]}"
            )
        res = query.bbox.width / query.size[0]
        for z, level_res in enumerate(self.grid.res):
            if math.isclose(res, level_res, rel_tol=_TOLERANCE):
                coord = self._nearest_tile(query, z)
                if self.grid.contains(coord) and self._matches(coord, query):
                    return coord
        raise SourceError(
            f"bbox {query.bbox.as_tuple()} is not a tile of grid {self.grid.name}"
        )

    def _nearest_tile(self, query: MapQuery, z: int) -> TileCoord:
        grid, bbox = self.grid, query.bbox
        tw, th = grid.tile_size[0] * grid.res[z], grid.tile_size[1] * grid.res[z]
        x = round((bbox.minx - grid.bbox.minx) / tw)
        y = (
            round((bbox.miny - grid.bbox.miny) / th)
            if grid.origin == "ll"
            else round((grid.bbox.maxy - bbox.maxy) / th)
        )
        return TileCoord(x, y, z)

    def _matches(self, coord: TileCoord, query: MapQuery) -> bool:
        tile = self.grid.tile_bbox(coord)
        slack = _TOLERANCE * tile.width
        return all(
            abs(a - b) <= slack
            for a, b in zip(tile.as_tuple(), query.bbox.as_tuple(), strict=True)
        )

    def tile_url(self, coord: TileCoord, fmt: str) -> str:
        bbox = self.grid.tile_bbox(coord).as_tuple()
        if self.origin != self.grid.origin:
            coord = self.grid.flip_y(coord)
        return self._template % template_values(coord, bbox, image_format(fmt).ext)

    def get_map(self, query: MapQuery) -> SourceImage:
        url = self.tile_url(self.tile_for(query), query.format)
        headers = {"Authorization": self._auth} if self._auth else None
        resp = fetch(
            lambda: self.http.get(
                url,
                headers=headers,
                http=self.conf.http,
                concurrent_requests=self.conf.concurrent_requests,
            ),
            self._on_error,
            query.size,
        )
        if isinstance(resp, SourceImage):
            return resp
        try:
            return image_from_response(resp, url, query.size, "tile source")
        except SourceError as exc:
            _log.warning("bad tile answer", error=str(exc))
            raise
