"""The composition root: the one place that turns a configuration into wired objects."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from adapters.arcgis_source import ArcGISSource
from adapters.config import LoadedConfig
from adapters.fcntl_locker import FcntlLocker
from adapters.fonts import load_fonts
from adapters.http_client import HttpClient
from adapters.mapserver_source import MapServerSource
from adapters.proj_data import use_proj_data_dir
from adapters.thread_runner import ThreadRunner
from adapters.time_spec import bad_key, moment_of
from adapters.wms_source import StaticLegend, WMSSource
from adapters.xslt import XSLTransform
from domain.band_merge import BandMerge
from domain.cache_source import CacheSource
from domain.config import (
    BandMergeConf,
    CacheConf,
    HttpConf,
    LayerConf,
    TilegateConf,
    source_opacity,
    split_tag,
    supported_srs,
)
from domain.dimension_tiles import DimensionTileSets
from domain.dimensions import LayerDimensions, dimensions_of
from domain.errors import ConfigError, ConfigValueError, SourceError
from domain.featureinfo import InfoSource, InfoTransform, LegendSource
from domain.fonts import Fonts
from domain.formats import MIXED, PNG, ImageFormat
from domain.grid import Grid
from domain.grids import resolve_grids
from domain.image_options import (
    encode_options,
    resampling,
    resolve_format,
    tile_format,
)
from domain.ports import MapSource, StoredTile, TileCache
from domain.reprojecting_source import ReprojectingSource
from domain.rescale import Rescale, sourceless_levels
from domain.source_config import source_resampling
from domain.source_limits import LimitedSource
from domain.srs import SrsSettings, configure_srs
from domain.srs import srs as make_srs
from domain.tiles import TileSet
from domain.warp import Resampling
from domain.wms_map import MapOptions, OnSourceErrors
from entrypoints.cache_stores import cache_permissions, cache_store, pick
from entrypoints.error_details import ErrorDetails
from entrypoints.source_factory import make_source
from entrypoints.wmts_legend import legend_templates


@attrs.frozen
class TileLayer:
    """A layer served as tiles: one tile set per grid of its cache, in the cache's grid order."""

    name: str
    title: str
    tilesets: tuple[TileSet, ...]
    md: dict[str, object]
    dimensions: LayerDimensions | None = None
    # The tile sets of each combination of dimension values, made as requests ask.
    variants: DimensionTileSets = attrs.Factory(DimensionTileSets)
    # LegendURL templates of the KVP and RESTful WMTS capabilities.
    wmts_legends: tuple[str | None, str | None] = (None, None)


@attrs.frozen
class AppState:
    """Everything a running app needs, built once per configuration."""

    conf: TilegateConf
    config_path: Path | None
    grids: dict[str, Grid]
    caches: dict[str, tuple[TileSet, ...]]
    layers: dict[str, TileLayer]
    max_age: int
    allow_origin: str | None
    # The sources layers name directly (uncached), as WMS renders them.
    sources: dict[str, MapSource] = attrs.Factory(dict)
    # Layers' own `legendurl`s by layer name.
    legends: dict[str, StaticLegend] = attrs.Factory(dict)
    # The WMS service's `featureinfo_xslt` by INFO_FORMAT kind ("html", "xml").
    info_transforms: dict[str, InfoTransform] = attrs.Factory(dict)
    # What error answers may say about failed upstreams (`http.hide_error_details`).
    error_details: ErrorDetails = attrs.Factory(ErrorDetails)
    # The fonts of text in images (`globals.image.font_dir`).
    fonts: Fonts = attrs.Factory(Fonts)

    def map_options(self, on_source_errors: OnSourceErrors) -> MapOptions:
        """How a service draws maps: with the globals' resampling and tile limit, and its
        `on_source_errors`, notices written in font_dir's mono font without hidden URLs."""
        image, cache = self.conf.globals.image, self.conf.globals.cache
        return MapOptions(
            image.resampling_method,
            cache.max_tile_limit,
            on_source_errors,
            describe=self.error_details.describe,
            font=self.fonts.mono,
        )

    def info_sources(self, name: str) -> tuple[InfoSource, ...]:
        """Who answers GetFeatureInfo for a layer's source `name` (a source or a cache)."""
        return tuple(s for s in self._wms_behind(name) if s.featureinfo)

    def legend_sources(self, name: str) -> tuple[LegendSource, ...]:
        """Whose legends GetLegendGraphic stacks for a layer's source `name`."""
        return tuple(
            s
            for s in self._wms_behind(name)
            if isinstance(s, WMSSource) and s.has_legend
        )

    def _wms_behind(
        self, name: str
    ) -> list[WMSSource | ArcGISSource | MapServerSource]:
        """The WMS-like sources behind a layer's source: itself, or a cache's (MapProxy passes
        feature info and legend requests through a cache to its sources, also through a
        cache that is the source of another cache)."""
        if name in self.caches:
            tilesets = self.caches[name]
            return _wms_behind(tilesets[0].sources if tilesets else ())
        return _wms_behind((self.sources[name],))


def _wms_behind(
    sources: Iterable[MapSource],
) -> list[WMSSource | ArcGISSource | MapServerSource]:
    found: list[WMSSource | ArcGISSource | MapServerSource] = []
    for source in sources:
        plain = source.source if isinstance(source, ReprojectingSource) else source
        plain = plain.source if isinstance(plain, LimitedSource) else plain
        if isinstance(plain, CacheSource):
            # The config check rules out cycles of caches, so this ends.
            found += _wms_behind(plain.tilesets[0].sources if plain.tilesets else ())
        elif isinstance(plain, WMSSource | ArcGISSource | MapServerSource):
            found.append(plain)
    return found


def bootstrap(
    loaded: LoadedConfig,
    config_path: Path | None,
    seeding: bool = False,
    base_dir: Path | None = None,
) -> AppState:
    """The app's objects; `seeding` asks `seed_only` sources too (MapProxy's seed mode).
    Relative paths are taken from `base_dir`, else the file's directory, else the current one."""
    conf = loaded.conf
    here = base_dir or (config_path.parent if config_path is not None else Path.cwd())
    _configure_srs(conf, here)
    grids = resolve_grids(conf.grids)
    wiring = _Wiring(conf, here, grids, seeding)
    caches = {name: wiring.tilesets(name) for name in conf.caches}
    layers: dict[str, TileLayer] = {}
    for layer in _named_layers(conf.layers):
        # As MapProxy: a layer is tiled when its only source is a cache, or from the
        # caches of its `tile_sources` (each grid of each a tile set), whatever `sources` are.
        tiled = layer.tile_sources or layer.sources
        if layer.name is not None and (
            layer.tile_sources or (len(tiled) == 1 and tiled[0] in caches)
        ):
            tilesets = tuple(ts for cache in tiled for ts in caches[cache])
            layers[layer.name] = TileLayer(
                layer.name,
                layer.title,
                tilesets,
                dict(layer.md or {}),
                dimensions_of(layer),
                wmts_legends=legend_templates(layer, conf),
            )
    allow_origin = conf.globals.http.access_control_allow_origin
    return AppState(
        conf=conf,
        config_path=config_path,
        grids=grids,
        caches=caches,
        layers=layers,
        max_age=int(conf.globals.tiles.expires_hours * 3600),
        allow_origin="*" if allow_origin is None else allow_origin,
        error_details=ErrorDetails.build(conf),
        fonts=wiring.fonts,
        sources={
            name: wiring.source(name)
            for layer in _named_layers(conf.layers)
            for name in layer.sources
            if split_tag(name)[0] in conf.sources
        },
        legends={
            layer.name: StaticLegend(_legend_url(layer.legendurl, here), wiring.http)
            for layer in _named_layers(conf.layers)
            if layer.name is not None and layer.legendurl
        },
        info_transforms={
            kind: XSLTransform.load(here / name)
            for kind, name in (
                (conf.services.wms.featureinfo_xslt if conf.services.wms else None)
                or {}
            ).items()
        },
    )


def _legend_url(url: str, here: Path) -> str:
    # A relative file:// path starts at the configuration's directory.
    if url.startswith("file://") and not url[len("file://") :].startswith("/"):
        return f"file://{here / url[len('file://') :]}"
    return url


@attrs.define
class _Wiring:
    """Builds sources, lockers and tile sets once each; relative paths start at `here`
    (the configuration file's directory), as in MapProxy."""

    conf: TilegateConf
    here: Path
    grids: dict[str, Grid]
    seeding: bool = False
    http: HttpClient = attrs.field(init=False)
    fonts: Fonts = attrs.field(init=False)
    sources: dict[str, MapSource] = attrs.Factory(dict)
    lockers: dict[Path, FcntlLocker] = attrs.Factory(dict)
    caches: dict[str, tuple[TileSet, ...]] = attrs.Factory(dict)

    def __attrs_post_init__(self) -> None:
        # `lock_dir` holds the upstream request slots of `concurrent_requests`.
        self.http = HttpClient(
            self.conf.globals.http,
            lock_dir=self.here / self.conf.globals.cache.lock_dir,
        )
        self.fonts = load_fonts(self.conf.globals.image.font_dir, self.here)

    @property
    def base_dir(self) -> Path:
        return self.here / self.conf.globals.cache.base_dir

    def source(self, name: str) -> MapSource:
        """The source or cache named `name`, as a cache's source."""
        if name not in self.sources:
            if name in self.conf.caches:
                # Built on first use, whatever the config order; the config check has
                # ruled out caches that feed themselves.
                self.sources[name] = CacheSource(
                    self.tilesets(name),
                    read_tile,
                    self.conf.globals.image.resampling_method,
                    self.conf.globals.cache.max_tile_limit,
                )
            else:
                try:
                    self.sources[name] = make_source(
                        name, self.conf, self.grids, self.http, self.here, self.seeding
                    )
                except (ConfigValueError, OSError) as exc:
                    # A coverage is only read here (its file, its SRS): name where it is.
                    key = f"$.sources[{split_tag(name)[0]!r}]"
                    raise ConfigError("configuration", [f"{exc} @ {key}"]) from exc
        return self.sources[name]

    def cache_source(self, name: str, method: Resampling) -> MapSource:
        """A cache's source: one with `supported_srs` is asked in one of them and warped
        (with its own `image.resampling_method`, else the cache's `method`)."""
        conf = self.conf.sources.get(split_tag(name)[0])
        codes = supported_srs(conf)
        if codes:
            return ReprojectingSource(
                self.source(name),
                tuple(make_srs(code) for code in codes),
                source_resampling(conf) or method,
            )
        return self.source(name)

    def locker(self, cache: CacheConf) -> FcntlLocker:
        """Meta-tile locks: in `tile_lock_dir`, else in `tile_locks` beside the cache's tiles."""
        tile_lock_dir = (
            cache.cache.tile_lock_dir
            or cache.tile_lock_dir
            or self.conf.globals.cache.tile_lock_dir
        )
        if tile_lock_dir:
            directory = self.here / tile_lock_dir
        else:
            directory = self.here / (cache.cache_dir or self.base_dir) / "tile_locks"
        return self.lockers.setdefault(
            directory,
            FcntlLocker(
                directory, cache_permissions(cache.cache, self.conf.globals.cache)
            ),
        )

    def store(self, name: str, cache: CacheConf, grid: Grid) -> TileCache:
        """Where a cache keeps its tiles in one grid."""
        return cache_store(
            name,
            cache,
            grid,
            self.here,
            self.base_dir,
            self.conf.globals.cache,
            # `mixed` tiles are named `.mixed` whatever they hold, as MapProxy names them.
            self.formats(cache)[0].ext,
        )

    def formats(self, cache: CacheConf) -> tuple[ImageFormat, ImageFormat]:
        """The format a cache stores its tiles in and the one it asks its sources for."""
        image = self.conf.globals.image
        name = tile_format(cache)
        fmt = resolve_format(name, image)
        if fmt is None:
            raise ConfigValueError(f"unknown image format {name!r}")
        request = resolve_format(cache.request_format or name, image)
        if request is None:
            raise ConfigValueError(
                f"unknown image format {cache.request_format or name!r}"
            )
        # A mixed tile is PNG or JPEG by its transparency: sources must send transparency.
        return fmt, PNG if request == MIXED else request

    def tilesets(self, name: str) -> tuple[TileSet, ...]:
        if name not in self.caches:
            self.caches[name] = self._tilesets(name, self.conf.caches[name])
        return self.caches[name]

    def _tilesets(self, name: str, cache: CacheConf) -> tuple[TileSet, ...]:
        g = self.conf.globals.cache
        method = resampling(cache.format, self.conf.globals.image, cache.image)
        sources = tuple(self.cache_source(s, method) for s in cache.source_names())
        fmt, request_format = self.formats(cache)
        watermark = (
            cache.watermark if cache.watermark and cache.watermark.text else None
        )
        return tuple(
            TileSet(
                name=f"{name}_{grid_name}",
                grid=self.grids[grid_name],
                cache=self.store(name, cache, self.grids[grid_name]),
                sources=sources,
                format=fmt,
                request_format=request_format,
                locker=self.locker(cache),
                clock=time.time,
                meta_size=cache.meta_size or g.meta_size,
                meta_buffer=pick(cache.meta_buffer, g.meta_buffer),
                minimize_meta_requests=pick(
                    cache.minimize_meta_requests, g.minimize_meta_requests
                ),
                disable_storage=cache.disable_storage,
                link_single_color_images=pick(
                    cache.link_single_color_images, g.link_single_color_images
                ),
                lock_timeout=g.lock_timeout,
                encode_options=encode_options(
                    cache.format, self.conf.globals.image, cache.image
                ),
                watermark=watermark,
                watermark_font=self.fonts.sans,
                source_opacity=tuple(
                    source_opacity(self.conf.sources.get(split_tag(s)[0]))
                    for s in cache.source_names()
                ),
                band_merge=BandMerge.from_conf(cache.sources)
                if isinstance(cache.sources, BandMergeConf)
                else None,
                **self.cache_options(name, cache, self.grids[grid_name], sources),
            )
            for grid_name in cache.grids
        )

    def cache_options(
        self, name: str, cache: CacheConf, grid: Grid, sources: tuple[MapSource, ...]
    ) -> dict[str, Any]:
        """A tile set's `refresh_before`, rescaling, bulk meta-tiles and concurrency."""
        g = self.conf.globals.cache
        options: dict[str, Any] = {
            "bulk_meta_tiles": pick(cache.bulk_meta_tiles, g.bulk_meta_tiles),
            "runner": ThreadRunner(
                pick(cache.concurrent_tile_creators, g.concurrent_tile_creators)
            ),
        }
        if cache.refresh_before is not None:
            try:
                options["refresh_before"] = moment_of(
                    cache.refresh_before, self.here, time.time
                )
            except ConfigValueError as exc:
                key = bad_key(cache.refresh_before)
                raise ConfigError(
                    "configuration",
                    [f"{exc} @ $.caches[{name!r}].refresh_before.{key}"],
                ) from exc
        if cache.upscale_tiles or cache.downscale_tiles:
            options["rescale"] = Rescale(
                sourceless_levels(grid, sources),
                read_tile,
                upscale=cache.upscale_tiles,
                downscale=cache.downscale_tiles,
                store=cache.cache_rescaled_tiles,
                resampling=resampling(
                    cache.format, self.conf.globals.image, cache.image
                ),
            )
        return options


def read_tile(tile: StoredTile) -> bytes:
    """A stored tile's bytes; a tile file removed meanwhile is an error, never a crash."""
    if tile.data is not None:
        return tile.data
    try:
        return Path(str(tile.path)).read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read tile {tile.coord}: {exc}") from exc


def http_client(timeout: float | None = None) -> HttpClient:
    """An HTTP client for the command-line tools that talk to servers outside a configuration."""
    return HttpClient(HttpConf(client_timeout=timeout))


def _configure_srs(conf: TilegateConf, here: Path) -> None:
    """`globals.srs`, which is process-wide (in PROJ and in axis order), as in MapProxy."""
    srs_conf = conf.globals.srs
    if srs_conf.proj_data_dir is not None:
        use_proj_data_dir(here / srs_conf.proj_data_dir)
    configure_srs(
        SrsSettings(
            axis_order_ne=frozenset(make_srs(c).code for c in srs_conf.axis_order_ne),
            axis_order_en=frozenset(make_srs(c).code for c in srs_conf.axis_order_en),
            preferred_src={
                make_srs(target).code: tuple(make_srs(c).code for c in codes)
                for target, codes in srs_conf.preferred_src_proj.items()
            },
        )
    )


def _named_layers(layers: tuple[LayerConf, ...]) -> list[LayerConf]:
    found: list[LayerConf] = []
    for layer in layers:
        found.append(layer)
        found.extend(_named_layers(layer.layers))
    return found
