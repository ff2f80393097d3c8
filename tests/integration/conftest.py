"""Integration fixtures shared by adapter tests: a real local map server (see tests/mapserver.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mapserver import MapServer


@pytest.fixture
def map_server() -> Iterator[MapServer]:
    """A fresh map server on a free port: `.url`, `.requests`, `.counts`, `.add_fault(...)`."""
    with MapServer() as server:
        yield server


@pytest.fixture
def mapserver_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MapServer 8 will not run without its own config file, and Debian installs none: an
    empty one for the tests that run Debian's mapserv."""
    config = tmp_path / "mapserver.conf"
    config.write_text("CONFIG\nEND\n")
    monkeypatch.setenv("MAPSERVER_CONFIG_FILE", str(config))
