"""Configuration checks of the map services (WMS, OGC API): SRS codes, formats, layer `md`."""

from __future__ import annotations

from adapters.config_checks import unknown_srs
from domain.config import LayerConf, TilegateConf
from domain.image_options import resolve_format
from domain.layer_md import check_layer_md


def check_wms(conf: TilegateConf) -> list[str]:
    """Problems, each ending in its key path: unknown `srs`/`bbox_srs` codes, bad layer md."""
    errors = check_layer_md(conf.layers) + _check_ogcapi(conf)
    wms = conf.services.wms
    if wms is None:
        return errors
    bbox_srs = tuple(e if isinstance(e, str) else e.srs for e in wms.bbox_srs or ())
    errors += unknown_srs(wms.srs, "$.services.wms.srs")
    errors += unknown_srs(bbox_srs, "$.services.wms.bbox_srs")
    return errors


def _check_ogcapi(conf: TilegateConf) -> list[str]:
    """Unknown `map_srs` codes, `image_formats` and `default_dataset_layers` of OGC API."""
    ogcapi = conf.services.ogcapi
    if ogcapi is None:
        return []
    errors = unknown_srs(ogcapi.map_srs, "$.services.ogcapi.map_srs")
    errors += [
        f"unknown image format {name!r} @ $.services.ogcapi.image_formats[{index}]"
        for index, name in enumerate(ogcapi.image_formats)
        if resolve_format(name, conf.globals.image) is None
    ]
    named = _layer_names(conf.layers)
    errors += [
        f"unknown layer {name!r} @ $.services.ogcapi.default_dataset_layers[{index}]"
        for index, name in enumerate(ogcapi.default_dataset_layers or ())
        if name not in named
    ]
    return errors


def _layer_names(layers: tuple[LayerConf, ...]) -> set[str]:
    names = {layer.name for layer in layers if layer.name is not None}
    for layer in layers:
        names |= _layer_names(layer.layers)
    return names
