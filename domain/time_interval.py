"""ISO 8601 time intervals (`start/end/period`) unfolded into the times they list, as a time
dimension's single configured value is read: years and months by the calendar, the rest exact."""

from __future__ import annotations

import calendar
import datetime
import re

import attrs

from domain.errors import ConfigValueError

_NUMBER = r"(\d+(?:[.,]\d+)?)"
_DURATION = re.compile(
    rf"P(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
    rf"(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?"
)
# An interval must not unfold into more values than a capabilities document can list.
MAX_INTERVAL_VALUES = 10000


@attrs.frozen
class Period:
    """A duration: whole calendar months (a year is twelve) and an exact rest."""

    months: int
    rest: datetime.timedelta

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _DURATION.fullmatch(text)
        if not match or text in ("P", "PT") or text.endswith("T"):
            raise ConfigValueError(
                f"period {text!r} is not an ISO 8601 duration (e.g. P1Y, P1M, P1D, PT1H)"
            )
        years, months, weeks, days, hours, minutes, seconds = (
            float(v.replace(",", ".")) if v else 0.0 for v in match.groups()
        )
        if not (years.is_integer() and months.is_integer()):
            # A fraction of a month has no fixed length: no calendar can step by it.
            raise ConfigValueError(
                f"period {text!r}: years and months must be whole numbers"
            )
        period = cls(
            int(years) * 12 + int(months),
            datetime.timedelta(
                weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds
            ),
        )
        if period.months == 0 and period.rest <= datetime.timedelta(0):
            raise ConfigValueError(f"period {text!r} must be longer than zero")
        return period

    def times(self, start: datetime.datetime, n: int) -> datetime.datetime:
        """start plus n periods. Counted from the start each time, so that the 31st of a month
        stays the last day of shorter months (Jan 31, Feb 29, Mar 31), not Feb 29, Mar 29."""
        months = start.month - 1 + self.months * n
        year, month = start.year + months // 12, months % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return start.replace(year=year, month=month, day=day) + self.rest * n


def unfold(text: str) -> tuple[str, ...]:
    """The times of `start/end/period` from start up to end (both included), each written as
    start is: a date, or a date and time with `Z`, its offset or none. A text without '/' is
    one time. Unlike MapProxy 7, which lists one time past the end and fails on P1M."""
    parts = text.strip().split("/")
    if len(parts) == 1:
        return (parts[0],)
    if len(parts) != 3:
        raise ConfigValueError(
            f"time interval {text!r} is not start/end/period (ISO 8601)"
        )
    start, end = _moment(parts[0]), _moment(parts[1])
    if (start.tzinfo is None) != (end.tzinfo is None):
        raise ConfigValueError(
            f"time interval {text!r}: start and end both need an offset (or Z), or neither"
        )
    period = Period.parse(parts[2])
    date_only = "T" not in parts[0]
    values: list[str] = []
    moment = start
    while moment <= end:
        if len(values) >= MAX_INTERVAL_VALUES:
            raise ConfigValueError(
                f"time interval {text!r} has more than {MAX_INTERVAL_VALUES} values"
            )
        values.append(_written(moment, parts[0], date_only))
        try:
            moment = period.times(start, len(values))
        except (OverflowError, ValueError):
            break  # past year 9999: nothing more to list
    return tuple(values)


def _moment(text: str) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigValueError(f"{text!r} is not an ISO 8601 time") from None


def _written(moment: datetime.datetime, like: str, date_only: bool) -> str:
    if date_only and moment.time() == datetime.time(0):
        return moment.date().isoformat()
    text = moment.isoformat()
    return text.replace("+00:00", "Z") if like.endswith("Z") else text
