"""ISO 8601 intervals of time dimensions: calendar months and years, ends, the written form."""

from __future__ import annotations

import pytest

from domain.errors import ConfigValueError
from domain.time_interval import MAX_INTERVAL_VALUES, unfold


def test_months_step_by_the_calendar() -> None:
    values = unfold("2020-01-01T00:00:00Z/2021-01-01T00:00:00Z/P1M")
    assert len(values) == 13
    assert values[:3] == (
        "2020-01-01T00:00:00Z",
        "2020-02-01T00:00:00Z",
        "2020-03-01T00:00:00Z",
    )
    assert values[-1] == "2021-01-01T00:00:00Z"


def test_the_end_of_a_month_stays_the_end_of_shorter_months() -> None:
    assert unfold("2020-01-31/2020-05-31/P1M") == (
        "2020-01-31",
        "2020-02-29",
        "2020-03-31",
        "2020-04-30",
        "2020-05-31",
    )


def test_years_and_mixed_periods() -> None:
    assert unfold("2019-06-15/2022-06-15/P1Y") == (
        "2019-06-15",
        "2020-06-15",
        "2021-06-15",
        "2022-06-15",
    )
    # Feb 29 of a leap year is Feb 28 in the others, and Feb 29 again four years on.
    assert unfold("2020-02-29/2024-03-01/P2Y") == (
        "2020-02-29",
        "2022-02-28",
        "2024-02-29",
    )
    assert unfold("2020-01-01T00:00:00Z/2020-03-05T00:00:00Z/P1M1DT12H") == (
        "2020-01-01T00:00:00Z",
        "2020-02-02T12:00:00Z",
        "2020-03-04T00:00:00Z",
    )


def test_times_are_written_as_the_start_is() -> None:
    assert unfold("2020-01-01T00:00:00/2020-01-01T01:00:00/PT1H") == (
        "2020-01-01T00:00:00",
        "2020-01-01T01:00:00",
    )
    assert unfold("2020-01-01T00:00:00+02:00/2020-01-01T00:30:00+02:00/PT30M") == (
        "2020-01-01T00:00:00+02:00",
        "2020-01-01T00:30:00+02:00",
    )
    assert unfold("2020-01-01") == ("2020-01-01",)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2020-01-01/2021-01-01/P1.5M", "whole numbers"),
        ("2020-01-01/2021-01-01/P0Y", "longer than zero"),
        ("2020-01-01/2021-01-01/1M", "not an ISO 8601 duration"),
        ("2020-01-01/2021-01-01/PT", "not an ISO 8601 duration"),
        ("2020-01-01/2021-01-01", "not start/end/period"),
        ("2020-01-01T00:00:00Z/2021-01-01T00:00:00/P1M", "both need an offset"),
        ("2020-13-01/2021-01-01/P1M", "is not an ISO 8601 time"),
        ("0001-01-01/9999-01-01/P1D", f"more than {MAX_INTERVAL_VALUES} values"),
    ],
)
def test_bad_intervals_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ConfigValueError, match=problem):
        unfold(text)


def test_an_interval_stops_at_the_last_year_there_is() -> None:
    assert unfold("9998-01-01/9999-12-31/P1Y") == ("9998-01-01", "9999-01-01")
