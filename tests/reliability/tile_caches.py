"""Every cache type over one real WMS source, served by a real gunicorn, and a check that reads
back every tile the caches hold (decoded to the last byte) and every SQLite file's integrity."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import threading
from pathlib import Path
from typing import Any

import attrs
import yaml
from PIL import Image

from adapters.file_cache import TEMP_DIR, TEMP_SUFFIX
from tests.e2e.conftest import Server, start_gunicorn, stop

LAYOUTS = ("tc", "mp", "tms", "reverse_tms", "quadkey", "arcgis")
SQLITE_TYPES = ("mbtiles", "sqlite", "geopackage")
TILE_SIZE = (256, 256)


def caches_config(
    directory: Path,
    source_url: str,
    kinds: tuple[str, ...],
    meta_size: int = 2,
    cache_dir: Path | None = None,
) -> Path:
    """mapproxy.yaml in directory: one layer and cache per kind (a file layout or an SQLite
    type) in GLOBAL_WEBMERCATOR over one WMS source; caches and locks in cache_dir
    (default directory/cache)."""
    cache_dir = cache_dir or directory / "cache"
    caches: dict[str, Any] = {}
    for kind in kinds:
        backend: dict[str, Any]
        if kind in LAYOUTS:
            backend = {"type": "file", "directory_layout": kind}
        elif kind == "sqlite":
            backend = {"type": "sqlite", "directory": str(cache_dir / "sqlite")}
        else:
            backend = {"type": kind}
        caches[kind] = {
            "grids": ["GLOBAL_WEBMERCATOR"],
            "sources": ["upstream"],
            "format": "image/png",
            "meta_size": [meta_size, meta_size],
            "meta_buffer": 0,
            "cache": backend,
        }
    conf = {
        "services": {"tms": None},
        "layers": [{"name": k, "title": k, "sources": [k]} for k in kinds],
        "caches": caches,
        "sources": {
            "upstream": {
                "type": "wms",
                "req": {"url": f"{source_url}/service", "layers": "base"},
                "http": {"client_timeout": 10},
            }
        },
        "globals": {
            "cache": {"base_dir": str(cache_dir), "lock_dir": str(cache_dir / "locks")},
            "image": {"paletted": False},
        },
    }
    path = directory / "mapproxy.yaml"
    path.write_text(yaml.safe_dump(conf), encoding="utf-8")
    return path


def decodes(data: bytes) -> bool:
    """True if data is a whole PNG tile of TILE_SIZE: every byte read, none missing."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return img.format == "PNG" and img.size == TILE_SIZE
    except (OSError, SyntaxError, ValueError):
        return False


@attrs.define
class CacheReport:
    """What a cache directory holds: tiles read back, the bad ones, SQLite problems, temp files."""

    tiles: int = 0
    bad: list[str] = attrs.Factory(list)
    integrity: dict[str, str] = attrs.Factory(dict)
    # Temp files in the tile trees (never expected) and in the caches' temp directories.
    stray_temp: list[str] = attrs.Factory(list)
    temp: list[str] = attrs.Factory(list)


def check_caches(cache_dir: Path) -> CacheReport:
    """Read back every tile under cache_dir (file layouts, MBTiles, sqlite levels, GeoPackage)."""
    report = CacheReport()
    for path in sorted(cache_dir.rglob("*")):
        if path.is_dir() or path.parent.name == "locks":
            continue
        relative = str(path.relative_to(cache_dir))
        if path.parent.name == TEMP_DIR:
            report.temp.append(relative)
        elif path.name.endswith(TEMP_SUFFIX):
            report.stray_temp.append(relative)
        elif path.suffix == ".png":
            report.tiles += 1
            if not decodes(path.read_bytes()):
                report.bad.append(relative)
        elif path.suffix in (".mbtiles", ".gpkg"):
            _check_sqlite(path, relative, report)
    return report


def _check_sqlite(path: Path, relative: str, report: CacheReport) -> None:
    db = sqlite3.connect(path)
    try:
        report.integrity[relative] = db.execute("PRAGMA integrity_check").fetchone()[0]
        tables = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND sql LIKE '%tile_data%' AND name NOT LIKE 'gpkg%'"
            )
        ]
        for table in tables:
            rows = db.execute(
                f'SELECT zoom_level, tile_column, tile_row, tile_data FROM "{table}"'  # noqa: S608
            )
            for z, x, y, data in rows:
                report.tiles += 1
                if data is None or not decodes(bytes(data)):
                    report.bad.append(f"{relative}:{table}/{z}/{x}/{y}")
    finally:
        db.close()


class Gunicorn:
    """A running gunicorn whose output is read as it comes (a full pipe would stall it)."""

    def __init__(
        self, config: Path, workers: int = 2, extra: tuple[str, ...] = ()
    ) -> None:
        self.server: Server = start_gunicorn(config, workers, extra)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        return self.server.proc

    def workers(self) -> list[int]:
        """The master's children now (Linux /proc)."""
        pid = self.proc.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(c) for c in children]

    def close(self) -> None:
        """Stop gunicorn and wait until its last line is read."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=20)
        stop(self.proc)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.decode(errors="replace"))
