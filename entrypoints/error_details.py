"""What clients see of a failed upstream: `http.hide_error_details` (globally and per source,
MapProxy's default true) keeps upstream URLs out of error answers; the server log has them.

Upstream errors name their source by URL (scheme, host, path: never credentials or query), so
hiding works on the answer's text: each URL of a host whose source hides details is replaced."""

from __future__ import annotations

import re

import attrs

from domain.config import HttpConf, SourceConf, TilegateConf
from domain.errors import SourceError, TilegateError

_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://([^/\s'\"<>]+)[^\s'\"<>]*", re.IGNORECASE)
HIDDEN = "[source]"
NOTE = " (details in the server log)"


@attrs.frozen
class ErrorDetails:
    """`hide`: the global setting; `flipped`: hosts (host:port) whose sources say otherwise."""

    hide: bool = True
    flipped: frozenset[str] = frozenset()

    @classmethod
    def build(cls, conf: TilegateConf) -> ErrorDetails:
        """From `globals.http` and the `http` of each source that has a URL."""
        hide = conf.globals.http.hide_error_details is not False
        flipped = set()
        for source in conf.sources.values():
            own: HttpConf | None = getattr(source, "http", None)
            if own is None or own.hide_error_details in (None, hide):
                continue
            if match := _URL.match(_url(source)):
                flipped.add(match.group(1).rpartition("@")[2].lower())
        return cls(hide, frozenset(flipped))

    def public(self, error: TilegateError) -> TilegateError:
        """`error` as a client may see it: an upstream error without the URLs to hide."""
        if not isinstance(error, SourceError):
            return error
        text = str(error)
        shown = _URL.sub(self._replace, text)
        if shown == text:
            return error
        return type(error)(shown + NOTE)

    def describe(self, error: SourceError) -> str:
        """The words of an upstream error as a client may see them (in a map image)."""
        return str(self.public(error))

    def _replace(self, match: re.Match[str]) -> str:
        hidden = self.hide != (match.group(1).lower() in self.flipped)
        return HIDDEN if hidden else match.group(0)


def _url(source: SourceConf) -> str:
    """Where a source's requests go: `url`, `req.url` or `landingpage_url`."""
    req = getattr(source, "req", None)
    found = (
        getattr(source, "url", None)
        or getattr(source, "landingpage_url", None)
        or (req.get("url") if isinstance(req, dict) else getattr(req, "url", None))
    )
    return str(found or "")
