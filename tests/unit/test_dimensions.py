"""Layer dimensions without I/O: values from configuration, the value a request picks, paths."""

from __future__ import annotations

import pytest

from domain.dimensions import Chosen, Dimension, LayerDimensions, check_value
from domain.errors import ConfigValueError, RequestError


def test_a_single_time_value_is_an_interval_ending_at_its_end() -> None:
    dim = Dimension.from_conf(
        "time", ["2020-01-01T00:00:00Z/2020-01-02T00:00:00Z/PT12H"], None
    )
    assert dim.values == (
        "2020-01-01T00:00:00Z",
        "2020-01-01T12:00:00Z",
        "2020-01-02T00:00:00Z",
    )
    assert dim.default == "2020-01-02T00:00:00Z"


def test_an_interval_keeps_its_offset_and_other_single_values_split_at_slashes() -> (
    None
):
    dim = Dimension.from_conf(
        "dim_reference_time",
        ["2020-01-01T00:00:00+01:00/2020-01-01T01:00:00+01:00/PT1H"],
        "x",
    )
    assert dim.values == ("2020-01-01T00:00:00+01:00", "2020-01-01T01:00:00+01:00")
    assert dim.default == "x"
    assert Dimension.from_conf("level", ["700/850"], None).values == ("700", "850")
    assert Dimension.from_conf("elevation", [0, 1000.5], None).values == ("0", "1000.5")


@pytest.mark.parametrize(
    "value", ["", ".", "..", "a/b", "/etc", "a\\b", "a\x00b", "a\nb", "x" * 201]
)
def test_values_that_cannot_name_a_directory_are_refused(value: str) -> None:
    with pytest.raises(ConfigValueError):
        check_value(value)


def test_choose_takes_defaults_and_refuses_values_not_offered() -> None:
    dims = LayerDimensions(
        (
            Dimension("TIME", ("a", "b"), "b"),
            Dimension("dim_level", ("1", "2"), "2"),
            Dimension("elevation", ("0",), "0"),
        )
    )
    given = {"time": "a", "dim_level": "default"}
    chosen = dims.choose(lambda d: given.get(d.key))
    # Path order: the dim_ ones after the others, each by name.
    assert chosen == Chosen((("elevation", "0"), ("time", "a"), ("dim_level", "2")))
    assert chosen.path == "elevation-0/time-a/dim_level-2"
    with pytest.raises(RequestError) as info:
        dims.choose(lambda d: "..")
    assert (info.value.param, info.value.code) == ("time", "InvalidParameterValue")


def test_wms_parameter_names() -> None:
    assert [
        Dimension(n, ("a",), "a").wms_param
        for n in ("Time", "elevation", "dim_x", "level")
    ] == [
        "time",
        "elevation",
        "dim_x",
        "dim_level",
    ]
