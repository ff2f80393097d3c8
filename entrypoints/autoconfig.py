"""A mapproxy.yaml and a seed.yaml made from a remote WMS's capabilities (`tilegate autoconfig`),
laid out as MapProxy's `mapproxy-util autoconfig` lays them out."""

from __future__ import annotations

from typing import Any

from adapters.wms_capabilities import WMSCapabilities, WMSLayer
from domain.errors import ConfigValueError
from domain.formats import MIXED, find_format
from domain.srs import srs as make_srs
from entrypoints.autoconfig_overwrite import overwrite, overwrite_layers

SOURCE_SUFFIX = "_wms"
CACHE_SUFFIX = "_cache"
# seed.yaml cleanups generated for every cache: a date before any tile, so they remove nothing
# until a user (or an overwrite) sets their own `remove_before`.
NEVER = "1900-01-01T00:00:00"


def generate_config(
    caps: WMSCapabilities,
    grids_by_srs: dict[str, str],
    changes: dict[Any, Any] | None = None,
    base: str | None = None,
) -> dict[str, Any]:
    """The mapproxy.yaml for `caps`: a WMS source per named layer, a cache per source where a grid
    of `grids_by_srs` (SRS code -> grid name) is in its supported_srs, the layer tree over them.

    `changes` (an overwrite file) is applied section by section as the sections are made, so
    that a changed `supported_srs` decides the caches and a changed cache the layers' sources.
    """
    rest = dict(changes or {})
    conf: dict[str, Any] = {}
    if base is not None:
        conf["base"] = base
    conf["services"] = overwrite(
        {"wms": {"md": {"title": caps.title}}}, _section(rest, "services")
    )
    conf["sources"] = overwrite(_sources(caps), _section(rest, "sources"))
    conf["caches"] = overwrite(
        _caches(conf["sources"], grids_by_srs), _section(rest, "caches")
    )
    layers = [_layer(caps.root, conf["caches"])]
    if "layers" in rest:
        layers = overwrite_layers(layers, rest.pop("layers"))
    conf["layers"] = layers
    return overwrite(conf, rest)


def generate_seed(
    caches: dict[str, Any], changes: dict[Any, Any] | None = None
) -> dict[str, Any]:
    """The seed.yaml for `caches`: one seed and one cleanup task per cache and grid."""
    seeds: dict[str, Any] = {}
    cleanups: dict[str, Any] = {}
    for name, cache in caches.items():
        grids = cache.get("grids") if isinstance(cache, dict) else None
        for grid in grids if isinstance(grids, list) else ():
            task = {"caches": [name], "grids": [grid]}
            seeds[f"{name}_{grid}"] = task
            cleanups[f"{name}_{grid}"] = {**task, "remove_before": {"time": NEVER}}
    return overwrite({"seeds": seeds, "cleanups": cleanups}, changes or {})


def _section(changes: dict[Any, Any], key: str) -> dict[Any, Any]:
    value = changes.pop(key, None)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigValueError(f"{key} in an overwrite file must be a mapping")
    return value


def _named_layers(layer: WMSLayer) -> list[WMSLayer]:
    own = [layer] if layer.name else []
    return own + [found for child in layer.layers for found in _named_layers(child)]


def _sources(caps: WMSCapabilities) -> dict[str, Any]:
    formats = list(
        dict.fromkeys(
            f for f in caps.formats if (fmt := find_format(f)) and fmt != MIXED
        )
    )
    sources: dict[str, Any] = {}
    for layer in _named_layers(caps.root):
        req: dict[str, Any] = {"url": caps.url, "layers": layer.name}
        if not layer.opaque:
            req["transparent"] = True
        source: dict[str, Any] = {
            "type": "wms",
            "req": req,
            "supported_srs": sorted(c for c in layer.srs if _known_srs(c)),
        }
        if formats:
            source["supported_formats"] = formats
        wms_opts: dict[str, Any] = {}
        if caps.version != "1.1.1":
            wms_opts["version"] = caps.version
        if layer.queryable:
            wms_opts["featureinfo"] = True
        if layer.legend_url:
            wms_opts["legendurl"] = layer.legend_url
        if wms_opts:
            source["wms_opts"] = wms_opts
        if layer.llbbox:
            source["coverage"] = {"srs": "EPSG:4326", "bbox": list(layer.llbbox)}
        source |= _range("min_res", "max_res", layer.res_hint)
        source |= _range("max_scale", "min_scale", layer.scale_hint)
        sources[f"{layer.name}{SOURCE_SUFFIX}"] = source
    return sources


def _range(
    coarse_key: str, fine_key: str, hint: tuple[float | None, float | None]
) -> dict[str, float]:
    """A source's scale hint keys; a range that is empty or inverted is left out as unusable."""
    coarse, fine = hint
    if coarse is not None and fine is not None and coarse <= fine:
        return {}
    return {k: v for k, v in ((coarse_key, coarse), (fine_key, fine)) if v is not None}


def _known_srs(code: str) -> bool:
    return _srs_code(code) is not None


def _srs_code(code: object) -> str | None:
    """The normalised code (`EPSG:3857`), or None for a code that names no known SRS."""
    try:
        return make_srs(str(code)).code
    except ConfigValueError:
        return None


def _caches(sources: dict[str, Any], grids_by_srs: dict[str, str]) -> dict[str, Any]:
    caches: dict[str, Any] = {}
    for name, source in sources.items():
        if not (isinstance(source, dict) and name.endswith(SOURCE_SUFFIX)):
            continue
        codes = source.get("supported_srs")
        grids = [
            grids_by_srs[code]
            for code in map(_srs_code, codes if isinstance(codes, list) else [])
            if code in grids_by_srs
        ]
        if grids:
            caches[name[: -len(SOURCE_SUFFIX)] + CACHE_SUFFIX] = {
                "grids": list(dict.fromkeys(grids)),
                "sources": [name],
            }
    return caches


def _layer(layer: WMSLayer, caches: dict[str, Any]) -> dict[str, Any]:
    conf: dict[str, Any] = {"title": layer.title}
    if layer.name:
        conf["name"] = layer.name
        cache = f"{layer.name}{CACHE_SUFFIX}"
        conf["sources"] = [cache if cache in caches else f"{layer.name}{SOURCE_SUFFIX}"]
    if layer.abstract:
        conf["md"] = {"abstract": layer.abstract}
    if layer.layers:
        conf["layers"] = [_layer(child, caches) for child in layer.layers]
    return conf
