"""Band merging: a cache's channels (r, g, b, a, or l for grey) combined from its sources' bands.

As MapProxy's band merge: each channel is the sum of its source bands, each times its
`factor` (clipped to 255), except that an entry without a factor replaces what came before it
in its channel; a channel nobody fills is 0, an unfilled alpha opaque. Band 3 of a source
without alpha is opaque.
"""

from __future__ import annotations

from typing import Literal

import attrs
from PIL import Image, ImageChops

from domain.config import BandMergeConf

_CHANNELS = {"r": 0, "g": 1, "b": 2, "a": 3, "l": 0}


@attrs.frozen
class BandOp:
    """Band `band` of source number `source`, times `factor`, into channel `channel`."""

    channel: int
    source: int
    band: int
    factor: float = 1.0


@attrs.frozen
class BandMerge:
    """How a band-merged cache makes one image from one image per source (in source order)."""

    mode: Literal["L", "RGB", "RGBA"]
    ops: tuple[BandOp, ...]

    @classmethod
    def from_conf(cls, conf: BandMergeConf) -> BandMerge:
        names = conf.source_names()
        channels = conf.channels()
        mode: Literal["L", "RGB", "RGBA"] = (
            "L" if "l" in channels else "RGBA" if "a" in channels else "RGB"
        )
        ops = tuple(
            BandOp(_CHANNELS[name], names.index(b.source), b.band, b.factor)
            for name, bands in channels.items()
            for b in bands
        )
        return cls(mode, ops)

    def combine(self, images: list[Image.Image]) -> Image.Image:
        """The merged image of the sources' images (all of one size)."""
        size = images[0].size
        bands = [img.convert("RGBA").split() for img in images]
        out: list[Image.Image | None] = [None] * len(self.mode)
        for op in self.ops:
            band = bands[op.source][op.band]
            current = out[op.channel]
            if op.factor == 1.0 or current is None:
                # As MapProxy 7: an entry without a factor replaces the channel so far.
                out[op.channel] = band if op.factor == 1.0 else _times(band, op.factor)
            else:
                out[op.channel] = ImageChops.add(current, _times(band, op.factor))
        filled = [
            b if b is not None else Image.new("L", size, 255 if i == 3 else 0)
            for i, b in enumerate(out)
        ]
        return Image.merge(self.mode, filled)


def _times(band: Image.Image, factor: float) -> Image.Image:
    return band.point(lambda v: max(0, min(255, int(v * factor))))
