"""`type: geopackage`: tiles in a GeoPackage tile table that GDAL reads as a raster.

The file gets the tables the GeoPackage 1.2 standard asks of a tiles-only package
(gpkg_spatial_ref_sys, gpkg_contents, gpkg_tile_matrix_set, gpkg_tile_matrix, the tile table)
and its application_id/user_version. Rows are stored as the grid counts them, as MapProxy does;
GeoPackage counts rows from the top, so GDAL places the tiles right for grids with origin
`nw` (GLOBAL_WEBMERCATOR). GeoPackage tiles carry no timestamps: a tile's mtime is when the
file last changed. With `levels: true` each level has its own file, `<directory>/<z>.gpkg`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator
from pathlib import Path

import attrs

from adapters.permissions import Permissions
from adapters.sqlite_db import (
    LevelFiles,
    SqliteFile,
    file_mtime,
    walk_tiles,
    warn_failure,
)
from adapters.store_failures import StoreFailures
from domain.errors import ConfigError
from domain.grid import Grid, TileCoord
from domain.ports import EncodedTile, StoredTile

LOGGER = "mapproxy.cache.geopackage"
GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
GPKG_USER_VERSION = 10200  # GeoPackage 1.2.0

_WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,'
    'AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]]'
)
# The three rows every GeoPackage must have (standard, requirement 11).
_REQUIRED_SRS = (
    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic"),
    ("WGS 84 geodetic", 4326, "EPSG", 4326, _WGS84_WKT, "longitude/latitude WGS 84"),
)
_META_TABLES = (
    """CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL,
        srs_id INTEGER NOT NULL PRIMARY KEY,
        organization TEXT NOT NULL,
        organization_coordsys_id INTEGER NOT NULL,
        definition TEXT NOT NULL,
        description TEXT)""",
    """CREATE TABLE IF NOT EXISTS gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY,
        data_type TEXT NOT NULL,
        identifier TEXT UNIQUE,
        description TEXT DEFAULT '',
        last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
        srs_id INTEGER,
        CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id)
            REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_tile_matrix_set (
        table_name TEXT NOT NULL PRIMARY KEY,
        srs_id INTEGER NOT NULL,
        min_x DOUBLE NOT NULL, min_y DOUBLE NOT NULL,
        max_x DOUBLE NOT NULL, max_y DOUBLE NOT NULL,
        CONSTRAINT fk_gtms_table_name FOREIGN KEY (table_name)
            REFERENCES gpkg_contents(table_name),
        CONSTRAINT fk_gtms_srs FOREIGN KEY (srs_id)
            REFERENCES gpkg_spatial_ref_sys (srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_tile_matrix (
        table_name TEXT NOT NULL,
        zoom_level INTEGER NOT NULL,
        matrix_width INTEGER NOT NULL, matrix_height INTEGER NOT NULL,
        tile_width INTEGER NOT NULL, tile_height INTEGER NOT NULL,
        pixel_x_size DOUBLE NOT NULL, pixel_y_size DOUBLE NOT NULL,
        CONSTRAINT pk_ttm PRIMARY KEY (table_name, zoom_level),
        CONSTRAINT fk_tmm_table_name FOREIGN KEY (table_name)
            REFERENCES gpkg_contents(table_name))""",
)


def _check_grid(
    instance: GeoPackageCache, attribute: attrs.Attribute[Grid], grid: Grid
) -> None:
    if grid.srs.epsg is None:
        raise ValueError(
            f"a geopackage cache needs a grid in an EPSG SRS, got {grid.srs.code}"
        )


@attrs.define
class GeoPackageCache:
    """The tiles of one cache in one grid, in table `table_name` of a GeoPackage file."""

    path: Path = attrs.field(converter=Path)
    grid: Grid = attrs.field(validator=_check_grid)
    table_name: str
    timeout: float = 30.0
    wal: bool = True
    permissions: Permissions = attrs.field(factory=Permissions)
    db: SqliteFile = attrs.field(init=False)
    _failures: StoreFailures = attrs.field(init=False)
    _verified: bool = attrs.field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        self._failures = StoreFailures(LOGGER, str(self.path))
        self.db = SqliteFile(
            self.path, self._setup, self.timeout, self.wal, self.permissions
        )

    def load(self, coord: TileCoord) -> StoredTile | None:
        try:
            with self.db.reading() as db:
                if db is None:
                    return None
                if not self._verified:
                    self._verify(db)
                row = db.execute(
                    f'SELECT tile_data FROM "{self.table_name}"'  # noqa: S608 - checked name
                    " WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                    (coord.z, coord.x, coord.y),
                ).fetchone()
        except sqlite3.Error as exc:
            warn_failure(LOGGER, "unable to load tile", self.path, coord, exc)
            return None
        if row is None:
            return None
        data = bytes(row[0])
        return StoredTile(coord, file_mtime(self.path), len(data), data=data)

    def store(self, tile: EncodedTile) -> None:
        c = tile.coord
        try:
            with self.db.writing() as db:
                db.execute(
                    f'INSERT OR REPLACE INTO "{self.table_name}"'  # noqa: S608 - checked name
                    " (zoom_level, tile_column, tile_row, tile_data) VALUES (?, ?, ?, ?)",
                    (c.z, c.x, c.y, tile.data),
                )
        except (sqlite3.Error, OSError) as exc:
            # The tile is still served, only not kept (a full disk, a locked database): the
            # transaction rolled back, the file holds what it held before.
            raise self._failures.failed(f"{c.z}/{c.x}/{c.y}", exc) from exc
        self._failures.stored()

    def remove(self, coord: TileCoord) -> bool:
        """Remove the tile at `coord`; False if there was none."""
        return self.db.delete_tile(self.table_name, coord)

    # GeoPackage tiles have no timestamps: a tile's mtime is the file's.
    keeps_timestamps = False

    def stored_tiles(self, levels: Collection[int]) -> Iterator[StoredTile]:
        """Every tile stored in `levels`, each with the file's mtime."""
        for coord, size, _ in walk_tiles(self.db, self.table_name, levels):
            yield StoredTile(coord, file_mtime(self.path), size)

    def close(self) -> None:
        self.db.close()

    def _setup(self, db: sqlite3.Connection) -> None:
        if db.execute("PRAGMA application_id").fetchone()[0] == 0:
            db.execute(f"PRAGMA application_id = {GPKG_APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {GPKG_USER_VERSION}")
        for statement in _META_TABLES:
            db.execute(statement)
        srs = self.grid.srs
        db.executemany(
            "INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)",
            [
                *_REQUIRED_SRS,
                (
                    srs.crs.name,
                    srs.epsg,
                    "EPSG",
                    srs.epsg,
                    srs.crs.to_wkt("WKT1_GDAL"),
                    srs.code,
                ),
            ],
        )
        if self._verify(db):
            return
        bbox = self.grid.bbox.as_tuple()
        db.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description,"
            " min_x, min_y, max_x, max_y, srs_id) VALUES (?, 'tiles', ?, ?, ?, ?, ?, ?, ?)",
            (self.table_name, self.table_name, "Tilegate cache", *bbox, srs.epsg),
        )
        db.execute(
            "INSERT INTO gpkg_tile_matrix_set VALUES (?, ?, ?, ?, ?, ?)",
            (self.table_name, srs.epsg, *bbox),
        )
        tw, th = self.grid.tile_size
        db.executemany(
            "INSERT OR REPLACE INTO gpkg_tile_matrix VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (self.table_name, z, nx, ny, tw, th, res, res)
                for z, ((nx, ny), res) in enumerate(
                    zip(self.grid.sizes, self.grid.res, strict=True)
                )
            ],
        )
        db.execute(
            f'CREATE TABLE IF NOT EXISTS "{self.table_name}" ('
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " zoom_level INTEGER NOT NULL, tile_column INTEGER NOT NULL,"
            " tile_row INTEGER NOT NULL, tile_data BLOB NOT NULL,"
            " UNIQUE (zoom_level, tile_column, tile_row))"
        )

    def _verify(self, db: sqlite3.Connection) -> bool:
        """True if the table is already there, for this grid; a ConfigError if for another."""
        found = db.execute(
            "SELECT c.data_type, s.organization_coordsys_id FROM gpkg_contents c"
            " LEFT JOIN gpkg_spatial_ref_sys s ON s.srs_id = c.srs_id"
            " WHERE c.table_name = ?",
            (self.table_name,),
        ).fetchone()
        if found is None:
            return False
        problem = None
        data_type, coordsys_id = found
        if str(data_type).lower() != "tiles":
            problem = f"holds {data_type}, not tiles"
        elif coordsys_id != self.grid.srs.epsg:
            problem = f"is in EPSG:{coordsys_id}, the grid in {self.grid.srs.code}"
        else:
            problem = self._matrix_problem(db)
        if problem is not None:
            raise ConfigError(
                str(self.path),
                [f"table {self.table_name!r} {problem} (grid {self.grid.name!r})"],
            )
        self._verified = True
        return True

    def _matrix_problem(self, db: sqlite3.Connection) -> str | None:
        rows = db.execute(
            "SELECT zoom_level, tile_width, tile_height, pixel_x_size FROM gpkg_tile_matrix"
            " WHERE table_name = ? ORDER BY zoom_level",
            (self.table_name,),
        ).fetchall()
        for z, width, height, res in rows:
            if (width, height) != self.grid.tile_size:
                return f"has tiles of {width}x{height} pixels"
            if z >= self.grid.num_levels or abs(res - self.grid.res[z]) > 1e-9 * res:
                return f"has a resolution of {res} at level {z}"
        return None


def geopackage_levels(
    directory: Path,
    grid: Grid,
    table_name: str,
    timeout: float,
    wal: bool,
    permissions: Permissions | None = None,
) -> LevelFiles[GeoPackageCache]:
    """`levels: true`: a GeoPackage file per level, `<directory>/<z>.gpkg`."""
    return LevelFiles(
        lambda z: GeoPackageCache(
            directory / f"{z}.gpkg",
            grid,
            table_name,
            timeout,
            wal,
            permissions or Permissions(),
        )
    )
