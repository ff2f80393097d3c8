"""A layer's resolution range (`min_res`/`max_res` or `min_scale`/`max_scale`): where it is drawn.

Resolutions are metres per pixel (degrees convert at the equator) and scales OGC scale
denominators, as MapProxy reads them. `min_res` is the coarsest resolution a layer is drawn at,
`max_res` the finest; outside the range the layer is left out of the map.
"""

from __future__ import annotations

import math

import attrs

from domain.bbox import Bbox
from domain.errors import ConfigValueError
from domain.scales import meters_per_unit, res_to_scale, scale_to_res
from domain.srs import SRS

# A request exactly at a limit is inside it, whatever the float noise of its bbox.
_TOLERANCE = 1e-9


@attrs.frozen
class ResRange:
    """Drawn from `min_res` (coarsest, None: no limit) down to `max_res` (finest)."""

    min_res: float | None = None
    max_res: float | None = None

    def __attrs_post_init__(self) -> None:
        for value in (self.min_res, self.max_res):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigValueError(
                    f"resolutions and scales must be positive, got {value}"
                )
        if (
            self.min_res is not None
            and self.max_res is not None
            and self.min_res <= self.max_res
        ):
            raise ConfigValueError(
                f"min_res ({self.min_res}) must be larger than max_res ({self.max_res}),"
                " and max_scale larger than min_scale"
            )

    def contains(self, bbox: Bbox, size: tuple[int, int], srs: SRS) -> bool:
        """Whether a map of bbox at size (pixels) in srs is within the range."""
        factor = meters_per_unit(srs.is_latlong)
        resolutions = (bbox.width / size[0] * factor, bbox.height / size[1] * factor)
        if self.min_res is not None and any(
            r > self.min_res * (1 + _TOLERANCE) for r in resolutions
        ):
            return False
        return not (
            self.max_res is not None
            and any(r < self.max_res * (1 - _TOLERANCE) for r in resolutions)
        )

    def scale_denominators(self) -> tuple[float | None, float | None]:
        """WMS 1.3.0's MinScaleDenominator and MaxScaleDenominator (OGC pixel)."""
        return _scale(self.max_res), _scale(self.min_res)

    def scale_hint(self) -> tuple[float | None, float | None]:
        """WMS 1.1.1's ScaleHint min and max: the diagonal of a pixel at max_res and min_res."""
        return _diagonal(self.max_res), _diagonal(self.min_res)


def res_range(
    min_res: float | None = None,
    max_res: float | None = None,
    min_scale: float | None = None,
    max_scale: float | None = None,
) -> ResRange | None:
    """The range configured by resolutions or by scales (not both); None if neither is set."""
    has_res = min_res is not None or max_res is not None
    has_scale = min_scale is not None or max_scale is not None
    if has_res and has_scale:
        raise ConfigValueError(
            "set either min_res/max_res or min_scale/max_scale, not both"
        )
    if has_scale:
        # The largest scale denominator is the coarsest resolution.
        return ResRange(_res(max_scale), _res(min_scale))
    return ResRange(min_res, max_res) if has_res else None


def _scale(res: float | None) -> float | None:
    return None if res is None else res_to_scale(res)


def _res(scale: float | None) -> float | None:
    return None if scale is None else scale_to_res(scale)


def _diagonal(res: float | None) -> float | None:
    return None if res is None else math.hypot(res, res)
