"""Access control through MapProxy's authorization callback.

An auth middleware in front of the app puts a callable under `mapproxy.authorize` in the WSGI
environ. Each service asks it `callback(service, layers, environ=..., query_extent=...)` and
gets a dict: `authorized` is `full`, `partial` (then `layers` maps each permitted layer name to
its features, e.g. `{"map": True, "featureinfo": True, "tile": True}`), `none` (403) or
`unauthenticated` (401); `limited_to` (top level or per layer) is a geometry requests are
clipped to. Without a callback everything is permitted and nothing here costs anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
from shapely.geometry.base import BaseGeometry

from adapters import logs
from domain.bbox import Bbox
from domain.coverage import Coverage, bbox_coverage, polygon_coverage
from domain.errors import TilegateError
from domain.featureinfo import InfoSource
from domain.grid import Grid, TileCoord
from domain.srs import SRS, srs
from domain.wms_map import MapLayer
from entrypoints.http import Request, Response
from entrypoints.ogc import AccessDeniedError
from entrypoints.wms_layers import WMSLayer, group_layer

AUTHORIZE = "mapproxy.authorize"
Callback = Callable[..., Any]
QueryExtent = tuple[str, tuple[float, float, float, float]]


@attrs.frozen
class Permit:
    """What a request may do with one layer: its features, and where it may see it."""

    features: frozenset[str]
    limit: Coverage | None = None


@attrs.frozen
class Grant:
    """What the callback allowed one request; `layers` None means every layer, every feature."""

    layers: Mapping[str, Permit] | None = None
    # The top-level `limited_to`: applies to every layer (tiles: unless the layer has its own).
    limit: Coverage | None = None

    def permits(self, name: str, feature: str) -> bool:
        if self.layers is None:
            return True
        permit = self.layers.get(name)
        return permit is not None and feature in permit.features

    def layer_limit(self, name: str) -> Coverage | None:
        """The layer's own `limited_to` (WMS also clips the whole map to the top-level one)."""
        permit = None if self.layers is None else self.layers.get(name)
        return None if permit is None else permit.limit

    def tile_limit(self, name: str) -> Coverage | None:
        """Where a tile layer may be seen: its own `limited_to`, else the top-level one."""
        return self.layer_limit(name) or self.limit


FULL = Grant()


def guarded(request: Request) -> bool:
    """Whether an auth middleware is in front of this request."""
    return AUTHORIZE in request.environ


def authorize(
    request: Request,
    service: str,
    layers: Sequence[str],
    **query_extent: QueryExtent | None,
) -> Grant:
    """Ask the callback about `layers` for `service` (`wms.map`, `tms`, ...); raises
    AccessDeniedError for `none` and `unauthenticated`, and for answers it cannot read."""
    callback: Callback | None = request.environ.get(AUTHORIZE)
    if callback is None:
        return FULL
    # As MapProxy: WMS capabilities and the demo are asked without a query_extent argument.
    result = callback(service, list(layers), environ=request.environ, **query_extent)
    try:
        return _grant(result)
    except AccessDeniedError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, TilegateError) as exc:
        # Fail closed: an answer we cannot read permits nothing.
        logs.get_logger(logs.SYSTEM).error(
            "unreadable authorize answer", service=service, error=str(exc)
        )
        raise AccessDeniedError() from None


def extent(srs_: SRS, bbox: Bbox) -> QueryExtent:
    """A `query_extent` as MapProxy passes it: (SRS code, (minx, miny, maxx, maxy))."""
    return (srs_.code, bbox.as_tuple())


def tile_extent(grid: Grid, coord: TileCoord) -> QueryExtent:
    """The `query_extent` of one tile: its grid's SRS and the tile's bbox."""
    return extent(grid.srs, grid.tile_bbox(coord))


def tile_coord_access(
    request: Request, service: str, layer: str, grid: Grid, coord: TileCoord
) -> Coverage | None:
    """tile_access for one tile, whose extent is worked out only when a callback asks: the
    cached-tile path without one does no more than look the callback up."""
    if not guarded(request):
        return None
    return tile_access(request, service, layer, tile_extent(grid, coord))


def tile_access(
    request: Request,
    service: str,
    layer: str,
    area: QueryExtent | None,
    feature: str = "tile",
) -> Coverage | None:
    """Where a tile request (or a tile map's metadata, `area` None; or, `feature`
    "featureinfo", a WMTS GetFeatureInfo) of `layer` may see it: None for everywhere;
    AccessDeniedError unless the layer is permitted for `feature`."""
    if not guarded(request):
        return None
    grant = authorize(request, service, [layer], query_extent=area)
    if not grant.permits(layer, feature):
        raise AccessDeniedError()
    return grant.tile_limit(layer)


def tile_layers_seen(
    request: Request, service: str, layers: Sequence[str]
) -> list[str]:
    """The tile layers a capabilities document may list for this request."""
    if not guarded(request):
        return list(layers)
    grant = authorize(request, service, layers, query_extent=None)
    return [name for name in layers if grant.permits(name, "tile")]


def private(response: Response) -> Response:
    """An answer that depended on who asked: shared caches must not hand it to others."""
    kept, max_age = [], ""
    for name, value in response.headers:
        if name.lower() != "cache-control":
            kept.append((name, value))
            continue
        ages = [p.strip() for p in value.split(",") if p.strip().startswith("max-age=")]
        max_age = f", {ages[0]}" if ages else ""
    kept.append(("Cache-Control", f"private{max_age}"))
    return attrs.evolve(response, headers=kept)


def demo_access(request: Request) -> None:
    """The demo lists every layer: it needs `full` (as MapProxy), else 403 (401)."""
    if guarded(request) and authorize(request, "demo", []).layers is not None:
        raise AccessDeniedError()


def permitted_map_layers(
    grant: Grant,
    names: Sequence[str],
    drawn: Mapping[str, Sequence[MapLayer]],
    feature: str = "map",
) -> list[MapLayer]:
    """What the requested layers draw that the grant permits for `feature`, each with its limit.

    A denied layer asked for by name is a 403; one drawn as part of a group is left out (as in
    MapProxy); a request left with nothing to draw is a 403 too."""
    if grant.layers is None:
        return [m for name in names for m in drawn[name]]
    kept: list[MapLayer] = []
    for name in names:
        for layer in drawn[name]:
            if grant.permits(layer.name, feature):
                kept.append(attrs.evolve(layer, limit=grant.layer_limit(layer.name)))
            elif layer.name == name:
                raise AccessDeniedError()
    if not kept:
        raise AccessDeniedError()
    return kept


def permitted_info_sources(
    grant: Grant,
    names: Sequence[str],
    named: Mapping[str, WMSLayer],
    pixel: Bbox,
    pixel_srs: SRS,
) -> tuple[InfoSource, ...]:
    """The feature info sources of the requested layers the grant permits, without those whose
    `limited_to` leaves out the queried pixel (`pixel`: its area in the map's SRS)."""
    drawn = {name: named[name].map_layers for name in names}
    sources: list[InfoSource] = []
    for layer in permitted_map_layers(grant, names, drawn, "featureinfo"):
        limits = [c for c in (layer.limit, grant.limit) if c is not None]
        if layer.name not in named or any(
            not c.intersects(pixel, pixel_srs) for c in limits
        ):
            continue
        sources.extend(s for s in named[layer.name].info_sources if s not in sources)
    return tuple(sources)


def visible_layers(layer: WMSLayer, grant: Grant) -> WMSLayer | None:
    """The capabilities tree as the grant lets a request see it: layers not permitted for `map`
    gone (with what is below them), groups left with nothing gone, layers without
    `featureinfo` not queryable. None if nothing is left."""
    children = tuple(
        c for c in (visible_layers(c, grant) for c in layer.children) if c is not None
    )
    from_children = {m.name for c in layer.children for m in c.map_layers}
    own = [m for m in layer.map_layers if m.name not in from_children]
    if own:
        if not all(grant.permits(m.name, "map") for m in own):
            return None
        queryable = all(grant.permits(m.name, "featureinfo") for m in own)
        return attrs.evolve(
            layer,
            children=children,
            info_sources=layer.info_sources if queryable else (),
        )
    if not children:
        return None
    group = group_layer(layer.name, layer.title, layer.md, children)
    return attrs.evolve(group, res_range=layer.res_range)


def _grant(result: Mapping[str, Any]) -> Grant:
    authorized = result["authorized"]
    if authorized == "unauthenticated":
        raise AccessDeniedError(unauthenticated=True)
    if authorized == "none":
        raise AccessDeniedError()
    limit = _limit(result.get("limited_to"))
    if authorized == "full":
        return Grant(None, limit)
    if authorized != "partial":
        raise ValueError(f"unknown authorized value {authorized!r}")
    layers = {
        str(name): Permit(
            frozenset(k for k, v in perms.items() if v is True),
            _limit(perms.get("limited_to")),
        )
        for name, perms in (result.get("layers") or {}).items()
    }
    return Grant(layers, limit)


def _limit(value: Mapping[str, Any] | None) -> Coverage | None:
    """A `limited_to`: geometry (Shapely, WKT or GeoJSON text, or a bbox list) in `srs`."""
    if not value:
        return None
    geometry, code = value["geometry"], srs(str(value["srs"]))
    if isinstance(geometry, BaseGeometry):
        geometry = geometry.wkt
    if isinstance(geometry, str):
        return polygon_coverage(geometry, code)
    return bbox_coverage(Bbox(*(float(v) for v in geometry)), code)
