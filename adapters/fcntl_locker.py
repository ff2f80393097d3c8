"""Named exclusive locks as `flock`s on files in one directory, shared by threads and processes."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from adapters.permissions import Permissions
from domain.errors import SourceError, SourceTimeoutError

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
# File names are at most 255 bytes; longer escaped names keep a prefix and a digest.
_MAX_NAME = 200
# A waiter polls: its lateness after the holder lets go is up to one sleep, which adds to every
# request that waited for a meta-tile; 10 ms costs one flock call per 10 ms per waiter.
_FIRST_SLEEP = 0.001
_MAX_SLEEP = 0.01
# A newcomer that finds the lock free within this time of a noted failure steps back for as long
# before it takes the lock: the waiters of the failed attempt are still asleep between polls, and
# a newcomer taking the lock before them would make a new upstream request for each failure
# instead of the waiters sharing it (measured, gunicorn, 200 clients of a failing source: 84
# upstream requests without stepping back, 18 to 28 with). A client that retries at once still
# asks the source again itself, only this much later.
_STEP_BACK = 2 * _MAX_SLEEP


def lock_file_name(name: str) -> str:
    """The file name of lock `name`: `%XX` for every byte outside [A-Za-z0-9._-], then `.lck`."""
    safe = "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in name.encode())
    if len(safe) > _MAX_NAME:
        safe = safe[:100] + "~" + hashlib.sha256(name.encode()).hexdigest()
    return safe + ".lck"


@attrs.define
class FcntlLocker:
    """Locks named by strings, one lock file each under `directory` (created when first needed)."""

    directory: Path = attrs.field(converter=Path)
    # `directory_permissions`/`file_permissions` of the caches whose locks these are.
    permissions: Permissions = attrs.field(factory=Permissions)

    def path_for(self, name: str) -> Path:
        return self.directory / lock_file_name(name)

    @contextmanager
    def lock(self, name: str, timeout: float) -> Iterator[bool]:
        """Hold lock `name` for the with-block; yields False if `timeout` seconds ran out."""
        # A descriptor of our own each time: flock excludes other open file descriptions,
        # so two threads of this process exclude each other as two processes do.
        fd = self._open(str(self.path_for(name)))
        deadline = time.monotonic() + timeout
        acquired = False
        try:
            acquired = _try(fd)
            if acquired and self._failed_just_now(fd):
                fcntl.flock(fd, fcntl.LOCK_UN)
                acquired = False
                time.sleep(min(_STEP_BACK, max(0.0, deadline - time.monotonic())))
            if not acquired:
                acquired = _acquire(fd, deadline)
            yield acquired
        finally:
            # Closing releases the lock too; unlocking first says so. The file stays: removing
            # it would let a waiter lock the unlinked file while a newcomer locks a new one.
            if acquired:
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def note_failure(self, name: str, error: SourceError, at: float) -> None:
        """Written into the lock's file, which the caller holds: waiters in any process read it."""
        record = {
            "at": at,
            "timeout": isinstance(error, SourceTimeoutError),
            "message": str(error),
        }
        fd = self._open(str(self.path_for(name)))
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode(), 0)
        finally:
            os.close(fd)

    def failure_since(self, name: str, moment: float) -> SourceError | None:
        try:
            data = self.path_for(name).read_bytes()
        except OSError:
            return None
        record = _failure(data)
        if record is None:
            return None
        at, timed_out, message = record
        if at <= moment:
            return None
        return (SourceTimeoutError if timed_out else SourceError)(message)

    def _failed_just_now(self, fd: int) -> bool:
        record = _failure(os.pread(fd, 64 * 1024, 0))
        return record is not None and 0 <= time.time() - record[0] < _STEP_BACK

    def _open(self, path: str) -> int:
        try:
            return self._create_or_open(path)
        except FileNotFoundError:
            self.permissions.makedirs(self.directory)
            return self._create_or_open(path)

    def _create_or_open(self, path: str) -> int:
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
        if self.permissions.file_mode is None:
            return os.open(path, flags, 0o666)
        # Only a file this call creates gets the mode, as a cache's other new files.
        try:
            fd = os.open(path, flags | os.O_EXCL, 0o666)
        except FileExistsError:
            return os.open(path, flags, 0o666)
        self.permissions.set_file_mode(fd)
        return fd


def _failure(data: bytes) -> tuple[float, bool, str] | None:
    """The time, kind (timeout or not) and message of the failure noted in a lock file."""
    if not data:
        return None  # no failure noted (or a lock file of MapProxy's)
    try:
        record = json.loads(data)
        return float(record["at"]), bool(record.get("timeout")), str(record["message"])
    except (ValueError, KeyError, TypeError):
        return None


def _try(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _acquire(fd: int, deadline: float) -> bool:
    sleep = _FIRST_SLEEP
    while not _try(fd):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(sleep, left))
        sleep = min(sleep * 2, _MAX_SLEEP)
    return True
