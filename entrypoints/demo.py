"""The /demo/ page: every tile layer with a map view per service and grid, and the capabilities."""

from __future__ import annotations

import functools
import hashlib
import json
from html import escape
from pathlib import Path
from urllib.parse import quote, urlencode

import attrs

from domain.formats import offered_format
from domain.grid import Grid
from domain.tiles import TileSet
from entrypoints.auth import demo_access
from entrypoints.bootstrap import AppState, TileLayer
from entrypoints.http import PROXY_VARY, Request, Response
from entrypoints.wmts import wmts_compatible

OL_VERSION = "10.11.0"
_STATIC_DIR = Path(__file__).parent / "static"
# The only names /demo/static/ answers: a request picks an entry, it never becomes a path
# (MapProxy's demo joined request paths onto its static directory and could be walked out of).
_STATIC_TYPES = {
    "ol.js": "text/javascript; charset=utf-8",
    "ol.css": "text/css; charset=utf-8",
    "ol-LICENSE.md": "text/plain; charset=utf-8",
    "demo.js": "text/javascript; charset=utf-8",
    "demo.css": "text/css; charset=utf-8",
}
STATIC_MAX_AGE = 86400
# No inline script or style anywhere: the map reads its settings from a JSON block.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
_BUILTIN_PROJECTIONS = {
    "EPSG:3857": "EPSG:3857",
    "EPSG:900913": "EPSG:3857",
    "EPSG:102100": "EPSG:3857",
    "EPSG:102113": "EPSG:3857",
    "EPSG:4326": "EPSG:4326",
    "CRS:84": "EPSG:4326",
}
_OL_UNITS = {
    "metre": "m",
    "meter": "m",
    "degree": "degrees",
    "foot": "ft",
    "us survey foot": "us-ft",
}
_WMTS_KEYS = {"{TileMatrix}": "{z}", "{TileCol}": "{x}", "{TileRow}": "{y}"}


@attrs.frozen
class StaticFile:
    body: bytes
    content_type: str
    etag: str


@attrs.frozen
class MapView:
    """One layer in one grid as one service shows it."""

    service: str
    layer: TileLayer
    tileset: TileSet
    tile_url: str  # with `{z}`, `{x}`, `{y}` (row counted as `rows_from_top` says)
    rows_from_top: bool
    levels: tuple[str, ...]  # the level names the service uses in its URLs


@functools.cache
def static_files() -> dict[str, StaticFile]:
    files = {}
    for name, content_type in _STATIC_TYPES.items():
        body = (_STATIC_DIR / name).read_bytes()
        files[name] = StaticFile(
            body, content_type, f'"{hashlib.sha256(body).hexdigest()[:20]}"'
        )
    return files


def handle(request: Request, state: AppState, subpath: str) -> Response:
    if subpath.startswith("static/"):
        return _static(request, subpath.removeprefix("static/"))
    if subpath:
        return _not_found(request)
    demo_access(request)
    args = request.args
    for service in ("tms", "wmts"):
        if f"{service}_layer" in args:
            view = _find_view(
                request,
                state,
                service,
                args[f"{service}_layer"],
                args.get("grid"),
                args.get("srs"),
            )
            return _map_page(request, view) if view is not None else _not_found(request)
    return _index(request, state)


def _static(request: Request, name: str) -> Response:
    file = static_files().get(name)
    if file is None:
        return _not_found(request)
    headers = [
        ("Cache-Control", f"public, max-age={STATIC_MAX_AGE}"),
        ("ETag", file.etag),
    ]
    match = request.header("If-None-Match")
    if match is not None and file.etag in [
        m.strip().removeprefix("W/") for m in match.split(",")
    ]:
        return Response(
            304, content_type=file.content_type, headers=headers, content_length=0
        )
    return Response(200, file.body, file.content_type, headers)


def tms_views(request: Request, state: AppState) -> list[MapView]:
    conf = state.conf.services.tms
    if conf is None:
        return []
    base = request.base_url
    views: dict[tuple[str, str], MapView] = {}
    for layer in state.layers.values():
        for tileset in layer.tilesets:
            grid = tileset.grid
            grid_id = grid.name if conf.use_grid_names else grid.srs.path_code
            # The `/tiles/` alias uses the grid's own levels; rows as the grid counts them,
            # because an sw grid's rows need not fill its bbox (GLOBAL_GEODETIC's top tile
            # reaches past 90°), so flipping them is not the same as counting from the top.
            top = grid.origin == "ul"
            url = f"{base}/tiles/{_seg(layer.name)}/{_seg(grid_id)}/{{z}}/{{x}}/{{y}}.{offered_format(tileset.format).ext}"
            url += "?origin=nw" if top else "?origin=sw"
            levels = tuple(str(z) for z in range(grid.num_levels))
            # As TMSService: the first tile set of a layer with a grid id is the one served.
            views.setdefault(
                (layer.name, grid_id), MapView("tms", layer, tileset, url, top, levels)
            )
    return list(views.values())


def wmts_views(request: Request, state: AppState) -> list[MapView]:
    conf = state.conf.services.wmts
    if conf is None:
        return []
    base = request.base_url
    views = []
    for layer in state.layers.values():
        for tileset in layer.tilesets:
            grid = tileset.grid
            if not wmts_compatible(grid):
                continue
            url = _wmts_url(
                base,
                conf.restful_template if conf.restful else None,
                conf.kvp,
                layer,
                tileset,
            )
            if url is None:
                continue
            levels = tuple(f"{z:02d}" for z in range(grid.num_levels))
            views.append(MapView("wmts", layer, tileset, url, True, levels))
    return views


def _wmts_url(
    base: str, template: str | None, kvp: bool, layer: TileLayer, tileset: TileSet
) -> str | None:
    fixed = {
        "{Layer}": _seg(layer.name),
        "{TileMatrixSet}": _seg(tileset.grid.name),
        "{Format}": offered_format(tileset.format).ext,
        "{Style}": "default",
    }
    if template is not None:
        url = template
        for key, value in (fixed | _WMTS_KEYS).items():
            url = url.replace(key, value)
        # A template with dimensions ({Time}, ...) needs values the demo does not know.
        if "{" not in url.replace("{z}", "").replace("{x}", "").replace("{y}", ""):
            return f"{base}/wmts{url}"
    if not kvp:
        return None
    query = urlencode(
        {
            "SERVICE": "WMTS",
            "REQUEST": "GetTile",
            "VERSION": "1.0.0",
            "LAYER": layer.name,
            "STYLE": "default",
            "FORMAT": offered_format(tileset.format).mime,
            "TILEMATRIXSET": tileset.grid.name,
        }
    )
    return f"{base}/service?{query}&TILEMATRIX={{z}}&TILECOL={{x}}&TILEROW={{y}}"


def _find_view(
    request: Request,
    state: AppState,
    service: str,
    layer: str,
    grid: str | None,
    srs_code: str | None,
) -> MapView | None:
    views = (
        tms_views(request, state) if service == "tms" else wmts_views(request, state)
    )
    for view in views:
        if view.layer.name != layer:
            continue
        g = view.tileset.grid
        # `srs=` is how MapProxy's demo links pick a grid; old bookmarks keep working.
        if grid is None and (
            srs_code is None or srs_code.upper() in (g.srs.code, g.srs.path_code)
        ):
            return view
        if grid == g.name:
            return view
    return None


def _index(request: Request, state: AppState) -> Response:
    base = request.base_url
    services = state.conf.services
    links = []
    if services.tms is not None:
        links.append((f"{base}/tms/1.0.0/", "TMS capabilities"))
    if services.wmts is not None:
        if services.wmts.restful:
            links.append(
                (
                    f"{base}/wmts/1.0.0/WMTSCapabilities.xml",
                    "WMTS capabilities (RESTful)",
                )
            )
        if services.wmts.kvp:
            links.append(
                (
                    f"{base}/service?REQUEST=GetCapabilities&SERVICE=WMTS",
                    "WMTS capabilities (KVP)",
                )
            )
    service_items = "".join(
        f'<li><a href="{_attr(href)}">{escape(label)}</a></li>' for href, label in links
    )
    if not service_items:
        service_items = "<li>No tile service (TMS, WMTS) is configured.</li>"

    views: dict[tuple[str, str], list[MapView]] = {}
    for view in tms_views(request, state) + wmts_views(request, state):
        views.setdefault((view.layer.name, view.tileset.grid.name), []).append(view)
    rows = []
    for layer in state.layers.values():
        for tileset in layer.tilesets:
            grid = tileset.grid
            found = views.get((layer.name, grid.name), [])
            cells = [_view_link(base, v) for v in found]
            if services.wmts is not None and not wmts_compatible(grid):
                cells.append('<span class="note">not WMTS compatible</span>')
            rows.append(
                "<tr>"
                f'<td><span class="name">{escape(layer.name)}</span><br>{escape(layer.title)}</td>'
                f"<td>{escape(grid.name)}</td><td>{escape(grid.srs.code)}</td>"
                f"<td>{escape(tileset.format.mime)}</td>"
                f'<td class="views">{" ".join(cells) or "&mdash;"}</td>'
                "</tr>"
            )
    table = (
        "<table><thead><tr><th>Layer</th><th>Grid</th><th>SRS</th><th>Format</th><th>Map view</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        if rows
        else "<p>No tile layers are configured (a tile layer has a cache as its only source).</p>"
    )
    body = f"<h1>Tilegate demo</h1>\n<h2>Services</h2>\n<ul>{service_items}</ul>\n<h2>Tile layers</h2>\n{table}\n"
    return _page(request, 200, "Tilegate demo", body)


def _view_link(base: str, view: MapView) -> str:
    query = urlencode(
        {f"{view.service}_layer": view.layer.name, "grid": view.tileset.grid.name}
    )
    return f'<a class="view" href="{_attr(f"{base}/demo/?{query}")}">{view.service.upper()}</a>'


def _map_page(request: Request, view: MapView) -> Response:
    base = request.base_url
    grid = view.tileset.grid
    config = {
        "title": view.layer.title,
        "projection": _projection(grid),
        "tileGrid": {
            "origin": [
                grid.bbox.minx,
                grid.bbox.maxy if view.rows_from_top else grid.bbox.miny,
            ],
            "resolutions": list(grid.res),
            "tileSize": list(grid.tile_size),
            "extent": _extent(grid),
        },
        "extent": _extent(grid),
        "rowsFromTop": view.rows_from_top,
        "levels": list(view.levels),
        "url": view.tile_url,
    }
    body = (
        '<div class="bar">'
        f'<a href="{_attr(base + "/demo/")}">&larr; all layers</a>'
        f"<h1>{escape(view.layer.title)}</h1>"
        f'<span class="meta">{escape(view.service.upper())} &middot; {escape(view.layer.name)} &middot; '
        f"{escape(grid.name)} ({escape(grid.srs.code)}) &middot; {escape(view.tileset.format.mime)}</span>"
        "</div>\n"
        '<div id="map" class="map" data-tiles-loaded="0" data-tiles-failed="0"></div>\n'
        f'<div class="bar small">Tile URL: <code>{escape(view.tile_url)}</code> &middot; '
        f'map by OpenLayers {OL_VERSION} (<a href="{_attr(base + "/demo/static/ol-LICENSE.md")}">licence</a>)</div>\n'
        f'<script type="application/json" id="tilegate-map-config">{script_json(config)}</script>\n'
        f'<script src="{_attr(base + "/demo/static/ol.js")}"></script>\n'
        f'<script src="{_attr(base + "/demo/static/demo.js")}"></script>\n'
    )
    return _page(
        request, 200, f"{view.layer.title} - Tilegate demo", body, map_page=True
    )


def _projection(grid: Grid) -> dict[str, object]:
    builtin = _BUILTIN_PROJECTIONS.get(grid.srs.code)
    if builtin is not None:
        return {"code": builtin, "builtin": True}
    axes = grid.srs.crs.axis_info
    unit = axes[0].unit_name.lower() if axes else "metre"
    units = "degrees" if grid.srs.is_latlong else _OL_UNITS.get(unit, "m")
    # OpenLayers draws tiles in any projection it is told the extent and units of.
    return {
        "code": grid.srs.code,
        "builtin": False,
        "units": units,
        "extent": _extent(grid),
    }


def _extent(grid: Grid) -> list[float]:
    b = grid.bbox
    return [b.minx, b.miny, b.maxx, b.maxy]


def _not_found(request: Request) -> Response:
    # Never echo what was asked for: MapProxy's demo reflected its parameters (CVE-2017-1000426).
    body = (
        "<h1>Not found</h1>\n<p>There is no such layer, grid or page in this demo.</p>\n"
        f'<p><a href="{_attr(request.base_url + "/demo/")}">All layers</a></p>\n'
    )
    return _page(request, 404, "Not found - Tilegate demo", body)


def _page(
    request: Request, status: int, title: str, body: str, map_page: bool = False
) -> Response:
    base = request.base_url
    styles = [f"{base}/demo/static/ol.css"] if map_page else []
    styles.append(f"{base}/demo/static/demo.css")
    links = "".join(f'<link rel="stylesheet" href="{_attr(href)}">' for href in styles)
    document = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n{links}\n</head>\n"
        f'<body class="{"map-page" if map_page else "list-page"}">\n{body}</body>\n</html>\n'
    )
    headers = [
        ("Content-Security-Policy", CSP),
        ("Referrer-Policy", "same-origin"),
        ("Cache-Control", "no-cache"),
        ("Vary", PROXY_VARY),
    ]
    return Response(status, document.encode(), "text/html; charset=utf-8", headers)


def script_json(value: object) -> str:
    """JSON safe inside a <script> element: no `</script>`, `<!--` or entity can end or bend it."""
    # ensure_ascii also turns U+2028/U+2029 (line ends to older JS parsers) into escapes.
    text = json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _attr(value: str) -> str:
    return escape(value, quote=True)


def _seg(value: str) -> str:
    """A URL path segment: every reserved character (and `{`, `}`) percent-encoded."""
    return quote(value, safe="")
