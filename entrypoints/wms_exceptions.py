"""WMS exceptions as the request asks for them: the version's XML, an image with the message
(`inimage`) or an empty image (`blank`); never bigger than the request could have been."""

from __future__ import annotations

from typing import Literal
from xml.sax.saxutils import escape

import attrs
from PIL import Image

from domain import imaging
from domain.errors import RequestError, TilegateError
from domain.fonts import BUILTIN, TextFont
from domain.formats import ImageFormat
from domain.wms_map import draw_message, finish
from entrypoints.http import Response
from entrypoints.ogc import request_status, retry_headers, status_for, xml_text

ExceptionKind = Literal["xml", "inimage", "blank"]
# The size of an image exception when the request's own size is unusable.
FALLBACK_SIZE = (256, 256)
PNG = ImageFormat("image/png", "png", "PNG")


@attrs.frozen
class ErrorStyle:
    """How one request wants its errors: the version's XML, or an image."""

    version: str
    kind: ExceptionKind = "xml"
    size: tuple[int, int] = FALLBACK_SIZE
    format: ImageFormat = PNG
    bgcolor: str = "0xFFFFFF"
    transparent: bool = False
    font: TextFont = BUILTIN


def exception(error: TilegateError, style: ErrorStyle) -> Response:
    """The error as the request asked for it, with the OGC code and the HTTP status it deserves."""
    status, code = status_for(error), "NoApplicableCode"
    if isinstance(error, RequestError):
        status, code = request_status(error), error.code
    if style.kind != "xml":
        image = Image.new("RGBA", style.size, (0, 0, 0, 0))
        if style.kind == "inimage":
            background = finish(image, False, style.bgcolor)
            image = draw_message(background, str(error), style.font)
        image = finish(
            image, style.transparent and style.format.supports_alpha, style.bgcolor
        )
        fmt = imaging.concrete_format(image, style.format)
        data = imaging.encode(image, fmt, imaging.EncodeOptions(paletted=False))
        return Response(status, data, fmt.mime, retry_headers(error))
    attr = f' code="{escape(code)}"' if code != "NoApplicableCode" else ""
    message = xml_text(str(error))
    if style.version == "1.3.0":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ServiceExceptionReport version="1.3.0" xmlns="http://www.opengis.net/ogc"'
            ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
            ' xsi:schemaLocation="http://www.opengis.net/ogc'
            ' http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd">\n'
            f"  <ServiceException{attr}>{message}</ServiceException>\n"
            "</ServiceExceptionReport>\n"
        )
        return Response(
            status, body.encode(), "text/xml; charset=utf-8", retry_headers(error)
        )
    if style.version == "1.0.0":
        # 1.0.0 has no exception codes: the message alone, in a WMTException document.
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<WMTException version="1.0.0">\n{message}\n</WMTException>\n'
        return Response(
            status, body.encode(), "text/xml; charset=utf-8", retry_headers(error)
        )
    # 1.1.0 and 1.1.1 share the document; each names its own DTD.
    dtd = style.version.replace(".", "_")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<!DOCTYPE ServiceExceptionReport SYSTEM "http://schemas.opengis.net/wms/{style.version}/exception_{dtd}.dtd">\n'
        f'<ServiceExceptionReport version="{style.version}">\n'
        f"  <ServiceException{attr}>{message}</ServiceException>\n"
        "</ServiceExceptionReport>\n"
    )
    return Response(
        status, body.encode(), "application/vnd.ogc.se_xml", retry_headers(error)
    )
