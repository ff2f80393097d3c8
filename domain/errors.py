"""The one error tree of Tilegate: every failure a caller may handle is a TilegateError."""

from __future__ import annotations


class TilegateError(Exception):
    """Base of every error Tilegate raises on purpose."""


class ConfigError(TilegateError):
    """A configuration that cannot be used; `problems` end in their key paths."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class ConfigValueError(TilegateError, ValueError):
    """A single bad configuration value, raised by model validators and structure hooks."""


class RequestError(TilegateError):
    """Bad client input; `param` names the offending request parameter if there is one."""

    def __init__(
        self,
        message: str,
        param: str | None = None,
        code: str = "InvalidParameterValue",
    ) -> None:
        self.param = param
        self.code = code
        super().__init__(message)


class OutsideGridError(RequestError):
    """A tile coordinate that does not exist in its grid."""

    def __init__(self, message: str) -> None:
        super().__init__(message, param=None, code="TileOutOfRange")


class SourceError(TilegateError):
    """An upstream source failed (HTTP error, bad image); the result is never cached."""


class SourceTimeoutError(SourceError):
    """An upstream source did not answer in time."""


class LockTimeoutError(TilegateError):
    """Waiting for another worker to create a tile took longer than the lock timeout."""


class StoreError(TilegateError, OSError):
    """A cache could not keep a new tile (disk full, read-only, database busy); the tile is good.

    An OSError too, so that tools which stop on a file they cannot write stop on this as well.
    """
