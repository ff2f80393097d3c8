"""Polygons from OGR datasources (Shapefile, GeoPackage, PostGIS, ...) through GDAL's C
library, loaded with ctypes as MapProxy does: no GDAL Python bindings to build or pin, and only
configurations with such a coverage need libgdal at all (Debian: libgdal32, with gdal-bin)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from domain.errors import ConfigValueError

_VECTOR = 0x04 | 0x40  # GDAL_OF_VECTOR | GDAL_OF_VERBOSE_ERROR, read-only
_NDR = 1  # little-endian WKB
_lock = threading.Lock()


@functools.cache
def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("gdal")
    if name is None:
        raise ConfigValueError(
            "needs GDAL's library libgdal to read it (Debian: apt-get install gdal-bin)"
        )
    lib = ctypes.CDLL(name)
    p, i, s = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    for func, args, result in (
        ("GDALAllRegister", [], None),
        ("CPLPushErrorHandler", [p], None),
        ("CPLGetLastErrorMsg", [], s),
        ("CPLErrorReset", [], None),
        ("GDALOpenEx", [s, ctypes.c_uint, p, p, p], p),
        ("GDALClose", [p], None),
        ("GDALDatasetGetLayer", [p, i], p),
        ("GDALDatasetExecuteSQL", [p, s, p, s], p),
        ("GDALDatasetReleaseResultSet", [p, p], None),
        ("OGR_L_SetAttributeFilter", [p, s], i),
        ("OGR_L_ResetReading", [p], None),
        ("OGR_L_GetNextFeature", [p], p),
        ("OGR_F_GetGeometryRef", [p], p),
        ("OGR_F_Destroy", [p], None),
        ("OGR_G_WkbSize", [p], i),
        ("OGR_G_ExportToWkb", [p, i, p], i),
    ):
        getattr(lib, func).argtypes = args
        getattr(lib, func).restype = result
    lib.GDALAllRegister()
    # GDAL reports through its error state, which is read below, not on stderr.
    lib.CPLPushErrorHandler(ctypes.cast(lib.CPLQuietErrorHandler, p))
    return lib


def read_features(datasource: str, where: str | None) -> list[bytes]:
    """The WKB geometries of the first layer of `datasource` (a path or a GDAL connection
    string such as `PG: dbname=...`), filtered by `where`: an attribute filter, or a whole
    `SELECT` statement run on the datasource, as MapProxy takes it."""
    lib = _library()
    with _lock, _opened(lib, datasource) as ds, _layer(lib, ds, where) as layer:
        return list(_geometries(lib, layer))


def _error(lib: ctypes.CDLL, what: str) -> ConfigValueError:
    # GDAL's messages may span lines (a SQL error and a caret under it): one line here.
    message = " ".join(
        (lib.CPLGetLastErrorMsg() or b"").decode("utf-8", "replace").split()
    )
    return ConfigValueError(f"{what}: {message}" if message else what)


@contextmanager
def _opened(lib: ctypes.CDLL, datasource: str) -> Iterator[int]:
    lib.CPLErrorReset()
    ds = lib.GDALOpenEx(datasource.encode(), _VECTOR, None, None, None)
    if not ds:
        raise _error(lib, "OGR cannot open it")
    try:
        yield ds
    finally:
        lib.GDALClose(ds)


@contextmanager
def _layer(lib: ctypes.CDLL, ds: int, where: str | None) -> Iterator[int]:
    if where is not None and where.lstrip().lower().startswith("select"):
        layer = lib.GDALDatasetExecuteSQL(ds, where.encode(), None, None)
        if not layer:
            raise _error(lib, f"SQL {where!r} failed")
        try:
            yield layer
        finally:
            lib.GDALDatasetReleaseResultSet(ds, layer)
        return
    layer = lib.GDALDatasetGetLayer(ds, 0)
    if not layer:
        raise _error(lib, "it has no layer")
    if lib.OGR_L_SetAttributeFilter(layer, None if where is None else where.encode()):
        raise _error(lib, f"where {where!r} failed")
    lib.OGR_L_ResetReading(layer)
    yield layer


def _geometries(lib: ctypes.CDLL, layer: int) -> Iterator[bytes]:
    while feature := lib.OGR_L_GetNextFeature(layer):
        try:
            if geom := lib.OGR_F_GetGeometryRef(feature):
                buffer = ctypes.create_string_buffer(lib.OGR_G_WkbSize(geom))
                if lib.OGR_G_ExportToWkb(geom, _NDR, buffer) == 0:
                    yield buffer.raw
        finally:
            lib.OGR_F_Destroy(feature)
