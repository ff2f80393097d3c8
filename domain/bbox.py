"""Bounding boxes: (minx, miny, maxx, maxy) in x/y (east/north) order."""

from __future__ import annotations

import math

import attrs


def _check_finite(
    instance: Bbox, attribute: attrs.Attribute[float], value: float
) -> None:
    if not math.isfinite(value):
        raise ValueError(
            f"bbox {attribute.name} must be a finite number, not {value!r}"
        )


@attrs.frozen
class Bbox:
    """An axis-aligned rectangle; an empty or inverted bbox cannot exist."""

    minx: float = attrs.field(converter=float, validator=_check_finite)
    miny: float = attrs.field(converter=float, validator=_check_finite)
    maxx: float = attrs.field(converter=float, validator=_check_finite)
    maxy: float = attrs.field(converter=float, validator=_check_finite)

    def __attrs_post_init__(self) -> None:
        if self.minx >= self.maxx or self.miny >= self.maxy:
            raise ValueError(f"bbox {self.as_tuple()} is empty or inverted")

    @property
    def width(self) -> float:
        return self.maxx - self.minx

    @property
    def height(self) -> float:
        return self.maxy - self.miny

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.minx, self.miny, self.maxx, self.maxy)

    def intersects(self, other: Bbox) -> bool:
        return (
            self.minx < other.maxx
            and other.minx < self.maxx
            and self.miny < other.maxy
            and other.miny < self.maxy
        )

    def contains(self, other: Bbox) -> bool:
        return (
            self.minx <= other.minx
            and self.miny <= other.miny
            and self.maxx >= other.maxx
            and self.maxy >= other.maxy
        )

    def intersection(self, other: Bbox) -> Bbox | None:
        minx, miny = max(self.minx, other.minx), max(self.miny, other.miny)
        maxx, maxy = min(self.maxx, other.maxx), min(self.maxy, other.maxy)
        if minx >= maxx or miny >= maxy:
            return None
        return Bbox(minx, miny, maxx, maxy)

    def union(self, other: Bbox) -> Bbox:
        return Bbox(
            min(self.minx, other.minx),
            min(self.miny, other.miny),
            max(self.maxx, other.maxx),
            max(self.maxy, other.maxy),
        )
