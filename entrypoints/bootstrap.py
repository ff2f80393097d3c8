"""The composition root: the one place that turns a configuration into wired objects."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TypeVar

import attrs

from adapters.config import LoadedConfig
from adapters.debug_source import DebugSource
from adapters.fcntl_locker import FcntlLocker
from adapters.file_cache import FileCache, cache_directory
from adapters.geojson_source import GeoJSONSource
from adapters.http_client import HttpClient
from adapters.tile_source import TileSource
from adapters.wms_source import WMSSource
from domain.config import (
    CacheConf,
    DebugSourceConf,
    GeoJSONSourceConf,
    LayerConf,
    SourceConf,
    TilegateConf,
    TileSourceConf,
    WMSSourceConf,
)
from domain.coverage import coverage_from_conf
from domain.formats import image_format
from domain.grid import Grid
from domain.grids import resolve_grids
from domain.imaging import EncodeOptions
from domain.ports import MapSource
from domain.source_limits import LimitedSource
from domain.tiles import TileSet

T = TypeVar("T")


@attrs.frozen
class TileLayer:
    """A layer served as tiles: one tile set per grid of its cache, in the cache's grid order."""

    name: str
    title: str
    tilesets: tuple[TileSet, ...]
    md: dict[str, object]


@attrs.frozen
class AppState:
    """Everything a running app needs, built once per configuration."""

    conf: TilegateConf
    config_path: Path | None
    grids: dict[str, Grid]
    layers: dict[str, TileLayer]
    max_age: int
    allow_origin: str | None


def bootstrap(loaded: LoadedConfig, config_path: Path | None) -> AppState:
    conf = loaded.conf
    here = config_path.parent if config_path is not None else Path.cwd()
    grids = resolve_grids(conf.grids)
    base_dir = here / conf.globals.cache.base_dir
    # As MapProxy: `lock_dir` holds the upstream request slots, `tile_lock_dir` (by default
    # `tile_locks` beside each cache's directories) the meta-tile locks.
    http = HttpClient(conf.globals.http, lock_dir=here / conf.globals.cache.lock_dir)
    lockers: dict[Path, FcntlLocker] = {}
    sources: dict[str, MapSource] = {}

    def locker(cache: CacheConf) -> FcntlLocker:
        tile_lock_dir = cache.tile_lock_dir or conf.globals.cache.tile_lock_dir
        directory = (
            here / tile_lock_dir
            if tile_lock_dir
            else here / (cache.cache_dir or base_dir) / "tile_locks"
        )
        return lockers.setdefault(directory, FcntlLocker(directory))

    def source(name: str) -> MapSource:
        if name not in sources:
            sources[name] = _make_source(conf.sources[name], grids, http, here)
        return sources[name]

    def tilesets(cache_name: str, cache: CacheConf) -> tuple[TileSet, ...]:
        g = conf.globals.cache
        fmt = image_format(cache.format)
        return tuple(
            TileSet(
                name=f"{cache_name}_{grids[grid_name].name}",
                grid=grids[grid_name],
                cache=FileCache(
                    # Relative directories are relative to the configuration file, as in MapProxy.
                    here
                    / cache_directory(
                        base_dir,
                        cache_name,
                        grids[grid_name],
                        cache.cache,
                        cache.cache_dir,
                    ),
                    cache.cache.directory_layout,
                    fmt.ext,
                    link_single_color_images=_pick(
                        cache.link_single_color_images, g.link_single_color_images
                    ),
                ),
                sources=tuple(source(s) for s in cache.sources),
                format=fmt,
                request_format=image_format(cache.request_format or cache.format),
                locker=locker(cache),
                clock=time.time,
                meta_size=cache.meta_size or g.meta_size,
                meta_buffer=_pick(cache.meta_buffer, g.meta_buffer),
                minimize_meta_requests=_pick(
                    cache.minimize_meta_requests, g.minimize_meta_requests
                ),
                disable_storage=cache.disable_storage,
                link_single_color_images=_pick(
                    cache.link_single_color_images, g.link_single_color_images
                ),
                lock_timeout=g.lock_timeout,
                encode_options=EncodeOptions(paletted=conf.globals.image.paletted),
            )
            for grid_name in cache.grids
        )

    built: dict[str, tuple[TileSet, ...]] = {}
    layers: dict[str, TileLayer] = {}
    for layer in _named_layers(conf.layers):
        # As MapProxy: a layer is tiled when its only source is a cache.
        if (
            len(layer.sources) != 1
            or layer.sources[0] not in conf.caches
            or layer.name is None
        ):
            continue
        cache_name = layer.sources[0]
        if cache_name not in built:
            built[cache_name] = tilesets(cache_name, conf.caches[cache_name])
        layers[layer.name] = TileLayer(
            layer.name, layer.title, built[cache_name], dict(layer.md or {})
        )
    return AppState(
        conf=conf,
        config_path=config_path,
        grids=grids,
        layers=layers,
        max_age=int(conf.globals.tiles.expires_hours * 3600),
        allow_origin=conf.globals.http.access_control_allow_origin
        if conf.globals.http.access_control_allow_origin is not None
        else "*",
    )


def _pick(value: T | None, default: T) -> T:
    return default if value is None else value


def _named_layers(layers: tuple[LayerConf, ...]) -> list[LayerConf]:
    found: list[LayerConf] = []
    for layer in layers:
        found.append(layer)
        found.extend(_named_layers(layer.layers))
    return found


def _make_source(
    conf: SourceConf, grids: dict[str, Grid], http: HttpClient, here: Path
) -> MapSource:
    source = _make_plain_source(conf, grids, http, here)
    if not isinstance(conf, WMSSourceConf | TileSourceConf) or (
        conf.coverage is None
        and conf.min_res is None
        and conf.max_res is None
        and not conf.seed_only
    ):
        return source
    coverage = None
    if conf.coverage is not None:
        coverage = coverage_from_conf(
            conf.coverage, lambda name: (here / name).read_text(encoding="utf-8")
        )
    return LimitedSource(source, coverage, conf.min_res, conf.max_res, conf.seed_only)


def _make_plain_source(
    conf: SourceConf, grids: dict[str, Grid], http: HttpClient, here: Path
) -> MapSource:
    match conf:
        case WMSSourceConf():
            return WMSSource(conf, http)
        case TileSourceConf():
            return TileSource(conf, grids[conf.grid], http)
        case DebugSourceConf():
            return DebugSource()
        case GeoJSONSourceConf():
            return GeoJSONSource(conf, (here / conf.file).read_text(encoding="utf-8"))
