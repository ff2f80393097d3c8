"""How a CouchDB cache names and describes its tiles: the document id of a tile (and the tile of
an id), and the metadata fields of its document, as MapProxy 7 writes them."""

from __future__ import annotations

import re
import time

import attrs

from domain.couchdb_config import TILE_ID_FIELD, CouchDBBackendConf, tile_id_template
from domain.grid import Grid, TileCoord
from domain.srs import srs, transform_points

_WGS84 = srs("EPSG:4326")


@attrs.frozen
class TileDocs:
    """The documents of the tiles of `grid` in a cache configured by `conf`."""

    conf: CouchDBBackendConf
    grid: Grid
    template: str = attrs.field(init=False)
    timestamp_key: str = attrs.field(init=False)
    _pattern: re.Pattern[str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        template = tile_id_template(self.conf.tile_id)
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "timestamp_key", self.conf.timestamp_key())
        object.__setattr__(self, "_pattern", re.compile(self._id_regex(template)))

    def doc_id(self, coord: TileCoord) -> str:
        values = {"x": coord.x, "y": coord.y, "z": coord.z, "grid_name": self.grid.name}
        return self.template % values

    def coord(self, doc_id: str) -> TileCoord | None:
        """The tile whose document has id `doc_id`; None for documents of other grids or
        caches that share the database (and for CouchDB's own `_design/` documents)."""
        match = self._pattern.fullmatch(doc_id)
        if match is None:
            return None
        return TileCoord(int(match["x"]), int(match["y"]), int(match["z"]))

    def fields(self, coord: TileCoord, stored_at: float) -> dict[str, object]:
        """The metadata of the tile's document: the template's values for this tile, and the
        time of storing under `timestamp` unless the template puts `{{timestamp}}` elsewhere."""
        doc: dict[str, object] = {}
        for key, value in self.conf.tile_metadata.items():
            doc[key] = self._value(value, coord, stored_at)
        # Also over a plain `timestamp` value of the template, as MapProxy: it is the time
        # that refresh_before and cleanups go by.
        doc[self.timestamp_key] = stored_at
        return doc

    def _value(self, value: object, coord: TileCoord, stored_at: float) -> object:
        match value:
            case "{{x}}":
                return coord.x
            case "{{y}}":
                return coord.y
            case "{{z}}" | "{{level}}":
                return coord.z
            case "{{timestamp}}":
                return stored_at
            case "{{utc_iso}}":
                return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stored_at))
            case "{{tile_centroid}}":
                return list(self._centroid(coord))
            case "{{wgs_tile_centroid}}":
                centre = self._centroid(coord)
                return list(transform_points([centre], self.grid.srs, _WGS84)[0])
        # Anything else, nested values too, goes into the document as it is.
        return value

    def _centroid(self, coord: TileCoord) -> tuple[float, float]:
        bbox = self.grid.tile_bbox(coord)
        return ((bbox.minx + bbox.maxx) / 2, (bbox.miny + bbox.maxy) / 2)

    def _id_regex(self, template: str) -> str:
        # The id template turned round: its fields become groups (x, y and z, which the
        # configuration requires, are numbers in any padding; grid_name is this grid's
        # name), the text between them literal.
        parts: list[str] = []
        end = 0
        seen: set[str] = set()
        for field in TILE_ID_FIELD.finditer(template):
            parts.append(re.escape(template[end : field.start()]))
            end = field.end()
            name = field.group(1)
            if name is None:
                parts.append("%")
            elif name == "grid_name":
                parts.append(re.escape(self.grid.name))
            elif name in seen:
                parts.append(f"(?P={name})")
            else:
                seen.add(name)
                parts.append(f"(?P<{name}>-?[0-9]+)")
        parts.append(re.escape(template[end:]))
        return "".join(parts)
