"""The WMS layer tree: named and unnamed layers and groups, what each draws, where it has data."""

from __future__ import annotations

import attrs

from domain.config import (
    LayerConf,
    TileSourceConf,
    source_opacity,
    split_tag,
    supported_srs,
)
from domain.coverage import Coverage, union
from domain.dimensions import LayerDimensions, dimensions_of
from domain.featureinfo import InfoSource, LegendSource
from domain.layer_md import LayerMd, layer_md
from domain.res_range import ResRange, res_range
from domain.source_config import source_resampling
from domain.srs import SRS, srs
from domain.wms_map import CachedSource, DirectSource, LayerSource, MapLayer, extent
from entrypoints.bootstrap import AppState


@attrs.frozen
class WMSLayer:
    """A layer of the capabilities tree; `map_layers` is what a GetMap of its name draws."""

    name: str | None
    title: str
    md: LayerMd
    children: tuple[WMSLayer, ...]
    map_layers: tuple[MapLayer, ...]
    extent: Coverage | None
    # The sources GetFeatureInfo asks (empty: not queryable) and the legends it stacks.
    info_sources: tuple[InfoSource, ...] = ()
    legends: tuple[LegendSource, ...] = ()
    # The layer's own min/max res or scale, advertised in capabilities.
    res_range: ResRange | None = None
    # Its own dimensions (TIME, ...), advertised in capabilities whatever its sources are.
    dimensions: LayerDimensions | None = None


def layer_tree(
    conf: LayerConf, state: AppState, named: dict[str, WMSLayer]
) -> WMSLayer:
    children = tuple(layer_tree(child, state, named) for child in conf.layers)
    md = layer_md(conf.md)
    own = res_range(conf.min_res, conf.max_res, conf.min_scale, conf.max_scale)
    if conf.sources:
        sources = tuple(_layer_source(name, state) for name in conf.sources)
        dimensions = dimensions_of(conf)
        layer = WMSLayer(
            conf.name,
            conf.title,
            md,
            children,
            (
                MapLayer(
                    conf.name or conf.title,
                    sources,
                    (own,) if own else (),
                    dimensions=dimensions,
                ),
            ),
            extent(sources),
            tuple(s for name in conf.sources for s in state.info_sources(name)),
            (state.legends[conf.name],)
            if conf.name in state.legends
            else tuple(s for name in conf.sources for s in state.legend_sources(name)),
            res_range=own,
            dimensions=dimensions,
        )
    else:
        layer = group_layer(conf.name, conf.title, md, children)
        if own is not None:
            # A group's range also limits every layer drawn through it.
            drawn = tuple(
                attrs.evolve(m, res_ranges=(own, *m.res_ranges))
                for m in layer.map_layers
            )
            layer = attrs.evolve(layer, map_layers=drawn, res_range=own)
        if conf.name in state.legends:
            layer = attrs.evolve(layer, legends=(state.legends[conf.name],))
    if conf.name is not None:
        named[conf.name] = layer
    return layer


def group_layer(
    name: str | None, title: str, md: LayerMd, children: tuple[WMSLayer, ...]
) -> WMSLayer:
    """A layer without sources of its own: it draws its children, it covers where they do."""
    extents = [c.extent for c in children if c.extent is not None]
    area = None
    if len(extents) == 1:
        area = extents[0]
    elif extents:
        # On the globe: in one child's projection another's area may not exist (the world
        # in a UTM zone's coordinates).
        area = union([e.transformed(srs("EPSG:4326")) for e in extents])
    drawn = tuple(m for c in children for m in c.map_layers)
    return WMSLayer(
        name,
        title,
        md,
        children,
        drawn,
        area,
        tuple(s for c in children for s in c.info_sources),
        tuple(s for c in children for s in c.legends),
    )


def _cached_source(name: str, state: AppState) -> CachedSource:
    """A cache as WMS draws it; with `use_direct_from_level`/`_res`, its one source (as the
    cache asks it) draws the finer maps."""
    tilesets = state.caches[name]
    conf = state.conf.caches[name]
    grid = tilesets[0].grid
    direct_res = conf.use_direct_from_res
    if conf.use_direct_from_level is not None:
        level = conf.use_direct_from_level
        # A level beyond the grid: no map is that fine.
        direct_res = grid.res[level] if level < grid.num_levels else None
    if direct_res is None:
        return CachedSource(tilesets)
    (source_name,) = conf.source_names()
    source_conf = state.conf.sources.get(split_tag(source_name)[0])
    supported = None
    if isinstance(source_conf, TileSourceConf):
        supported = (state.grids[source_conf.grid].srs,)
    direct = DirectSource(tilesets[0].sources[0], supported)
    return CachedSource(tilesets, direct, direct_res)


def _layer_source(name: str, state: AppState) -> LayerSource:
    if name in state.caches:
        return _cached_source(name, state)
    conf = state.conf.sources[split_tag(name)[0]]
    supported: tuple[SRS, ...] | None = None
    if codes := supported_srs(conf):
        supported = tuple(srs(code) for code in codes)
    elif isinstance(conf, TileSourceConf):
        supported = (state.grids[conf.grid].srs,)
    return DirectSource(
        state.sources[name], supported, source_opacity(conf), source_resampling(conf)
    )
