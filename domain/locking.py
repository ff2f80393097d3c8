"""The lock protocol: work that many workers may want is done once, by whoever holds its lock.

A worker that finds the result missing takes the lock (waiting at most `timeout`), looks again
(the previous holder may have made it meanwhile), and only then does the work. A worker whose
wait runs out still takes a result that has arrived; only when there is none does it give up.

A failed attempt is shared with the workers that were already waiting for it: they get its error
rather than each asking the failing source again in turn (a failing source would otherwise get
one request per waiting client, one after the other, and the last client would wait for all of
them). Nothing is kept for later: a worker that comes after the failure tries again itself
(the locker says what "after" means: one that polls counts its poll interval as the same moment,
since its waiters may still be asleep when a newcomer takes the free lock).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from domain.errors import LockTimeoutError, SourceError
from domain.ports import Clock, Locker

T = TypeVar("T")


def create_once(
    name: str,
    find: Callable[[], T | None],
    create: Callable[[], T],
    locker: Locker,
    timeout: float,
    clock: Clock,
) -> T:
    """The result `find` returns, else `create`'s, created by one holder of lock `name` at a time;
    the SourceError of an attempt that failed while this caller waited for it."""
    asked = clock()
    with locker.lock(name, timeout) as acquired:
        if (found := find()) is not None:
            return found
        if acquired:
            if (failure := locker.failure_since(name, asked)) is not None:
                raise failure
            try:
                return create()
            except SourceError as exc:
                locker.note_failure(name, exc, clock())
                raise
    raise LockTimeoutError(f"waited {timeout:g} s for lock {name!r} without a result")
