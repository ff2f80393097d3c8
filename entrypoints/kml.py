"""KML super-overlays (`/kml/...`) for Google Earth: one document per tile, linking its children.

The document of tile z/x/y shows the tiles of level z+1 inside it, each as a GroundOverlay of
its image and a NetworkLink to its own document, with Regions so Google Earth loads a level
only when it is big enough on screen. Levels are the grid's own (as `/tiles`), rows count from
the south (as TMS), layers and grids are named as TMS names them.
"""

from __future__ import annotations

from urllib.parse import quote
from xml.sax.saxutils import escape

import attrs

from domain.bbox import Bbox
from domain.grid import Grid, TileCoord
from domain.srs import srs, transform_bbox
from entrypoints.auth import extent, tile_access
from entrypoints.bootstrap import AppState
from entrypoints.http import PROXY_VARY, Request, Response
from entrypoints.ogc import NotFoundError
from entrypoints.tms import TMSService, TMSTileMap

KML = "application/vnd.google-earth.kml+xml"
_LATLON = srs("EPSG:4326")
# A level shows once its tile covers this many screen pixels (half a 256 pixel tile).
_MIN_LOD_PIXELS = 128
# ... and fades out when it is this large and the next level has taken over.
_MAX_LOD_PIXELS = 768


@attrs.define
class KMLService:
    state: AppState
    tiles: TMSService

    @classmethod
    def build(cls, state: AppState) -> KMLService:
        conf = state.conf.services.kml
        use_grid_names = bool(conf and conf.use_grid_names)
        return cls(state, TMSService.with_options(state, use_grid_names, "sw"))

    def handle(self, request: Request, parts: list[str]) -> Response:
        """parts: the path after `/kml/`."""
        if parts and parts[-1] == "":
            parts = parts[:-1]
        if len(parts) >= 4 and "." in parts[-1]:
            if not parts[-1].endswith(".kml"):
                return self.tiles.tile(request, parts, own_levels=True, service="kml")
            tile_map, z, x, y, _ = self.tiles.tile_path(parts)
            grid = tile_map.tileset.grid
            coord = TileCoord(x, y, z)
            if grid.origin == "ul" and grid.contains(coord):
                coord = grid.flip_y(coord)
            if not grid.contains(coord):
                raise NotFoundError(
                    "the requested tile is outside the bounding box of the tile map"
                )
            return self.document(request, tile_map, coord)
        top = self.tiles.tile_map(parts) if parts else None
        if top is None:
            raise NotFoundError(f"unknown KML resource: {'/'.join(parts)}")
        return self.document(request, top, None)

    def document(
        self, request: Request, tile_map: TMSTileMap, coord: TileCoord | None
    ) -> Response:
        """The document of a tile (coord in the grid's own rows), or of the whole grid (None)."""
        grid = tile_map.tileset.grid
        shown = grid.bbox if coord is None else grid.tile_bbox(coord)
        tile_access(request, "kml", tile_map.layer.name, extent(grid.srs, shown))
        if coord is None:
            area = grid.bbox
            # The levels below a single top tile, or the top level where it has several.
            z = min(1, grid.num_levels - 1) if grid.sizes[0] == (1, 1) else 0
        else:
            area = grid.tile_bbox(coord)
            z = coord.z + 1
        children = grid.tiles_for_bbox(area, z) if z < grid.num_levels else None
        base = escape(
            f"{request.base_url}/kml/{quote(tile_map.layer.name)}/{quote(tile_map.grid_id)}"
        )
        links: list[str] = []
        overlays: list[str] = []
        for child in children or ():
            last = child.z == grid.num_levels - 1
            bbox = _latlon(grid.tile_bbox(child), grid)
            sw = grid.flip_y(child) if grid.origin == "ul" else child
            path = f"{base}/{sw.z}/{sw.x}/{sw.y}"
            name = escape(f"{tile_map.layer.name} {sw.z}/{sw.x}/{sw.y}")
            if not last:
                links.append(
                    f"<NetworkLink><name>{name}</name>"
                    f"<Region>{_box('LatLonAltBox', bbox)}"
                    f"<Lod><minLodPixels>{_MIN_LOD_PIXELS}</minLodPixels><maxLodPixels>-1</maxLodPixels></Lod></Region>"
                    f"<Link><href>{path}.kml</href><viewRefreshMode>onRegion</viewRefreshMode></Link>"
                    "</NetworkLink>"
                )
            # The finest level stays on however close the view comes.
            max_lod = -1 if last else _MAX_LOD_PIXELS
            overlays.append(
                f"<GroundOverlay><name>{name}</name>"
                f"<Region>{_box('LatLonAltBox', bbox)}"
                f"<Lod><minLodPixels>{_MIN_LOD_PIXELS}</minLodPixels><maxLodPixels>{max_lod}</maxLodPixels>"
                "<minFadeExtent>8</minFadeExtent><maxFadeExtent>8</maxFadeExtent></Lod></Region>"
                f"<drawOrder>{child.z}</drawOrder>"
                f"<Icon><href>{path}.{escape(tile_map.tileset.format.ext)}</href></Icon>"
                f"{_box('LatLonBox', bbox)}</GroundOverlay>"
            )
        region = _latlon(area.intersection(grid.bbox) or area, grid)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<kml xmlns="http://www.opengis.net/kml/2.2">\n<Document>\n'
            f"<name>{escape(tile_map.layer.name)}</name>\n"
            f"<Region>{_box('LatLonAltBox', region)}</Region>\n"
            + "".join(f"{item}\n" for item in links + overlays)
            + "</Document>\n</kml>\n"
        )
        headers = [
            ("Vary", PROXY_VARY),
            (
                "Cache-Control",
                f"public, max-age={self.state.max_age}, s-maxage={self.state.max_age}",
            ),
        ]
        if self.state.allow_origin:
            headers.append(("Access-Control-Allow-Origin", self.state.allow_origin))
        return Response(200, body.encode(), KML, headers)


def _latlon(bbox: Bbox, grid: Grid) -> Bbox:
    return transform_bbox(bbox, grid.srs, _LATLON)


def _box(tag: str, bbox: Bbox) -> str:
    return (
        f"<{tag}><north>{float(bbox.maxy)!r}</north><south>{float(bbox.miny)!r}</south>"
        f"<east>{float(bbox.maxx)!r}</east><west>{float(bbox.minx)!r}</west></{tag}>"
    )
