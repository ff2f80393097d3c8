"""WMS GetMap of layers with dimensions: TIME, ELEVATION and DIM_<name> pick what the layer's
sources draw, cached or not."""

from __future__ import annotations

import attrs

from domain.dimension_tiles import DimensionTileSets, WithParams
from domain.dimensions import Chosen
from domain.wms_map import DirectSource, LayerSource, MapLayer


def dimension_layers(
    layers: list[MapLayer], args: dict[str, str], variants: DimensionTileSets
) -> list[MapLayer]:
    """layers, each one with dimensions drawn with the values `args` (lower-case GetMap
    parameters) pick, its default where a value is missing; RequestError for a value a layer
    does not offer. A cache draws from the tiles of those values (as WMTS serves them); a
    source, and a cache's source asked directly (`use_direct_from_level`/`_res`), is asked
    with them, sending those its `forward_req_params` names.

    Unlike MapProxy 7, which stores whatever a GetMap's TIME says under `TIME-<value>/` (and
    answers a 500 for `..`) and passes uncached sources only what the client sent, values are
    checked and defaults reach every source."""
    drawn = []
    for layer in layers:
        if layer.dimensions is None:
            drawn.append(layer)
            continue
        chosen = layer.dimensions.choose(
            lambda d: args.get(d.wms_param, args.get(d.key))
        )
        sources = tuple(_for_values(s, chosen, variants) for s in layer.sources)
        drawn.append(attrs.evolve(layer, sources=sources))
    return drawn


def _for_values(
    source: LayerSource, chosen: Chosen, variants: DimensionTileSets
) -> LayerSource:
    if isinstance(source, DirectSource):
        return _asked_with(source, chosen)
    return attrs.evolve(
        source,
        tilesets=tuple(variants.get(ts, chosen) for ts in source.tilesets),
        direct=None if source.direct is None else _asked_with(source.direct, chosen),
    )


def _asked_with(source: DirectSource, chosen: Chosen) -> DirectSource:
    return attrs.evolve(source, source=WithParams(source.source, chosen.params))
