"""Logging: structlog over stdlib, with MapProxy's logger names so a MapProxy log.ini routes ours."""

from __future__ import annotations

import logging
import re

import structlog

SYSTEM = "mapproxy.system"
CONFIG = "mapproxy.config"
SOURCE_REQUEST = "mapproxy.source.request"
CACHE_FILE = "mapproxy.cache.file"
ACCESS = "mapproxy.access"


def source_logger_name(source_type: str) -> str:
    return f"mapproxy.source.{source_type}"


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)


def configure(debug: bool = False) -> None:
    """Route structlog through stdlib logging; a handler is added only where none is set up."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.processors.format_exc_info,
            structlog.processors.KeyValueRenderer(
                key_order=["event"], drop_missing=True
            ),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    mapproxy = logging.getLogger("mapproxy")
    # A level set before (by a log.ini, or by --debug) stays unless debug asks for more.
    if debug or mapproxy.level == logging.NOTSET:
        mapproxy.setLevel(logging.DEBUG if debug else logging.INFO)


_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def redact_url(url: str) -> str:
    """The URL without user:password, fit for logs and error messages."""
    return _CREDENTIALS.sub("", url)
