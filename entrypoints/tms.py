"""TMS (`/tms/1.0.0/...`) and the `/tiles/...` alias: capabilities and tiles."""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

import attrs

from domain.errors import RequestError
from domain.formats import offered_format
from domain.grid import Grid, TileCoord
from domain.grids import DEFAULT_BBOXES
from domain.tiles import TileSet
from entrypoints.auth import tile_access, tile_coord_access, tile_layers_seen
from entrypoints.bootstrap import AppState, TileLayer
from entrypoints.decorate import tile_decoration
from entrypoints.http import PROXY_VARY, Request, Response
from entrypoints.ogc import XML, NotFoundError
from entrypoints.tile_answer import serve_tile

_WORLD_PROFILES = {
    "EPSG:900913": "global-mercator",
    "EPSG:3857": "global-mercator",
    "EPSG:4326": "global-geodetic",
}


@attrs.frozen
class TMSTileMap:
    """One layer in one grid as TMS shows it: `levels[tms_level]` is the grid's own level."""

    layer: TileLayer
    tileset: TileSet
    grid_id: str
    profile: str
    levels: tuple[int, ...]


def tms_profile(grid: Grid) -> str:
    """`global-mercator`/`global-geodetic` for grids on the TMS world pyramids, else `local`."""
    profile = _WORLD_PROFILES.get(grid.srs.code)
    if (
        profile is None
        or grid.bbox != DEFAULT_BBOXES[grid.srs.code]
        or grid.tile_size != (256, 256)
    ):
        return "local"
    top = max(grid.bbox.width, grid.bbox.height) / 256
    return profile if math.isclose(grid.res[0], top, rel_tol=1e-9) else "local"


def tms_levels(grid: Grid, profile: str) -> tuple[int, ...]:
    """World profiles start one level below the grid's single top tile and halve the resolution
    from level to level (so a sqrt2 grid shows every second level); local grids show all."""
    if profile == "local":
        return tuple(range(grid.num_levels))
    levels = []
    for z, res in enumerate(grid.res):
        step = math.log2(grid.res[0] / res)
        if step >= 1 - 1e-9 and math.isclose(step, round(step), abs_tol=1e-6):
            levels.append(z)
    return tuple(levels)


@attrs.define
class TMSService:
    state: AppState
    use_grid_names: bool
    # `/tiles` rows without an `origin` parameter: services.tms.origin, else the grid's own.
    tiles_origin: str | None
    tile_maps: dict[tuple[str, str], TMSTileMap] = attrs.Factory(dict)
    by_layer: dict[str, TMSTileMap] = attrs.Factory(dict)

    @classmethod
    def build(cls, state: AppState) -> TMSService:
        conf = state.conf.services.tms
        return cls.with_options(
            state,
            use_grid_names=bool(conf and conf.use_grid_names),
            tiles_origin=conf.origin if conf else None,
        )

    @classmethod
    def with_options(
        cls, state: AppState, use_grid_names: bool, tiles_origin: str | None
    ) -> TMSService:
        """The tile maps of every layer and grid (KML names them the same way)."""
        service = cls(state, use_grid_names, tiles_origin)
        for layer in state.layers.values():
            for tileset in layer.tilesets:
                grid = tileset.grid
                grid_id = grid.name if use_grid_names else grid.srs.path_code
                profile = tms_profile(grid)
                tile_map = TMSTileMap(
                    layer, tileset, grid_id, profile, tms_levels(grid, profile)
                )
                service.tile_maps.setdefault((layer.name, grid_id), tile_map)
                service.by_layer.setdefault(layer.name, tile_map)
        return service

    def handle(self, request: Request, parts: list[str], own_levels: bool) -> Response:
        """parts: the path after `/tms/1.0.0/` (or after `/tiles/`)."""
        if not parts or parts == [""]:
            return self.capabilities(request)
        if len(parts) >= 3 and "." in parts[-1]:
            return self.tile(request, parts, own_levels)
        tile_map = self.tile_map(parts)
        if len(parts) > 2 or tile_map is None:
            raise NotFoundError(f"unknown TMS resource: {'/'.join(parts)}")
        return self.tile_map_resource(request, tile_map)

    def tile_map(self, ids: list[str]) -> TMSTileMap | None:
        if len(ids) == 2:
            return self.tile_maps.get((ids[0], ids[1]))
        if len(ids) == 1:
            name = ids[0]
            if name in self.by_layer:
                return self.by_layer[name]
            # `layer_EPSG900913`, MapProxy's combined spelling.
            layer, _, grid_id = name.rpartition("_")
            return self.tile_maps.get((layer, grid_id))
        return None

    def tile_path(self, parts: list[str]) -> tuple[TMSTileMap, int, int, int, str]:
        """`[layer, grid, z, x, 'y.ext']` (or a layer spelling `tile_map` knows) parsed."""
        *ids, z_s, x_s, last = parts
        y_s, _, ext = last.partition(".")
        tile_map = self.tile_map(ids)
        if tile_map is None:
            raise NotFoundError(f"unknown layer: {'/'.join(ids)}")
        try:
            z, x, y = int(z_s), int(x_s), int(y_s)
        except ValueError:
            raise RequestError(
                f"invalid tile coordinates: {'/'.join(parts[-3:])}"
            ) from None
        return tile_map, z, x, y, ext

    def tile(
        self,
        request: Request,
        parts: list[str],
        own_levels: bool,
        service: str = "tms",
    ) -> Response:
        tile_map, z, x, y, ext = self.tile_path(parts)
        tileset = tile_map.tileset
        offered = offered_format(tileset.format).ext
        # A mixed cache's own `.mixed` too: KML links its tiles by the cache's extension.
        if ext not in (offered, tileset.format.ext) and not (
            ext == "jpg" and offered == "jpeg"
        ):
            raise NotFoundError(
                f"invalid format ({ext}), this tile set only supports ({offered})"
            )
        grid = tileset.grid
        if own_levels:
            internal_z = z
        else:
            if not 0 <= z < len(tile_map.levels):
                raise NotFoundError(
                    "the requested tile is outside the bounding box of the tile map"
                )
            internal_z = tile_map.levels[z]
        coord = TileCoord(x, y, internal_z)
        if not grid.contains(coord):
            raise NotFoundError(
                "the requested tile is outside the bounding box of the tile map"
            )
        if self.rows_from_top(request, grid, own_levels) != (grid.origin == "ul"):
            coord = grid.flip_y(coord)
        limit = tile_coord_access(request, service, tile_map.layer.name, grid, coord)
        decorate = tile_decoration(
            request, service, tile_map.layer.name, tileset, coord
        )
        return serve_tile(request, self.state, tileset, coord, limit, decorate)

    def rows_from_top(self, request: Request, grid: Grid, own_levels: bool) -> bool:
        """How the request counts rows. TMS: from the south, always (MapProxy 7 ignores
        `origin` there). `/tiles`: its `origin` parameter, else services.tms.origin, else the
        grid's own origin, as MapProxy 7 answers (rows from the top for GLOBAL_WEBMERCATOR)."""
        if not own_levels:
            return False
        origin = request.args.get("origin") or self.tiles_origin
        if origin is None:
            return grid.origin == "ul"
        return origin.lower() in ("nw", "ul")

    def capabilities(self, request: Request) -> Response:
        base = request.base_url
        entries = []
        seen = set(tile_layers_seen(request, "tms", list(self.by_layer)))
        for tm in self.tile_maps.values():
            if tm.layer.name not in seen:
                continue
            href = f"{base}/tms/1.0.0/{tm.layer.name}/{tm.grid_id}"
            entries.append(
                f"    <TileMap title={quoteattr(tm.layer.title)} srs={quoteattr(_tms_srs(tm))}"
                f" profile={quoteattr(tm.profile)} href={quoteattr(href)} />"
            )
        body = (
            '<?xml version="1.0"?>\n<TileMapService version="1.0.0">\n'
            f"  <Title>{escape(self._title())}</Title>\n  <Abstract></Abstract>\n  <TileMaps>\n"
            + "\n".join(entries)
            + "\n  </TileMaps>\n</TileMapService>\n"
        )
        return Response(200, body.encode(), XML, [("Vary", PROXY_VARY)])

    def tile_map_resource(self, request: Request, tm: TMSTileMap) -> Response:
        tile_access(request, "tms", tm.layer.name, None)
        grid = tm.tileset.grid
        href = f"{request.base_url}/tms/1.0.0/{tm.layer.name}/{tm.grid_id}"
        b = grid.bbox
        tilesets = "\n".join(
            f'    <TileSet href={quoteattr(f"{href}/{order}")} units-per-pixel="{grid.res[z]!r}" order="{order}" />'
            for order, z in enumerate(tm.levels)
        )
        fmt = offered_format(tm.tileset.format)
        body = (
            '<?xml version="1.0"?>\n<TileMap version="1.0.0">\n'
            f"  <Title>{escape(tm.layer.title)}</Title>\n  <Abstract></Abstract>\n"
            f"  <SRS>{escape(_tms_srs(tm))}</SRS>\n"
            f'  <BoundingBox minx="{b.minx!r}" miny="{b.miny!r}" maxx="{b.maxx!r}" maxy="{b.maxy!r}" />\n'
            f'  <Origin x="{b.minx!r}" y="{b.miny!r}" />\n'
            f'  <TileFormat width="{grid.tile_size[0]}" height="{grid.tile_size[1]}" mime-type="{fmt.mime}" extension="{fmt.ext}" />\n'
            f'  <TileSets profile="{tm.profile}">\n{tilesets}\n  </TileSets>\n</TileMap>\n'
        )
        return Response(200, body.encode(), XML, [("Vary", PROXY_VARY)])

    def _title(self) -> str:
        wmts = self.state.conf.services.wmts
        md = (wmts.md if wmts else None) or {}
        return str(md.get("title", "Tilegate"))


def _tms_srs(tm: TMSTileMap) -> str:
    return (
        "OSGEO:41001" if tm.profile == "global-mercator" else tm.tileset.grid.srs.code
    )
