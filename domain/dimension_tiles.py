"""The tile set that holds the tiles of one combination of dimension values."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

from domain.dimensions import Chosen
from domain.ports import MapQuery, MapSource, SourceImage, TileCache
from domain.tiles import TileSet


@runtime_checkable
class DimensionalCache(Protocol):
    """A cache that can keep tiles apart per combination of dimension values."""

    def for_dimensions(self, path: str) -> TileCache:
        """The same cache for the tiles stored under `path` (see Chosen.path)."""
        ...


@attrs.frozen
class WithParams:
    """A source asked with the request parameters of one combination of dimension values
    (a WMS source sends the ones its `forward_req_params` names)."""

    source: MapSource
    params: tuple[tuple[str, str], ...]

    @property
    def supports_meta_tiles(self) -> bool:
        return self.source.supports_meta_tiles

    @property
    def transparent(self) -> bool:
        return self.source.transparent

    def get_map(self, query: MapQuery) -> SourceImage:
        return self.source.get_map(
            attrs.evolve(query, params=query.params + self.params)
        )


# Tile sets per combination of values are kept; past this many the memo starts afresh.
MAX_VARIANTS = 4096


@attrs.define
class DimensionTileSets:
    """The tile set of each combination of dimension values, made when first asked for."""

    _made: dict[tuple[int, Chosen], TileSet] = attrs.Factory(dict)

    def get(self, tiles: TileSet, chosen: Chosen) -> TileSet:
        key = (id(tiles), chosen)
        if (made := self._made.get(key)) is None:
            if len(self._made) >= MAX_VARIANTS:
                self._made.clear()
            made = self._made[key] = for_dimensions(tiles, chosen)
        return made


def for_dimensions(tiles: TileSet, chosen: Chosen) -> TileSet:
    """tiles, made from sources asked with the chosen values and stored apart per value."""
    cache = tiles.cache
    if not tiles.disable_storage:
        if not isinstance(cache, DimensionalCache):
            # The configuration check rules this out (only file caches keep values apart).
            raise TypeError(f"cache of {tiles.name!r} cannot store dimensions")
        cache = cache.for_dimensions(chosen.path)
    return attrs.evolve(
        tiles,
        name=f"{tiles.name}[{chosen.path}]",
        cache=cache,
        sources=tuple(WithParams(s, chosen.params) for s in tiles.sources),
    )
