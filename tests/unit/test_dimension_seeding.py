"""Which dimension values a seed or cleanup task of a cache works through, without I/O."""

from __future__ import annotations

import pytest

from domain.config import CacheConf, DimensionConf, LayerConf, TilegateConf
from domain.dimension_seeding import (
    MAX_COMBINATIONS,
    cache_dimensions,
    combinations,
    picked_values,
)
from domain.dimensions import Chosen, Dimension, LayerDimensions
from domain.errors import ConfigValueError

TIMES = LayerDimensions((Dimension("time", ("a", "b"), "b"),))
BOTH = LayerDimensions(
    (Dimension("time", ("a", "b"), "b"), Dimension("elevation", ("0", "9"), "0"))
)


def layer(name: str, sources: list[str], **dims: list[object]) -> LayerConf:
    return LayerConf(
        name=name,
        title=name,
        sources=tuple(sources),
        dimensions={k: DimensionConf(tuple(map(str, v))) for k, v in dims.items()}
        or None,
    )


def test_a_cache_read_without_values_also_keeps_its_own_tiles() -> None:
    conf = TilegateConf(
        layers=(
            layer("t", ["c"], time=["a", "b"]),
            LayerConf(title="group", layers=(layer("p", ["plain"]),)),
        ),
        caches={"c": CacheConf(), "plain": CacheConf(), "of_c": CacheConf(("c",))},
    )
    users = cache_dimensions(conf, "c")
    assert users == (TIMES, None)  # layer t, and cache of_c made from c
    assert combinations(users, None) == (
        Chosen((("time", "a"),)),
        Chosen((("time", "b"),)),
        None,
    )
    # Values named: only theirs, not the tiles without values.
    assert combinations(users, {"time": ("b",)}) == (Chosen((("time", "b"),)),)
    assert cache_dimensions(conf, "plain") == (None,)
    assert cache_dimensions(conf, "unused") == (None,)


def test_combinations_of_several_dimensions_and_layers_each_once() -> None:
    found = combinations((BOTH, BOTH), {"elevation": ("9",)})
    assert found == (
        Chosen((("elevation", "9"), ("time", "a"))),
        Chosen((("elevation", "9"), ("time", "b"))),
    )


def test_too_many_combinations_ask_for_named_values() -> None:
    many = LayerDimensions(
        (
            Dimension("time", tuple(map(str, range(200))), "0"),
            Dimension("elevation", tuple(map(str, range(51))), "0"),
        )
    )
    assert MAX_COMBINATIONS < 200 * 51
    with pytest.raises(ConfigValueError, match="name the values"):
        combinations((many,), None)
    assert len(combinations((many,), {"elevation": ("1",)})) == 200


def test_picked_values_are_checked_and_time_intervals_unfold() -> None:
    dims = LayerDimensions(
        (Dimension("Time", ("2020-01-01", "2020-01-02", "2020-01-03"), "2020-01-03"),)
    )
    assert picked_values((dims,), "TIME", ["2020-01-01/2020-01-02/P1D"]) == (
        "2020-01-01",
        "2020-01-02",
    )
    with pytest.raises(ConfigValueError, match="'2021-01-01' is not a value"):
        picked_values((dims,), "time", ["2021-01-01"])
    with pytest.raises(ConfigValueError, match=r"no dimension 'x' \(they have: time\)"):
        picked_values((dims, None), "x", ["1"])
    # A cleanup may name values the layer no longer offers, if they can name a directory.
    assert picked_values((dims,), "time", ["2019-12-31"], offered_only=False) == (
        "2019-12-31",
    )
    with pytest.raises(ConfigValueError, match="cannot be stored"):
        picked_values((dims,), "time", [".."], offered_only=False)
