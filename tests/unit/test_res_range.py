"""Layer resolution ranges: which maps they contain, their scales, their validation."""

from __future__ import annotations

import pytest

from domain.bbox import Bbox
from domain.errors import ConfigValueError
from domain.res_range import ResRange, res_range
from domain.scales import METERS_PER_DEGREE
from domain.srs import srs

MERC, WGS84 = srs("EPSG:3857"), srs("EPSG:4326")


@pytest.mark.parametrize(
    ("width_m", "inside"),
    [
        (1000 * 256, True),
        (100 * 256, True),
        (50 * 256, True),
        (1001 * 256, False),
        (49 * 256, False),
    ],
)
def test_contains_is_inclusive_at_both_limits(width_m: float, inside: bool) -> None:
    limits = ResRange(min_res=1000, max_res=50)
    assert limits.contains(Bbox(0, 0, width_m, width_m), (256, 256), MERC) is inside


def test_geographic_maps_are_measured_in_metres_at_the_equator() -> None:
    limits = ResRange(min_res=1000)
    degrees = 1000 * 256 / METERS_PER_DEGREE
    assert limits.contains(Bbox(0, 0, degrees, degrees), (256, 256), WGS84)
    assert not limits.contains(Bbox(0, 0, degrees * 1.01, degrees), (256, 256), WGS84)


def test_either_axis_outside_the_range_leaves_the_map_out() -> None:
    limits = ResRange(min_res=1000)
    assert not limits.contains(Bbox(0, 0, 256_000, 512_000), (256, 256), MERC)


def test_scales_convert_with_the_ogc_pixel() -> None:
    limits = res_range(min_scale=50 / 0.00028, max_scale=1000 / 0.00028)
    assert limits is not None
    assert limits.min_res == pytest.approx(1000)
    assert limits.max_res == pytest.approx(50)
    assert limits.scale_denominators() == pytest.approx((50 / 0.00028, 1000 / 0.00028))
    assert limits.scale_hint() == pytest.approx((70.71067811865476, 1414.213562373095))


def test_open_ends_have_no_limit() -> None:
    limits = ResRange(max_res=10)
    assert limits.contains(Bbox(0, 0, 1e7, 1e7), (256, 256), MERC)
    assert limits.scale_denominators()[1] is None
    assert limits.scale_hint()[1] is None
    assert res_range() is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_res": 10, "max_scale": 5}, "not both"),
        ({"min_res": 10, "max_res": 10}, "must be larger"),
        ({"min_scale": 100, "max_scale": 10}, "must be larger"),
        ({"max_res": -1}, "must be positive"),
    ],
)
def test_bad_ranges_are_config_errors(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigValueError, match=message):
        res_range(**kwargs)
