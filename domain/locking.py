"""The lock protocol: work that many workers may want is done once, by whoever holds its lock.

A worker that finds the result missing takes the lock (waiting at most `timeout`), looks again
(the previous holder may have made it meanwhile), and only then does the work. A worker whose
wait runs out still takes a result that has arrived; only when there is none does it give up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from domain.errors import LockTimeoutError
from domain.ports import Locker

T = TypeVar("T")


def create_once(
    name: str,
    find: Callable[[], T | None],
    create: Callable[[], T],
    locker: Locker,
    timeout: float,
) -> T:
    """The result `find` returns, else `create`'s, created by one holder of lock `name` at a time."""
    with locker.lock(name, timeout) as acquired:
        if (found := find()) is not None:
            return found
        if acquired:
            return create()
    raise LockTimeoutError(f"waited {timeout:g} s for lock {name!r} without a result")
