"""A `type: ogcapitiles` source: map tiles from an OGC API - Tiles server.

What MapProxy 7 asks the server, and so do we: the landing page (or `collections/{collection}`)
for its `tilesets-map` link; that list for tilesets of `dataType: map` (those whose links end
in `/{tile_matrix_set_id}` when it is set); then, per SRS a cache asks in, one such tileset in
that CRS: its own document (for the `item` URL template of the tile format) and its
`tiling-scheme` (the tile matrix set). A tile is then `{tileMatrix}/{tileRow}/{tileCol}` of the
template, and a query that is no single tile of that scheme is an error, as in MapProxy: the
cache's grid must tile as the upstream does.
"""

from __future__ import annotations

import attrs

from adapters.http_client import HttpClient, describe_url, image_from_response
from adapters.logs import get_logger, source_logger_name
from adapters.ogcapi_links import (
    Discovered,
    crs_srs,
    entry_page,
    find_link,
    get_json,
    ogc_rel,
)
from domain.config import OGCAPITilesSourceConf
from domain.errors import SourceError
from domain.formats import image_format
from domain.ports import MapQuery, SourceImage
from domain.scales import scale_to_res
from domain.srs import SRS, same_srs
from domain.tile_matrix_set import TileMatrix, TileMatrixSet

_JSON = ("application/json", None)
_IMAGE_TYPES = ("image/png", "image/jpeg")

_log = get_logger(source_logger_name("ogcapitiles"))


@attrs.frozen
class _Tileset:
    """A tileset summary of the server's list: its CRS, its document and maybe its scheme."""

    srs: SRS
    url: str
    scheme_url: str | None


@attrs.frozen
class _Tiling:
    """A tileset ready to use: its scheme and its tile URL templates by media type."""

    tms: TileMatrixSet
    templates: dict[str, str]


@attrs.define
class OGCAPITilesSource:
    """Tiles of the server's map tilesets, found lazily (see `adapters/ogcapi_links.py`)."""

    conf: OGCAPITilesSourceConf
    http: HttpClient
    _tilesets: Discovered[tuple[_Tileset, ...]] = attrs.field(init=False)
    _tilings: dict[str, Discovered[_Tiling]] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        self._tilesets = Discovered(self._load_tilesets)

    @property
    def landing_page(self) -> str:
        return self.conf.landingpage_url.rstrip("/")

    @property
    def supports_meta_tiles(self) -> bool:
        return False

    @property
    def transparent(self) -> bool:
        return False

    def get_map(self, query: MapQuery) -> SourceImage:
        tiling = self._tiling(query.srs)
        found = tiling.tms.tile_for(query.bbox, query.size)
        if found is None:
            raise SourceError(
                f"bbox {query.bbox.as_tuple()} at {query.size[0]}x{query.size[1]} px is no "
                f"tile of tile matrix set {tiling.tms.id} of {describe_url(self.landing_page)}"
            )
        matrix, col, row = found
        url = _tile_url(_template(tiling, query.format), matrix, col, row)
        resp = self.http.get(url, concurrent_requests=self.conf.concurrent_requests)
        try:
            return image_from_response(resp, url, query.size, "OGC API tile")
        except SourceError as exc:
            _log.warning("bad ogcapi tile answer", error=str(exc))
            raise

    def _tiling(self, target: SRS) -> _Tiling:
        tilesets = self._tilesets.get()
        matching = [t for t in tilesets if same_srs(t.srs, target)]
        if not matching:
            offered = ", ".join(sorted({t.srs.code for t in tilesets})) or "none"
            raise SourceError(
                f"{describe_url(self.landing_page)} has no map tileset in {target} "
                f"(in: {offered})"
            )
        if target.code not in self._tilings:
            # dict.setdefault is atomic: threads racing here share one Discovered.
            self._tilings.setdefault(
                target.code, Discovered(lambda: self._first_tiling(matching))
            )
        return self._tilings[target.code].get()

    def _get(self, url: str, what: str) -> dict[str, object]:
        return get_json(self.http, url, what, self.conf.concurrent_requests, _log)

    def _load_tilesets(self) -> tuple[_Tileset, ...]:
        url, page = entry_page(
            self.http,
            self.landing_page,
            self.conf.collection,
            self.conf.concurrent_requests,
            _log,
        )
        list_url = find_link(page, ogc_rel("tilesets-map"), _JSON, url)
        if list_url is None:
            raise SourceError(
                f"{describe_url(url)} links no map tilesets (tilesets-map)"
            )
        listing = self._get(list_url, "OGC API tilesets")
        entries = listing.get("tilesets")
        if not isinstance(entries, list):
            raise SourceError(f"{describe_url(list_url)} lists no tilesets")
        found = []
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("dataType") != "map":
                continue
            if not self._wanted(entry):
                continue
            target = crs_srs(entry.get("crs"))
            own = find_link(entry, ("self", "item"), _JSON, list_url)
            if target is None or own is None:
                continue
            scheme = find_link(entry, ogc_rel("tiling-scheme"), _JSON, list_url)
            found.append(_Tileset(target, own, scheme))
        if not found:
            which = (
                f" in tile matrix set {self.conf.tile_matrix_set_id}"
                if self.conf.tile_matrix_set_id
                else ""
            )
            raise SourceError(f"{describe_url(list_url)} lists no map tileset{which}")
        return tuple(found)

    def _wanted(self, entry: dict[str, object]) -> bool:
        wanted = self.conf.tile_matrix_set_id
        if wanted is None:
            return True
        links = entry.get("links")
        hrefs = [
            str(link.get("href"))
            for link in (links if isinstance(links, list) else [])
            if isinstance(link, dict)
        ] + [str(entry.get("tileMatrixSetURI", ""))]
        return any(
            href.split("?")[0].rstrip("/").endswith(f"/{wanted}") for href in hrefs
        )

    def _first_tiling(self, tilesets: list[_Tileset]) -> _Tiling:
        """The first of tilesets (all in one CRS) that can be used, as MapProxy picks."""
        for tileset in tilesets[:-1]:
            try:
                return self._load_tiling(tileset)
            except SourceError:
                continue
        return self._load_tiling(tilesets[-1])

    def _load_tiling(self, tileset: _Tileset) -> _Tiling:
        doc = self._get(tileset.url, "OGC API tileset")
        scheme_url = tileset.scheme_url or find_link(
            doc, ogc_rel("tiling-scheme"), _JSON, tileset.url
        )
        if scheme_url is None:
            raise SourceError(f"{describe_url(tileset.url)} links no tiling scheme")
        tms = parse_tile_matrix_set(
            self._get(scheme_url, "OGC API tile matrix set"), scheme_url
        )
        templates = {
            kind: href
            for kind in (*_IMAGE_TYPES, None)
            if (href := find_link(doc, ("item",), (kind,), tileset.url)) is not None
        }
        if not templates:
            raise SourceError(
                f"{describe_url(tileset.url)} links no tile URL template (item)"
            )
        return _Tiling(tms, {k or "": v for k, v in templates.items()})


def _template(tiling: _Tiling, fmt: str) -> str:
    """The template of the query's format, else of PNG, else JPEG, else any."""
    mime = image_format(fmt).mime
    for kind in (mime, *_IMAGE_TYPES, ""):
        if kind in tiling.templates:
            return tiling.templates[kind]
    raise SourceError("no tile URL template")  # not reached: templates is never empty


def _tile_url(template: str, matrix: TileMatrix, col: int, row: int) -> str:
    return (
        template.replace("{tileMatrix}", matrix.id)
        .replace("{tileRow}", str(row))
        .replace("{tileCol}", str(col))
    )


def parse_tile_matrix_set(doc: dict[str, object], url: str) -> TileMatrixSet:
    """A tile matrix set document (OGC 17-083r4 JSON); SourceError naming url if it is none."""
    where = describe_url(url)
    target = crs_srs(doc.get("crs"))
    matrices = doc.get("tileMatrices")
    if target is None or not isinstance(matrices, list) or not matrices:
        raise SourceError(f"{where} is no tile matrix set with a known CRS")
    # pointOfOrigin is in the CRS's axis order (lat/lon for EPSG:4326), unless orderedAxes
    # says the first axis is east.
    axes = doc.get("orderedAxes")
    first = str(axes[0]).lower() if isinstance(axes, list) and axes else ""
    flip = (
        first in ("n", "lat", "latitude", "y", "north")
        if first
        else target.is_axis_order_ne and not _is_crs84(doc.get("crs"))
    )
    try:
        return TileMatrixSet(
            str(doc.get("id", "")),
            target,
            tuple(_matrix(m, target, flip) for m in matrices),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise SourceError(
            f"{where} has a tile matrix that is no such thing: {exc}"
        ) from None


def _is_crs84(value: object) -> bool:
    if isinstance(value, dict):
        value = value.get("uri")
    return isinstance(value, str) and "crs84" in value.lower()


def _matrix(doc: object, target: SRS, flip: bool) -> TileMatrix:
    if not isinstance(doc, dict):
        raise TypeError("a tile matrix must be an object")
    a, b = (float(v) for v in doc.get("pointOfOrigin") or doc["topLeftCorner"])
    if "cellSize" in doc:
        cell = float(doc["cellSize"])
    else:
        # The 1.0 encoding has only the scale (0.28 mm pixels, degrees at the equator).
        cell = scale_to_res(float(doc["scaleDenominator"]), target.is_latlong)
    corner = doc.get("cornerOfOrigin", "topLeft")
    if corner not in ("topLeft", "bottomLeft") or not cell > 0:
        raise ValueError(f"cornerOfOrigin {corner!r}, cellSize {cell}")
    return TileMatrix(
        id=str(doc["id"]),
        cell_size=cell,
        origin=(b, a) if flip else (a, b),
        tile_size=(int(doc["tileWidth"]), int(doc["tileHeight"])),
        matrix_size=(int(doc["matrixWidth"]), int(doc["matrixHeight"])),
        corner=corner,
    )
