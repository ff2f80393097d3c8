"""Integration fixtures shared by adapter tests: a real local map server (see tests/mapserver.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mapserver import MapServer


@pytest.fixture
def map_server() -> Iterator[MapServer]:
    """A fresh map server on a free port: `.url`, `.requests`, `.counts`, `.add_fault(...)`."""
    with MapServer() as server:
        yield server
