"""Error answers per service: domain errors mapped to HTTP status and an escaped XML body (JSON
for OGC API)."""

from __future__ import annotations

import json
import re
from xml.sax.saxutils import escape, quoteattr

from domain.errors import (
    LockTimeoutError,
    OutsideGridError,
    RequestError,
    SourceError,
    SourceTimeoutError,
    TilegateError,
)
from entrypoints.http import Response

XML = "application/xml"
# Characters XML 1.0 cannot carry even escaped (C0 controls other than tab and line ends, lone
# surrogates, U+FFFE/U+FFFF); a request path or value can bring them into an error message.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str) -> str:
    """value as XML character data: escaped, characters XML cannot hold replaced by U+FFFD."""
    return escape(_NOT_XML.sub("\ufffd", value))


class NotFoundError(RequestError):
    """A resource (layer, grid, path) that does not exist."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message, param, code="InvalidParameterValue")


class AccessDeniedError(RequestError):
    """A request the `mapproxy.authorize` callback refused: 403, or 401 when nobody logged in."""

    def __init__(self, unauthenticated: bool = False) -> None:
        self.status = 401 if unauthenticated else 403
        super().__init__(
            "unauthorized" if unauthenticated else "forbidden", code="NoApplicableCode"
        )


def request_status(error: RequestError) -> int:
    """The status of a client error in an OGC exception: 400, unless access was denied."""
    return error.status if isinstance(error, AccessDeniedError) else 400


def unknown_operation(operation: str) -> RequestError:
    """The error for a REQUEST parameter that is missing or names no operation of the service."""
    if not operation:
        return RequestError(
            "missing parameter REQUEST", param="request", code="MissingParameterValue"
        )
    return RequestError(
        f"unknown request {operation!r}", param="request", code="OperationNotSupported"
    )


def positive_int(value: str, name: str) -> int:
    """A request parameter that must be a whole number above zero."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise RequestError(
            f"{name.upper()} must be a positive integer, got {value!r}", param=name
        )
    return number


def status_for(error: TilegateError) -> int:
    match error:
        case AccessDeniedError():
            return error.status
        case NotFoundError() | OutsideGridError():
            return 404
        case RequestError():
            return 400
        case SourceTimeoutError():
            return 504
        case SourceError():
            return 502
        case LockTimeoutError():
            return 503
    return 500


def retry_headers(error: TilegateError) -> list[tuple[str, str]]:
    """Retry-After for a 503: another worker is making the tile, and it is stored soon."""
    return [("Retry-After", "5")] if isinstance(error, LockTimeoutError) else []


def tms_error(error: TilegateError) -> Response:
    body = f'<?xml version="1.0"?>\n<TileMapServerError>\n    <Message>{xml_text(str(error))}</Message>\n</TileMapServerError>\n'
    return Response(status_for(error), body.encode(), XML, retry_headers(error))


def ows_error(error: TilegateError) -> Response:
    """An OWS 1.1 ExceptionReport, as WMTS answers errors."""
    if isinstance(error, RequestError):
        code, locator = error.code, error.param
        status = request_status(error)
    else:
        code, locator, status = "NoApplicableCode", None, status_for(error)
    locator_attr = f" locator={quoteattr(locator)}" if locator else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ExceptionReport xmlns="http://www.opengis.net/ows/1.1" version="1.1.0" xml:lang="en">\n'
        f"  <Exception exceptionCode={quoteattr(code)}{locator_attr}>\n"
        f"    <ExceptionText>{xml_text(str(error))}</ExceptionText>\n"
        "  </Exception>\n</ExceptionReport>\n"
    )
    return Response(status, body.encode(), XML, retry_headers(error))


# OGC API exception codes by status; a 400 carries the request error's own code.
_OGCAPI_CODES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def ogcapi_error(error: TilegateError) -> Response:
    """An OGC API exception: JSON with `code` and `description` (OGC API Common)."""
    status = status_for(error)
    code = _OGCAPI_CODES.get(status, "ServerError")
    if status == 400 and isinstance(error, RequestError):
        code = error.code
    body = json.dumps({"code": code, "description": str(error)}).encode()
    return Response(status, body, "application/json", retry_headers(error))
