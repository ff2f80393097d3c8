"""The thread TaskRunner behind concurrent_tile_creators: bounded, ordered, stops after a failure."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from adapters.thread_runner import ThreadRunner


def test_results_come_in_task_order_with_at_most_workers_at_once() -> None:
    running, peak, lock = [0], [0], threading.Lock()

    def task(i: int) -> Callable[[], int]:
        def run() -> int:
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.05 * (5 - i))
            with lock:
                running[0] -= 1
            return i

        return run

    assert ThreadRunner(3).map([task(i) for i in range(5)]) == [0, 1, 2, 3, 4]
    assert peak[0] == 3


def test_a_failure_starts_nothing_more_and_waits_for_the_running_tasks() -> None:
    events: list[str] = []

    def failing() -> None:
        time.sleep(0.05)
        raise ValueError("upstream failed")

    def slow() -> None:
        time.sleep(0.2)
        events.append("slow done")

    def later() -> None:
        events.append("later started")

    with pytest.raises(ValueError, match="upstream failed"):
        ThreadRunner(2).map([failing, slow, later, later])
    # The running task ended before map returned; the ones not started never ran.
    assert events == ["slow done"]
