"""A TaskRunner on threads: `concurrent_tile_creators` meta-tiles of one request at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import attrs

T = TypeVar("T")


@attrs.frozen
class ThreadRunner:
    """Runs up to `workers` tasks at once (source requests wait on the network, not the GIL)."""

    workers: int = 2

    def map(self, tasks: Sequence[Callable[[], T]]) -> list[T]:
        if self.workers <= 1 or len(tasks) <= 1:
            return [task() for task in tasks]
        # A pool per call: its threads end with the request, none idle between requests.
        with ThreadPoolExecutor(min(self.workers, len(tasks))) as pool:
            return list(pool.map(lambda task: task(), tasks))
