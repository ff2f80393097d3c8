"""Store failures (disk full) are logged once per interval per cache, with the count left out."""

from __future__ import annotations

import errno
import logging

import pytest

from adapters import logs
from adapters.logs import CACHE_FILE
from adapters.store_failures import StoreFailures
from domain.errors import StoreError


def test_a_warning_per_interval_counts_the_failures_it_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logs.configure()
    caplog.set_level(logging.INFO, logger=CACHE_FILE)
    now = [0.0]
    failures = StoreFailures(CACHE_FILE, "/cache", interval=60, clock=lambda: now[0])
    full = OSError(errno.ENOSPC, "No space left on device")
    for t in (0, 1, 2, 59.9, 60, 61, 200):
        now[0] = t
        error = failures.failed("3/1/2", full)
        assert isinstance(error, StoreError)
        assert isinstance(error, OSError)
        assert "No space left on device" in str(error)
    failures.stored()
    failures.stored()
    lines = [r.getMessage() for r in caplog.records if r.name == CACHE_FILE]
    assert [line.split()[0] for line in lines] == [
        "event='unable",
        "event='unable",
        "event='unable",
        "event='storing",
    ]
    assert [
        "not_logged=0" in lines[0],
        "not_logged=3" in lines[1],
        "not_logged=1" in lines[2],
    ] == [True] * 3
    assert "cache='/cache'" in lines[0]
    assert "tile='3/1/2'" in lines[0]
    assert "No space left on device" in lines[0]
    assert "not_stored=7" in lines[3]
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_stores_that_never_failed_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    logs.configure()
    caplog.set_level(logging.INFO, logger=CACHE_FILE)
    StoreFailures(CACHE_FILE, "/cache").stored()
    assert caplog.records == []
