"""A source's `on_error`: HTTP statuses answered with a plain tile instead of an error.

As MapProxy: an entry per status, or `other` for any status without one and for an upstream
that did not answer at all; the tile is `transparent` or one colour, stored only with
`cache: true`, and with `authorize_stale: true` a tile already in the cache is kept instead.
"""

from __future__ import annotations

import io

import attrs
from PIL import Image

from domain.config import OnErrorMap, parse_color
from domain.ports import SourceImage

_TRANSPARENT = (255, 255, 255, 0)


@attrs.frozen
class ErrorAnswer:
    """The tile an `on_error` entry answers with."""

    color: tuple[int, int, int, int]
    cache: bool = False
    authorize_stale: bool = False


@attrs.frozen
class OnError:
    """The `on_error` entries of one source, by HTTP status (or "other")."""

    answers: dict[int | str, ErrorAnswer]

    @classmethod
    def from_conf(cls, conf: OnErrorMap | None) -> OnError | None:
        if not conf:
            return None
        return cls(
            {
                status: ErrorAnswer(
                    _TRANSPARENT
                    if entry.response == "transparent"
                    else parse_color(entry.response),
                    entry.cache,
                    entry.authorize_stale,
                )
                for status, entry in conf.items()
            }
        )

    def image(self, status: int | None, size: tuple[int, int]) -> SourceImage | None:
        """The stand-in for an answer with `status` (None: no answer), or None to fail."""
        answer = self.answers.get(status) if status is not None else None
        if answer is None:
            answer = self.answers.get("other")
        if answer is None:
            return None
        out = io.BytesIO()
        Image.new("RGBA", size, answer.color).save(out, "PNG")
        return SourceImage(
            out.getvalue(), "image/png", answer.cache, answer.authorize_stale
        )
