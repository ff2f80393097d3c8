"""Configuration checks beyond single values: unsupported MapProxy options and cross references."""

from __future__ import annotations

from domain.config import (
    BandMergeConf,
    CacheBackendConf,
    CacheConf,
    CompactBackendConf,
    FileCacheBackendConf,
    GeoPackageBackendConf,
    LayerConf,
    MapnikSourceConf,
    MapServerSourceConf,
    MBTilesBackendConf,
    SourceConf,
    TilegateConf,
    TileSourceConf,
    WMSSourceConf,
    split_tag,
    supported_srs,
)
from domain.formats import MIXED, PNG
from domain.grids import BUILTIN_GRIDS, build_grid
from domain.image_options import resolve_format
from domain.source_config import SourceImageConf
from domain.srs import srs as make_srs


def check_left_out(data: dict[object, object]) -> list[str]:
    """A warning for `globals.renderd`, which is removed from `data`: the one MapProxy key
    Tilegate ignores (docs/configuration.md, "Left out, and why"); tiles are rendered in
    process, as MapProxy renders them without a renderd daemon."""
    section = data.get("globals")
    if not isinstance(section, dict) or "renderd" not in section:
        return []
    del section["renderd"]
    return [
        "renderd is ignored: tiles are rendered by Tilegate itself @ $.globals.renderd"
    ]


def check_references(conf: TilegateConf, data: dict[object, object]) -> list[str]:
    """Every name that points nowhere, every cycle of caches and every grid that cannot be built."""
    errors: list[str] = []
    grids = BUILTIN_GRIDS | conf.grids
    for name, cache in conf.caches.items():
        path = f"$.caches[{name!r}]"
        errors += [
            problem
            for s, at in cache_source_paths(cache, f"{path}.sources")
            if (problem := source_reference(s, at, conf))
        ]
        errors += [
            f"unknown grid {g!r} @ {path}.grids[{i}]"
            for i, g in enumerate(cache.grids)
            if g not in grids
        ]
        errors += _direct_source(cache, path)
    errors += _cache_cycles(conf)
    errors += _cache_limits(conf)
    for name, source in conf.sources.items():
        if isinstance(source, TileSourceConf) and source.grid not in grids:
            errors.append(f"unknown grid {source.grid!r} @ $.sources[{name!r}].grid")
        errors += unknown_srs(
            supported_srs(source), f"$.sources[{name!r}].supported_srs"
        )
        errors += _source_format(source, conf, f"$.sources[{name!r}].image.format")
    errors += _srs_globals(conf)
    dict_form = isinstance(data.get("layers"), dict)
    for index, layer in enumerate(conf.layers):
        errors += _layer_references(
            layer,
            f"$.layers[{layer.name!r}]" if dict_form else f"$.layers[{index}]",
            conf,
        )
    for name in conf.grids:
        try:
            build_grid(name, grids)
        except ValueError as exc:
            errors.append(f"{exc} @ $.grids[{name!r}]")
    return errors


def _layer_references(layer: LayerConf, path: str, conf: TilegateConf) -> list[str]:
    errors = [
        problem
        for i, s in enumerate(layer.sources)
        if (problem := source_reference(s, f"{path}.sources[{i}]", conf))
    ]
    errors += [
        f"unknown cache {s!r} (tile_sources are caches) @ {path}.tile_sources[{i}]"
        for i, s in enumerate(layer.tile_sources)
        if s not in conf.caches
    ]
    for index, child in enumerate(layer.layers):
        errors += _layer_references(child, f"{path}.layers[{index}]", conf)
    return errors


def _direct_source(cache: CacheConf, path: str) -> list[str]:
    # As MapProxy: the maps that bypass the cache come from its one source.
    for key in ("use_direct_from_level", "use_direct_from_res"):
        if getattr(cache, key) is not None and (
            isinstance(cache.sources, BandMergeConf) or len(cache.sources) != 1
        ):
            return [f"{key} needs a cache with exactly one source @ {path}.{key}"]
    return []


def cache_source_paths(cache: CacheConf, path: str) -> list[tuple[str, str]]:
    """Each source name a cache uses with its key path (band merging: per channel and band)."""
    if isinstance(cache.sources, BandMergeConf):
        return [
            (band.source, f"{path}.{channel}[{i}].source")
            for channel, bands in cache.sources.channels().items()
            for i, band in enumerate(bands)
        ]
    return [(s, f"{path}[{i}]") for i, s in enumerate(cache.sources)]


def source_reference(name: str, path: str, conf: TilegateConf) -> str | None:
    """What is wrong with a use of source `name` (maybe tagged `name:layer1,layer2`), if anything."""
    base, layers = split_tag(name)
    if base not in conf.sources and base not in conf.caches:
        return f"unknown source or cache {base!r} @ {path}"
    source = conf.sources.get(base)
    if layers is None:
        return None
    # As MapProxy: only a WMS-like or Mapnik source can be asked for some of its layers.
    if isinstance(source, MapnikSourceConf):
        offered: object = ",".join(source.layers) if source.layers else None
    elif isinstance(source, WMSSourceConf | MapServerSourceConf):
        offered = source.req.get("layers")
    else:
        return f"tagged sources ({name}) are only supported for wms, mapserver and mapnik sources @ {path}"
    if not layers:
        return f"no layers after ':' in {name!r} @ {path}"
    if offered is not None:
        missing = [x for x in layers if x not in str(offered).split(",")]
        if missing:
            return f"layers ({','.join(missing)}) not in req.layers of source {base!r} ({offered}) @ {path}"
    return None


def layerless_sources(conf: TilegateConf) -> list[str]:
    """Warnings for WMS and mapserver sources without `req.layers`: MapProxy warns and loads
    them (they work where used tagged, `name:layer1,layer2`; elsewhere the server is asked
    for no layer)."""
    return [
        f"source {name!r} has no req.layers: its maps name no layer unless it is used as"
        f" {name}:layer1,layer2 @ $.sources[{name!r}].req"
        for name, source in conf.sources.items()
        if isinstance(source, WMSSourceConf | MapServerSourceConf)
        and "layers" not in source.req
    ]


def _cache_limits(conf: TilegateConf) -> list[str]:
    """What a cache asks for that cannot work at all."""
    errors = []
    for name, cache in conf.caches.items():
        errors += _one_grid_only(
            cache.cache, len(cache.grids), f"$.caches[{name!r}].cache"
        )
        errors += _cache_formats(cache, conf, f"$.caches[{name!r}]")
    return errors


def _cache_formats(cache: CacheConf, conf: TilegateConf, path: str) -> list[str]:
    """Formats that are neither a `globals.image.formats` name, `mixed` nor one we write."""
    names = {
        "format": cache.format,
        "request_format": cache.request_format,
        "image.format": cache.image.format if cache.image else None,
    }
    formats = {
        key: resolve_format(value, conf.globals.image)
        for key, value in names.items()
        if value is not None
    }
    errors = [
        f"unknown image format {names[key]!r} @ {path}.{key}"
        for key, fmt in formats.items()
        if fmt is None
    ]
    request = formats.get("request_format")
    # As MapProxy: a mixed tile is PNG or JPEG by its transparency, which only PNG brings.
    if formats.get("image.format", formats["format"]) == MIXED and request not in (
        None,
        PNG,
        MIXED,
    ):
        errors.append(
            f"request_format must be image/png when format is mixed @ {path}.request_format"
        )
    return errors


def _source_format(source: SourceConf, conf: TilegateConf, path: str) -> list[str]:
    """A source's `image.format` must name a format a source can be asked for."""
    image = getattr(source, "image", None)
    if not isinstance(image, SourceImageConf) or image.format is None:
        return []
    fmt = resolve_format(image.format, conf.globals.image)
    if fmt is None:
        return [f"unknown image format {image.format!r} @ {path}"]
    if fmt == MIXED:
        return [f"a source sends PNG or JPEG, not mixed images @ {path}"]
    return []


def _one_grid_only(backend: CacheBackendConf, grid_count: int, path: str) -> list[str]:
    """Storage that MapProxy would share between a cache's grids, mixing their tiles."""
    if grid_count < 2:
        return []
    if (
        isinstance(backend, FileCacheBackendConf | CompactBackendConf)
        and backend.directory is not None
    ):
        return [f"one directory cannot hold several grids @ {path}.directory"]
    if isinstance(backend, MBTilesBackendConf):
        return [f"one MBTiles file cannot hold several grids @ {path}"]
    if isinstance(backend, GeoPackageBackendConf) and backend.table_name is not None:
        return [f"one table cannot hold several grids @ {path}.table_name"]
    return []


def unknown_srs(codes: tuple[str, ...] | None, path: str) -> list[str]:
    """A problem for each code of the list at `path` that names no SRS."""
    # Sources are asked and maps drawn in these SRSs: an unknown one stops the start, not a request.
    errors = []
    for index, code in enumerate(codes or ()):
        try:
            make_srs(code)
        except ValueError as exc:
            errors.append(f"{exc} @ {path}[{index}]")
    return errors


def _srs_globals(conf: TilegateConf) -> list[str]:
    srs_conf = conf.globals.srs
    path = "$.globals.srs"
    errors = unknown_srs(srs_conf.axis_order_ne, f"{path}.axis_order_ne")
    errors += unknown_srs(srs_conf.axis_order_en, f"{path}.axis_order_en")
    for target, codes in srs_conf.preferred_src_proj.items():
        at = f"{path}.preferred_src_proj[{target!r}]"
        try:
            make_srs(target)
        except ValueError as exc:
            errors.append(f"{exc} @ {at}")
        errors += unknown_srs(codes, at)
    return errors


def _cache_cycles(conf: TilegateConf) -> list[str]:
    """A cache that is, through other caches, its own source would recurse forever."""
    errors = []
    for name in conf.caches:
        stack: list[tuple[str, tuple[str, ...]]] = [(name, (name,))]
        while stack:
            current, trail = stack.pop()
            for source, at in cache_source_paths(
                conf.caches[current], f"$.caches[{current!r}].sources"
            ):
                if source == name:
                    cycle = " -> ".join((*trail, name))
                    errors.append(f"caches form a cycle: {cycle} @ {at}")
                elif source in conf.caches and source not in trail:
                    stack.append((source, (*trail, source)))
    return _unique_cycles(errors)


def _unique_cycles(errors: list[str]) -> list[str]:
    # Each cycle is found once from every cache on it; report it once, from its first cache.
    seen: set[frozenset[str]] = set()
    out = []
    for error in errors:
        members = frozenset(error.split(": ", 1)[1].split(" @ ")[0].split(" -> "))
        if members not in seen:
            seen.add(members)
            out.append(error)
    return out
