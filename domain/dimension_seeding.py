"""Which combinations of dimension values a seed or cleanup task of a cache works through.

MapProxy 7 seeds a cache of a layer with dimensions only where no value is chosen (tiles no
request reads) and leaves cleaning them to the administrator. Here a task works through the
tiles of every combination of the values its cache's layers offer, or of the values its own
`dimensions:` names (read as the layer's are: a single time value may be an interval).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence

from domain.config import LayerConf, TilegateConf
from domain.dimensions import Chosen, Dimension, LayerDimensions, dimensions_of
from domain.errors import ConfigValueError

# One task per combination: past this many, the task should name the values it wants.
MAX_COMBINATIONS = 10000


def cache_dimensions(
    conf: TilegateConf, cache: str
) -> tuple[LayerDimensions | None, ...]:
    """The dimensions of each user of `cache`: a layer whose tiles come from it (its
    `tile_sources`, else its `sources`; nested layers too), None for a layer without dimensions
    or a cache made from it (both read the tiles stored without values). None alone for a
    cache nothing uses."""
    users: list[LayerDimensions | None] = [
        dimensions_of(layer)
        for layer in _all(conf.layers)
        if cache in (layer.tile_sources or layer.sources)
    ]
    if any(cache in c.source_names() for c in conf.caches.values()) or not users:
        users.append(None)
    return tuple(users)


def _all(layers: Sequence[LayerConf]) -> Iterator[LayerConf]:
    for layer in layers:
        yield layer
        yield from _all(layer.layers)


def picked_values(
    users: Sequence[LayerDimensions | None],
    name: str,
    raw: Sequence[object],
    offered_only: bool = True,
) -> tuple[str, ...]:
    """The values a task names for dimension `name`; ConfigValueError for a dimension no
    layer of the cache has, or (`offered_only`) a value none offers, saying which. Cleanups
    may name values no longer offered: their tiles are what is left to remove."""
    every = [d for ds in users if ds is not None for d in ds.dimensions]
    dims = [d for d in every if d.key == name.lower()]
    if not dims:
        have = ", ".join(sorted({d.key for d in every})) or "none"
        raise ConfigValueError(
            f"the layers of this cache have no dimension {name!r} (they have: {have})"
        )
    values = Dimension.from_conf(dims[0].name, raw, None).values
    for value in values:
        if offered_only and not any(value in d.values for d in dims):
            raise ConfigValueError(
                f"{value!r} is not a value of dimension {name!r}"
                f" ({_listed(dims[0].values)})"
            )
    return values


def _listed(values: Sequence[str]) -> str:
    shown = ", ".join(values[:5])
    return shown + (f", ... ({len(values)} values)" if len(values) > 5 else "")


def combinations(
    users: Sequence[LayerDimensions | None], picked: Mapping[str, Sequence[str]] | None
) -> tuple[Chosen | None, ...]:
    """Every combination of the values of each user's dimensions, each once (None: the tiles
    stored without values). With `picked` (values by lower-case name, maybe of some
    dimensions only) just the combinations of those values: no tiles without values.
    ConfigValueError past MAX_COMBINATIONS."""
    found: dict[Chosen | None, None] = {}
    for dims in users:
        if dims is None:
            if picked is None:
                found[None] = None
            continue
        chosen = picked or {}
        keys = dims.keys()
        per_dim = [chosen.get(d.key, d.values) for d in dims.dimensions]
        for combo in itertools.product(*per_dim):
            found[Chosen.of(zip(keys, combo, strict=True))] = None
            if len(found) > MAX_COMBINATIONS:
                raise ConfigValueError(
                    f"more than {MAX_COMBINATIONS} combinations of dimension values;"
                    " name the values to work on in the task's dimensions"
                )
    return tuple(found)
