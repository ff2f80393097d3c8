"""WMS GetMap of layers with dimensions: TIME, ELEVATION and DIM_<name> pick the cached tiles."""

from __future__ import annotations

import attrs

from domain.wms_map import CachedSource, MapLayer
from entrypoints.bootstrap import AppState


def dimension_layers(
    layers: list[MapLayer], args: dict[str, str], state: AppState
) -> list[MapLayer]:
    """layers, each cached layer with dimensions drawn from the tiles of the values `args`
    (lower-case GetMap parameters) pick; RequestError for a value a layer does not offer.
    Unlike MapProxy 7, which stores whatever a GetMap's TIME says under `TIME-<value>/` (and
    answers a 500 for `..`), values are checked and the tiles are the ones WMTS serves."""
    drawn = []
    for layer in layers:
        tiled = state.layers.get(layer.name)
        if tiled is None or tiled.dimensions is None:
            drawn.append(layer)
            continue
        chosen = tiled.dimensions.choose(
            lambda d: args.get(d.wms_param, args.get(d.key))
        )
        sources = tuple(
            attrs.evolve(
                s,
                tilesets=tuple(tiled.variants.get(ts, chosen) for ts in s.tilesets),
            )
            if isinstance(s, CachedSource)
            else s
            for s in layer.sources
        )
        drawn.append(attrs.evolve(layer, sources=sources))
    return drawn
