"""The seed configuration model: seed.yaml's `seeds`, `cleanups` and `coverages`, key for key.

The YAML adapter fills these; what names point at (caches, grids, coverages) is checked there,
against the proxy configuration.
"""

from __future__ import annotations

import attrs

from domain.config import CoverageConf
from domain.errors import ConfigValueError
from domain.time_spec import TimeSpec


def _non_negative_levels(
    instance: object, attribute: attrs.Attribute[int | None], value: int | None
) -> None:
    if value is not None and value < 0:
        raise ConfigValueError(f"a level is never negative, got {value}")


@attrs.frozen
class LevelRange:
    """`levels: {from: a, to: b}` (both inclusive, either may be left out)."""

    from_: int | None = attrs.field(default=None, validator=_non_negative_levels)
    to: int | None = attrs.field(default=None, validator=_non_negative_levels)

    def __attrs_post_init__(self) -> None:
        if self.from_ is not None and self.to is not None and self.from_ > self.to:
            raise ConfigValueError(
                f"levels from {self.from_} is after to {self.to}; nothing to do"
            )


@attrs.frozen
class ResRange:
    """`resolutions: {from: r1, to: r2}`: the levels closest to these resolutions, and between."""

    from_: float | None = None
    to: float | None = None


@attrs.frozen
class SeedTaskConf:
    """A `seeds:` entry."""

    caches: tuple[str, ...]
    grids: tuple[str, ...] | None = None
    coverages: tuple[str, ...] | None = None
    levels: tuple[int, ...] | LevelRange | None = None
    resolutions: tuple[float, ...] | ResRange | None = None
    refresh_before: TimeSpec | None = None
    # Values per dimension of the caches' layers (a Tilegate extension); by default all.
    dimensions: dict[str, tuple[str, ...]] | None = None


@attrs.frozen
class CleanupTaskConf:
    """A `cleanups:` entry."""

    caches: tuple[str, ...]
    grids: tuple[str, ...] | None = None
    coverages: tuple[str, ...] | None = None
    levels: tuple[int, ...] | LevelRange | None = None
    resolutions: tuple[float, ...] | ResRange | None = None
    remove_before: TimeSpec | None = None
    remove_all: bool = False
    dimensions: dict[str, tuple[str, ...]] | None = None


@attrs.frozen
class SeedConf:
    """A whole seed.yaml."""

    seeds: dict[str, SeedTaskConf] = attrs.Factory(dict)
    cleanups: dict[str, CleanupTaskConf] = attrs.Factory(dict)
    coverages: dict[str, CoverageConf] = attrs.Factory(dict)
