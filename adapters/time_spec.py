"""A TimeSpec (`refresh_before`, `remove_before`) as the moment it names, reading `mtime` files."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from domain.errors import ConfigValueError
from domain.time_spec import TimeSpec


def moment_of(
    spec: TimeSpec, here: Path, clock: Callable[[], float]
) -> Callable[[], float]:
    """The moment spec names, asked anew on each call: a delta is counted back from `clock()`
    and an `mtime` file (relative to `here`) is read again, so that touching it makes the
    tiles old at once. ConfigValueError if the time or file (see `bad_key`) is bad now."""
    fixed = spec.fixed_time()
    if fixed is not None:
        return lambda: fixed
    if spec.mtime is not None:
        path = here / spec.mtime
        last = [_mtime(path, spec.mtime)]

        def modified() -> float:
            # A file gone meanwhile (being replaced, say) leaves the last time known.
            with contextlib.suppress(OSError):
                last[0] = os.path.getmtime(path)
            return last[0]

        return modified
    delta = spec.delta_seconds
    return lambda: clock() - delta


def _mtime(path: Path, name: str) -> float:
    try:
        return os.path.getmtime(path)
    except OSError as exc:
        raise ConfigValueError(
            f"cannot read the modification time of {name!r}: {exc.strerror}"
        ) from exc


def bad_key(spec: TimeSpec) -> str:
    """The key a ConfigValueError of `moment_of(spec, ...)` is about."""
    return "time" if spec.time is not None else "mtime"
