"""Configuration check for layer dimensions: where the tiles of each value can be kept."""

from __future__ import annotations

from domain.config import FileCacheBackendConf, LayerConf, TilegateConf


def check_dimensions(conf: TilegateConf, data: dict[object, object]) -> list[str]:
    """A problem for each layer with dimensions whose tiles come from a cache that cannot
    keep them apart per value: as MapProxy, only file caches can (or `disable_storage`)."""
    errors: list[str] = []
    dict_form = isinstance(data.get("layers"), dict)
    for index, layer in enumerate(conf.layers):
        path = f"$.layers[{layer.name!r}]" if dict_form else f"$.layers[{index}]"
        errors += _layer(layer, path, conf)
    return errors


def _layer(layer: LayerConf, path: str, conf: TilegateConf) -> list[str]:
    errors = []
    if layer.dimensions:
        for name in layer.tile_sources or layer.sources:
            cache = conf.caches.get(name)
            if cache is None or cache.disable_storage:
                continue
            if not isinstance(cache.cache, FileCacheBackendConf):
                errors.append(
                    f"layer {layer.name!r} has dimensions, but cache {name!r} is of type"
                    f" {cache.cache.type!r}: only file caches keep tiles apart per dimension"
                    " value (or set disable_storage: true) @ "
                    f"{path}.dimensions"
                )
    for index, child in enumerate(layer.layers):
        errors += _layer(child, f"{path}.layers[{index}]", conf)
    return errors
