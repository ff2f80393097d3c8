"""A TaskRunner on threads: `concurrent_tile_creators` meta-tiles of one request at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

import attrs

T = TypeVar("T")


class _SkippedError(Exception):
    """A task not started because another one had failed."""


@attrs.frozen
class ThreadRunner:
    """Runs up to `workers` tasks at once (source requests wait on the network, not the GIL)."""

    workers: int = 2

    def map(self, tasks: Sequence[Callable[[], T]]) -> list[T]:
        if self.workers <= 1 or len(tasks) <= 1:
            return [task() for task in tasks]
        failed = threading.Event()

        def guarded(task: Callable[[], T]) -> T:
            # As without threads, nothing after a failure is asked for: a worker freed by the
            # failing task must not start the next one (a source timeout each, one after another).
            if failed.is_set():
                raise _SkippedError
            try:
                return task()
            except BaseException:
                failed.set()
                raise

        # A pool per call: its threads end with the request, none idle between requests.
        with ThreadPoolExecutor(min(self.workers, len(tasks))) as pool:
            # Leaving the block waits for the tasks still running, so that none is left behind
            # holding a lock or noting a failure for later requests; they started with the
            # failing one and are bounded by the same source timeout.
            futures = [pool.submit(guarded, task) for task in tasks]
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:
                error = future.exception() if future.done() else None
                if error is not None and not isinstance(error, _SkippedError):
                    raise error
            return [future.result() for future in futures]
