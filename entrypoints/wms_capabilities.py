"""WMS capabilities documents, 1.1.0 and 1.1.1 (DTDs) and 1.3.0 (schema); 1.0.0 in its own
module; every configured value escaped."""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from domain.formats import find_format
from entrypoints.http import PROXY_VARY, Request, Response
from entrypoints.wms_capabilities_100 import capabilities_100
from entrypoints.wms_capabilities_layer import XLINK, keyword_list, layer_xml
from entrypoints.wms_featureinfo import info_formats
from entrypoints.wms_inspire import NAMESPACES, SCHEMA_LOCATION, extended_capabilities

if TYPE_CHECKING:
    from entrypoints.wms import WMSService

# md.contact keys in the order both schemas want them, with their element names.
_PERSON = (("person", "ContactPerson"), ("organization", "ContactOrganization"))
_ADDRESS = (
    ("address_type", "AddressType"),
    ("address", "Address"),
    ("city", "City"),
    ("state", "StateOrProvince"),
    ("postcode", "PostCode"),
    ("country", "Country"),
)
_PHONES = (
    ("phone", "ContactVoiceTelephone"),
    ("fax", "ContactFacsimileTelephone"),
    ("email", "ContactElectronicMailAddress"),
)


def capabilities(service: WMSService, request: Request, version: str) -> Response:
    if version == "1.0.0":
        return capabilities_100(service, request)
    base = request.base_url
    md = service.conf.md or {}
    url = f"{base}/service?"
    online = str(md.get("online_resource") or f"{base}/service")
    v13 = version == "1.3.0"
    # INSPIRE View Services are WMS 1.3.0; MapProxy leaves 1.1.1 without the block, as here.
    inspire = service.conf.inspire_md if v13 else None
    caps_format = "text/xml" if v13 else "application/vnd.ogc.wms_xml"
    formats = "".join(
        f"<Format>{escape(f)}</Format>"
        for f in dict.fromkeys(_mime(f) for f in service.conf.image_formats)
    )
    dcp = f'<DCPType><HTTP><Get><OnlineResource {XLINK} xlink:type="simple" xlink:href={quoteattr(url)}/></Get></HTTP></DCPType>'
    exceptions = (
        ("XML", "INIMAGE", "BLANK")
        if v13
        else (
            "application/vnd.ogc.se_xml",
            "application/vnd.ogc.se_inimage",
            "application/vnd.ogc.se_blank",
        )
    )
    limits = ""
    if v13:
        width, height = _max_size(service)
        limits = f"<MaxWidth>{width}</MaxWidth><MaxHeight>{height}</MaxHeight>"
    service_xml = (
        f"<Service><Name>{'WMS' if v13 else 'OGC:WMS'}</Name>"
        f"<Title>{_text(md.get('title', 'Tilegate WMS'))}</Title>"
        f"<Abstract>{_text(md.get('abstract', ''))}</Abstract>"
        f"{_keywords(md.get('keyword_list'), v13)}"
        f'<OnlineResource {XLINK} xlink:type="simple" xlink:href={quoteattr(online)}/>'
        f"{_contact(md.get('contact'))}"
        f"<Fees>{_text(md.get('fees', 'none'))}</Fees>"
        f"<AccessConstraints>{_text(md.get('access_constraints', 'none'))}</AccessConstraints>"
        f"{limits}</Service>\n"
    )
    capability = (
        "<Capability><Request>"
        f"<GetCapabilities><Format>{caps_format}</Format>{dcp}</GetCapabilities>"
        f"<GetMap>{formats}{dcp}</GetMap>"
        f"{_featureinfo(service, dcp)}"
        "</Request><Exception>"
        + "".join(f"<Format>{e}</Format>" for e in exceptions)
        + "</Exception>\n"
        + (extended_capabilities(inspire) if inspire else "")
        + layer_xml(service, service.root, version, url, root=True)
        + "</Capability>\n"
    )
    if v13:
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<WMS_Capabilities version="1.3.0" xmlns="http://www.opengis.net/wms" '
            f"{XLINK} {NAMESPACES + ' ' if inspire else ''}"
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:schemaLocation="http://www.opengis.net/wms '
            "http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd"
            f'{" " + SCHEMA_LOCATION if inspire else ""}">\n'
        )
        tail = "</WMS_Capabilities>\n"
    else:
        # 1.1.0 and 1.1.1 differ in the DTD and in how layers list their SRS (layer_xml).
        dtd = (
            "1.1.1/WMS_MS_Capabilities.dtd"
            if version == "1.1.1"
            else "1.1.0/capabilities_1_1_0.dtd"
        )
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<!DOCTYPE WMT_MS_Capabilities SYSTEM "http://schemas.opengis.net/wms/{dtd}">\n'
            f'<WMT_MS_Capabilities version="{version}">\n'
        )
        tail = "</WMT_MS_Capabilities>\n"
    body = head + service_xml + capability + tail
    content_type = "text/xml; charset=utf-8" if v13 else caps_format
    return Response(200, body.encode(), content_type, [("Vary", PROXY_VARY)])


def _featureinfo(service: WMSService, dcp: str) -> str:
    if not any(layer.info_sources for layer in service.named.values()):
        return ""
    formats = "".join(f"<Format>{escape(f)}</Format>" for f in info_formats(service))
    return f"<GetFeatureInfo>{formats}{dcp}</GetFeatureInfo>"


def _mime(name: str) -> str:
    fmt = find_format(name)
    return fmt.mime if fmt is not None else name


def _text(value: object) -> str:
    return escape(str(value))


def _keywords(value: object, v13: bool) -> str:
    """md.keyword_list: a list of {vocabulary, keywords}; the vocabulary only in 1.3.0."""
    if not isinstance(value, list):
        return ""
    return keyword_list(
        [
            (str(entry.get("vocabulary") or ""), str(word))
            for entry in value
            if isinstance(entry, dict)
            for word in entry.get("keywords") or []
        ],
        v13,
    )


def _contact(value: object) -> str:
    if not isinstance(value, dict) or not value:
        return ""

    def elements(keys: tuple[tuple[str, str], ...], complete: bool) -> str:
        # Groups whose elements the schemas all require are written whole once one is given.
        if complete and not any(key in value for key, _ in keys):
            return ""
        return "".join(
            f"<{tag}>{_text(value.get(key, ''))}</{tag}>"
            for key, tag in keys
            if complete or key in value
        )

    out = "<ContactInformation>"
    if primary := elements(_PERSON, complete=True):
        out += f"<ContactPersonPrimary>{primary}</ContactPersonPrimary>"
    out += elements((("position", "ContactPosition"),), complete=False)
    if address := elements(_ADDRESS, complete=True):
        out += f"<ContactAddress>{address}</ContactAddress>"
    return out + elements(_PHONES, complete=False) + "</ContactInformation>"


def _max_size(service: WMSService) -> tuple[int, int]:
    limit = service.conf.max_output_pixels
    if isinstance(limit, tuple):
        return limit
    side = int(limit**0.5)
    return side, side
