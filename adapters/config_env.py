"""Environment variables in configuration values, as MapProxy 7 reads them."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from adapters.logs import CONFIG, get_logger

# `$NAME` or `${NAME}` anywhere in a string value (never in a key). The result is a string
# whatever it looks like (`${PORT}` gives '8080'), and there is no escape and no default.
_REFERENCE = re.compile(r"\$(?:(\w+)|\{([^}]+)\})")
_log = get_logger(CONFIG)


def with_environment(
    data: dict[object, object], source: str, environ: Mapping[str, str] = os.environ
) -> dict[object, object]:
    """`data` with environment variables put into its string values; a variable that is not
    set stays as written (MapProxy 7 does the same, with a warning)."""
    missing: set[str] = set()
    result = {k: _substitute(v, environ, missing) for k, v in data.items()}
    for name in sorted(missing):
        _log.warning("environment variable not set", file=source, name=name)
    return result


def _substitute(value: object, environ: Mapping[str, str], missing: set[str]) -> object:
    if isinstance(value, str):
        if "$" not in value:
            return value
        return _REFERENCE.sub(lambda m: _lookup(m, environ, missing), value)
    if isinstance(value, dict):
        return {k: _substitute(v, environ, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, environ, missing) for v in value]
    return value


def _lookup(match: re.Match[str], environ: Mapping[str, str], missing: set[str]) -> str:
    name = match.group(1) or match.group(2)
    if name in environ:
        return environ[name]
    missing.add(name)
    return match.group(0)
