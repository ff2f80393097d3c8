"""A point in time before which stored tiles are old: seed.yaml's `refresh_before` and
`remove_before`, and a cache's `refresh_before` in mapproxy.yaml (the same keys)."""

from __future__ import annotations

import datetime

import attrs

from domain.errors import ConfigValueError


@attrs.frozen
class TimeSpec:
    """A delta back from now (`weeks` ... `seconds`), an ISO time, or a file's modification
    time (`mtime`, a path the adapter reads)."""

    weeks: float = 0
    days: float = 0
    hours: float = 0
    minutes: float = 0
    seconds: float = 0
    time: str | None = None
    mtime: str | None = None

    @property
    def delta_seconds(self) -> float:
        return (
            (self.weeks * 7 + self.days) * 86400
            + self.hours * 3600
            + self.minutes * 60
            + self.seconds
        )

    def fixed_time(self) -> float | None:
        """`time` as a timestamp (None without one); ConfigValueError if it is no ISO time."""
        if self.time is None:
            return None
        try:
            moment = datetime.datetime.fromisoformat(self.time)
        except ValueError:
            raise ConfigValueError(
                f"invalid time {self.time!r}, expected YYYY-MM-DDTHH:MM:SS"
            ) from None
        # A time without zone is local time, as MapProxy reads it.
        return moment.timestamp()
