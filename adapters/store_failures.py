"""Stores a cache refused (disk full, read-only, database busy), logged once in a while.

A full disk fails every new tile of every request: a warning for each would flood the log
just when its disk has no room. Each cache logs the first failure, then at most one warning
per `interval` with how many failures it left out meanwhile, and one line when storing
works again. Counts are per process: each gunicorn worker logs its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import attrs

from adapters import logs
from domain.errors import StoreError

INTERVAL = 60.0


@attrs.define
class StoreFailures:
    """The store failures of one cache (`where`: its directory or file), logged on `logger`."""

    logger: str
    where: str
    interval: float = INTERVAL
    clock: Callable[[], float] = time.monotonic
    _next: float = attrs.field(init=False, default=float("-inf"))
    _left_out: int = attrs.field(init=False, default=0)
    # Failures since storing last worked again, and whether a warning told of them.
    _failed: int = attrs.field(init=False, default=0)
    _warned: bool = attrs.field(init=False, default=False)
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)

    def failed(self, tile: str, exc: Exception) -> StoreError:
        """Count (and maybe log) a failed store; the error for the caller to raise."""
        with self._lock:
            self._failed += 1
            now = self.clock()
            log = now >= self._next
            if log:
                left_out, self._left_out = self._left_out, 0
                self._next = now + self.interval
                self._warned = True
            else:
                self._left_out += 1
        if log:
            logs.get_logger(self.logger).warning(
                "unable to store tile",
                cache=self.where,
                tile=tile,
                error=str(exc),
                not_logged=left_out,
                next_warning_in_s=int(self.interval),
            )
        return StoreError(f"tile {tile} not stored in {self.where}: {exc}")

    def stored(self) -> None:
        """A store worked: after a warning, say so once, with how many tiles were not kept.

        At most once per warning, so that a disk at the edge of full, failing only some
        tiles, still logs no more than two lines per interval.
        """
        if not self._warned:  # the usual case, without taking the lock
            return
        with self._lock:
            if not self._warned:
                return
            failed, self._failed = self._failed, 0
            self._warned = False
        logs.get_logger(self.logger).warning(
            "storing tiles again", cache=self.where, not_stored=failed
        )
