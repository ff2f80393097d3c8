"""The WMS 1.0.0 capabilities document (`WMT_MS_Capabilities version="1.0.0"`): formats are
empty elements named by the 1.0.0 DTD (`<PNG/>`), URLs are `onlineResource` attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from domain.formats import find_format
from entrypoints.http import PROXY_VARY, Request, Response
from entrypoints.wms_capabilities_layer import layer_xml
from entrypoints.wms_featureinfo import info_formats

if TYPE_CHECKING:
    from entrypoints.wms import WMSService

# The 1.0.0 names of the map formats Tilegate writes; formats without one are not listed.
MAP_FORMATS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/tiff": "TIFF",
}
# Feature info: GML is named, any other MIME type is just `MIME`.
_INFO_FORMATS = {"application/vnd.ogc.gml": "GML.1"}


def capabilities_100(service: WMSService, request: Request) -> Response:
    base = request.base_url
    md = service.conf.md or {}
    url = f"{base}/service?"
    online = str(md.get("online_resource") or f"{base}/service")
    dcp = f"<DCPType><HTTP><Get onlineResource={quoteattr(url)}/></HTTP></DCPType>"
    found = (find_format(name) for name in service.conf.image_formats)
    names = dict.fromkeys(
        MAP_FORMATS[f.mime] for f in found if f is not None and f.mime in MAP_FORMATS
    )
    requests = (
        f"<Capabilities><Format><WMS_XML/></Format>{dcp}</Capabilities>"
        f"<Map>{_formats(names)}{dcp}</Map>"
    )
    if any(layer.info_sources for layer in service.named.values()):
        kinds = dict.fromkeys(
            _INFO_FORMATS.get(f, "MIME") for f in info_formats(service)
        )
        requests += f"<FeatureInfo>{_formats(kinds)}{dcp}</FeatureInfo>"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE WMT_MS_Capabilities SYSTEM "http://schemas.opengis.net/wms/1.0.0/capabilities_1_0_0.dtd">\n'
        '<WMT_MS_Capabilities version="1.0.0">\n'
        "<Service><Name>OGC:WMS</Name>"
        f"<Title>{escape(str(md.get('title', 'Tilegate WMS')))}</Title>"
        f"<Abstract>{escape(str(md.get('abstract', '')))}</Abstract>"
        f"{_keywords(md.get('keyword_list'))}"
        f"<OnlineResource>{escape(online)}</OnlineResource>"
        f"<Fees>{escape(str(md.get('fees', 'none')))}</Fees>"
        f"<AccessConstraints>{escape(str(md.get('access_constraints', 'none')))}</AccessConstraints>"
        "</Service>\n"
        f"<Capability><Request>{requests}</Request>"
        "<Exception><Format><WMS_XML/><INIMAGE/><BLANK/></Format></Exception>\n"
        + layer_xml(service, service.root, "1.0.0", url, root=True)
        + "</Capability>\n</WMT_MS_Capabilities>\n"
    )
    return Response(
        200, body.encode(), "text/xml; charset=utf-8", [("Vary", PROXY_VARY)]
    )


def _formats(names: dict[str, None]) -> str:
    return "<Format>" + "".join(f"<{name}/>" for name in names) + "</Format>"


def _keywords(value: object) -> str:
    """1.0.0 keywords are one space-separated list; words with spaces are split."""
    if not isinstance(value, list):
        return ""
    words = [
        str(word)
        for entry in value
        if isinstance(entry, dict)
        for word in entry.get("keywords") or []
    ]
    return f"<Keywords>{escape(' '.join(words))}</Keywords>" if words else ""
