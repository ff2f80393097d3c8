"""The WMS layer tree: named and unnamed layers and groups, what each draws, where it has data."""

from __future__ import annotations

import attrs

from domain.config import LayerConf, TileSourceConf, WMSSourceConf
from domain.coverage import Coverage, union
from domain.srs import SRS, srs
from domain.wms_map import CachedSource, DirectSource, LayerSource, MapLayer, extent
from entrypoints.bootstrap import AppState


@attrs.frozen
class WMSLayer:
    """A layer of the capabilities tree; `map_layers` is what a GetMap of its name draws."""

    name: str | None
    title: str
    abstract: str
    children: tuple[WMSLayer, ...]
    map_layers: tuple[MapLayer, ...]
    extent: Coverage | None


def layer_tree(
    conf: LayerConf, state: AppState, named: dict[str, WMSLayer]
) -> WMSLayer:
    children = tuple(layer_tree(child, state, named) for child in conf.layers)
    abstract = str((conf.md or {}).get("abstract", ""))
    if conf.sources:
        sources = tuple(_layer_source(name, state) for name in conf.sources)
        layer = WMSLayer(
            conf.name,
            conf.title,
            abstract,
            children,
            (MapLayer(conf.name or conf.title, sources),),
            extent(sources),
        )
    else:
        layer = group_layer(conf.name, conf.title, abstract, children)
    if conf.name is not None:
        named[conf.name] = layer
    return layer


def group_layer(
    name: str | None, title: str, abstract: str, children: tuple[WMSLayer, ...]
) -> WMSLayer:
    """A layer without sources of its own: it draws its children, it covers where they do."""
    extents = [c.extent for c in children if c.extent is not None]
    area = None
    if extents:
        area = extents[0] if len(extents) == 1 else union(extents)
    drawn = tuple(m for c in children for m in c.map_layers)
    return WMSLayer(name, title, abstract, children, drawn, area)


def _layer_source(name: str, state: AppState) -> LayerSource:
    if name in state.caches:
        return CachedSource(state.caches[name])
    conf = state.conf.sources[name]
    supported: tuple[SRS, ...] | None = None
    if isinstance(conf, WMSSourceConf) and conf.supported_srs:
        supported = tuple(srs(code) for code in conf.supported_srs)
    elif isinstance(conf, TileSourceConf):
        supported = (state.grids[conf.grid].srs,)
    return DirectSource(state.sources[name], supported)
