"""`globals.srs.proj_data_dir`: where PROJ finds its data (grids, a database of its own)."""

from __future__ import annotations

import os
from pathlib import Path

import pyproj.datadir

from domain.errors import ConfigError


def use_proj_data_dir(directory: Path) -> None:
    """Make PROJ read `directory`: a directory with its own `proj.db` replaces PROJ's data
    directory (as MapProxy sets it); any other is searched after it, so files such as
    datum shift grids are found while the EPSG definitions stay PROJ's own."""
    if not directory.is_dir():
        raise ConfigError(
            "configuration",
            [f"no such directory {str(directory)!r} @ $.globals.srs.proj_data_dir"],
        )
    if str(directory) in pyproj.datadir.get_data_dir().split(os.pathsep):
        return
    if (directory / "proj.db").is_file():
        pyproj.datadir.set_data_dir(str(directory))
    else:
        pyproj.datadir.append_data_dir(str(directory))
