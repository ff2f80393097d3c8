"""A counting semaphore per upstream host, shared across processes: N `flock`ed files in a directory.

This is how `concurrent_requests` limits requests to one host across every gunicorn worker, as
MapProxy does. A slot is a lock file `<lock_dir>/http-<host>-<i>.lck`; holding its flock holds the
slot, and the kernel frees it when a worker dies, so a crash never leaks a slot.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from domain.errors import LockTimeoutError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_FIRST_SLEEP = 0.005
_MAX_SLEEP = 0.05


@attrs.define
class HostSemaphore:
    """At most `limit` holders at once for `host`, counted over all processes using `lock_dir`."""

    lock_dir: Path = attrs.field(converter=Path)
    host: str
    limit: int

    def slot_path(self, i: int) -> Path:
        return self.lock_dir / f"http-{_UNSAFE.sub('_', self.host)}-{i}.lck"

    @contextmanager
    def acquire(self, timeout: float) -> Iterator[None]:
        """Hold one slot for the with-block; LockTimeoutError (503, retry later) if none frees up in time."""
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        sleep = _FIRST_SLEEP
        while True:
            fd = self._try_slots()
            if fd is not None:
                break
            if time.monotonic() >= deadline:
                raise LockTimeoutError(
                    f"no free request slot for {self.host} within {timeout:g} s (concurrent_requests={self.limit})"
                )
            time.sleep(min(sleep, max(deadline - time.monotonic(), 0)))
            sleep = min(sleep * 2, _MAX_SLEEP)
        try:
            yield
        finally:
            # closing the descriptor releases its flock
            os.close(fd)

    def _try_slots(self) -> int | None:
        for i in range(self.limit):
            fd = os.open(
                self.slot_path(i), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644
            )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            except BaseException:
                os.close(fd)
                raise
            return fd
        return None
