"""An upstream request whose failure a source's `on_error` answers with a plain tile."""

from __future__ import annotations

from collections.abc import Callable

from adapters.http_client import Response
from domain.errors import SourceError
from domain.on_error import OnError
from domain.ports import SourceImage


def fetch(
    send: Callable[[], Response], on_error: OnError | None, size: tuple[int, int]
) -> Response | SourceImage:
    """send()'s answer; `on_error`'s stand-in image where it covers the answer's status, or
    (as `other`) no answer at all. Any other failure is left to the caller."""
    try:
        resp = send()
    except SourceError:
        if on_error is not None and (image := on_error.image(None, size)):
            return image
        raise
    if (
        resp.status != 200
        and on_error is not None
        and (image := on_error.image(resp.status, size))
    ):
        return image
    return resp
