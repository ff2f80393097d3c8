"""A `type: mapnik` source: maps rendered in-process from a Mapnik XML style."""

from __future__ import annotations

import importlib
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

from adapters.logs import get_logger, source_logger_name
from domain.config import MapnikSourceConf, TilegateConf
from domain.errors import ConfigValueError, SourceError
from domain.formats import find_format
from domain.ports import MapQuery, SourceImage
from domain.srs import SRS

# Debian's python3-mapnik installs here, for Debian's own Python; its module is built for the
# same Python minor version as ours (3.11 on Debian 12), so it imports when nothing else does.
DEBIAN_DIST_PACKAGES = "/usr/lib/python3/dist-packages"
NO_MAPNIK = (
    "needs the mapnik Python module (Debian's python3-mapnik or the PyPI bindings)"
)

_log = get_logger(source_logger_name("mapnik"))
_import_lock = threading.Lock()


def load_mapnik() -> ModuleType | None:
    """The mapnik module: installed with our Python, else Debian's; None if neither imports."""
    with _import_lock:
        if (module := sys.modules.get("mapnik")) is not None:
            return module
        try:
            return importlib.import_module("mapnik")
        except ImportError:
            pass
        # Only for this import: no other Debian module may shadow one of ours later.
        sys.path.append(DEBIAN_DIST_PACKAGES)
        try:
            return importlib.import_module("mapnik")
        except ImportError:
            return None
        finally:
            sys.path.remove(DEBIAN_DIST_PACKAGES)


def _load_style(mapnik: Any, mapfile: Path) -> Any:
    """A Mapnik map of the style in mapfile; ConfigValueError if Mapnik cannot read it."""
    if not mapfile.is_file():
        raise ConfigValueError(f"mapfile {str(mapfile)!r} does not exist")
    m = mapnik.Map(1, 1)
    try:
        mapnik.load_map(m, str(mapfile))
    except RuntimeError as exc:
        raise ConfigValueError(f"mapnik cannot load {str(mapfile)!r}: {exc}") from exc
    return m


def check_mapnik(conf: TilegateConf, here: Path) -> list[str]:
    """A problem, with its key path, for every mapnik source that cannot render."""
    problems: list[str] = []
    sources = {
        name: source
        for name, source in conf.sources.items()
        if isinstance(source, MapnikSourceConf)
    }
    if not sources:
        return problems
    mapnik = load_mapnik()
    for name, source in sources.items():
        path = f"$.sources[{name!r}]"
        if mapnik is None:
            problems.append(f"source type 'mapnik' {NO_MAPNIK} @ {path}.type")
            continue
        try:
            # The map outlives the loop: its layers are views into it.
            style = _load_style(mapnik, here / source.mapfile)
            names = {layer.name for layer in style.layers}
        except ConfigValueError as exc:
            problems.append(f"{exc} @ {path}.mapfile")
            continue
        problems += [
            f"no layer {layer!r} in {source.mapfile} @ {path}.layers[{i}]"
            for i, layer in enumerate(source.layers or ())
            if layer not in names
        ]
    return problems


@attrs.define
class MapnikSource:
    """Renders maps with Mapnik: one map object serialised, or one per thread (`multithreaded`)."""

    conf: MapnikSourceConf
    mapfile: Path
    _mapnik: Any
    _local: threading.local = attrs.Factory(threading.local)
    _lock: threading.Lock = attrs.Factory(threading.Lock)
    _shared: Any = None

    @classmethod
    def configure(cls, conf: MapnikSourceConf, here: Path) -> MapnikSource:
        mapnik = load_mapnik()
        if mapnik is None:
            raise ConfigValueError(f"source type 'mapnik' {NO_MAPNIK}")
        source = cls(conf, here / conf.mapfile, mapnik)
        source._map()  # a style Mapnik cannot read fails at start, not per request
        return source

    @property
    def supports_meta_tiles(self) -> bool:
        return True

    @property
    def transparent(self) -> bool:
        return self.conf.transparent

    def get_map(self, query: MapQuery) -> SourceImage:
        if self.conf.multithreaded:
            return self._render(self._map(), query)
        # Without `multithreaded` every render shares one map object, one at a time.
        with self._lock:
            return self._render(self._map(), query)

    def _map(self) -> Any:
        if self.conf.multithreaded:
            if (m := getattr(self._local, "map", None)) is None:
                m = self._local.map = self._new_map()
            return m
        if self._shared is None:
            self._shared = self._new_map()
        return self._shared

    def _new_map(self) -> Any:
        m = _load_style(self._mapnik, self.mapfile)
        # The bbox asked for is the bbox drawn, also where its pixels are not square.
        m.aspect_fix_mode = self._mapnik.aspect_fix_mode.RESPECT
        if self.conf.layers is not None:
            wanted = set(self.conf.layers)
            for layer in m.layers:
                layer.active = layer.name in wanted
        if self.conf.transparent:
            m.background = self._mapnik.Color(0, 0, 0, 0)
        return m

    def _render(self, m: Any, query: MapQuery) -> SourceImage:
        mapnik = self._mapnik
        fmt = find_format(query.format)
        alpha = fmt is None or fmt.supports_alpha
        width, height = query.size
        try:
            m.resize(width, height)
            m.srs = _proj(query.srs)
            m.zoom_to_box(mapnik.Box2d(*query.bbox.as_tuple()))
            image = mapnik.Image(width, height)
            mapnik.render(m, image, self.conf.scale_factor)
            data = image.tostring("png32" if alpha else "jpeg")
        except RuntimeError as exc:
            _log.warning("mapnik render failed", error=str(exc))
            raise SourceError(f"mapnik cannot render {self.mapfile}: {exc}") from exc
        return SourceImage(data, "image/png" if alpha else "image/jpeg")


def _proj(srs: SRS) -> str:
    # Mapnik 3 takes EPSG codes as `epsg:N` and anything else as a PROJ string.
    authority, _, number = srs.code.partition(":")
    if authority.upper() == "EPSG" and number.isdigit() and number != "900913":
        return f"epsg:{number}"
    return str(srs.crs.to_proj4())
