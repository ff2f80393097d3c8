"""WMS capabilities documents, 1.1.1 (DTD) and 1.3.0 (schema); every configured value escaped."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

from domain.formats import find_format
from domain.res_range import ResRange
from domain.srs import srs
from domain.wms_map import extent_bbox
from entrypoints.http import PROXY_VARY, Request, Response
from entrypoints.wms_featureinfo import info_formats, legend_size
from entrypoints.wms_inspire import NAMESPACES, SCHEMA_LOCATION, extended_capabilities

if TYPE_CHECKING:
    from entrypoints.wms import WMSService
    from entrypoints.wms_layers import WMSLayer

_WGS84 = srs("EPSG:4326")
_XLINK = 'xmlns:xlink="http://www.w3.org/1999/xlink"'
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
    dcp = f'<DCPType><HTTP><Get><OnlineResource {_XLINK} xlink:type="simple" xlink:href={quoteattr(url)}/></Get></HTTP></DCPType>'
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
        f"{_keywords(md.get('keyword_list'))}"
        f'<OnlineResource {_XLINK} xlink:type="simple" xlink:href={quoteattr(online)}/>'
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
        + _layer(service, service.root, v13, url, root=True)
        + "</Capability>\n"
    )
    if v13:
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<WMS_Capabilities version="1.3.0" xmlns="http://www.opengis.net/wms" '
            f"{_XLINK} {NAMESPACES + ' ' if inspire else ''}"
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:schemaLocation="http://www.opengis.net/wms '
            "http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd"
            f'{" " + SCHEMA_LOCATION if inspire else ""}">\n'
        )
        tail = "</WMS_Capabilities>\n"
    else:
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<!DOCTYPE WMT_MS_Capabilities SYSTEM "http://schemas.opengis.net/wms/1.1.1/WMS_MS_Capabilities.dtd">\n'
            '<WMT_MS_Capabilities version="1.1.1">\n'
        )
        tail = "</WMT_MS_Capabilities>\n"
    body = head + service_xml + capability + tail
    content_type = "text/xml; charset=utf-8" if v13 else caps_format
    return Response(200, body.encode(), content_type, [("Vary", PROXY_VARY)])


def _layer(
    service: WMSService, layer: WMSLayer, v13: bool, url: str, root: bool = False
) -> str:
    parts = ['<Layer queryable="1">' if layer.info_sources else "<Layer>"]
    if layer.name is not None:
        parts.append(f"<Name>{escape(layer.name)}</Name>")
    parts.append(f"<Title>{escape(layer.title)}</Title>")
    if layer.abstract:
        parts.append(f"<Abstract>{escape(layer.abstract)}</Abstract>")
    if root:
        element = "CRS" if v13 else "SRS"
        parts += [f"<{element}>{escape(s.code)}</{element}>" for s in service.srs]
    if layer.extent is not None:
        parts.append(_bboxes(service, layer, v13))
    if layer.name is not None and layer.legends:
        parts.append(_style(service, layer.name, url, v13))
    if layer.res_range is not None:
        parts.append(_scales(layer.res_range, v13))
    parts += [_layer(service, child, v13, url) for child in layer.children]
    parts.append("</Layer>\n")
    return "".join(parts)


def _scales(limits: ResRange, v13: bool) -> str:
    """Where the layer is drawn: scale denominators (1.3.0) or pixel diagonals in m (1.1.1)."""
    if v13:
        low, high = limits.scale_denominators()
        return (
            f"<MinScaleDenominator>{_num(low)}</MinScaleDenominator>" if low else ""
        ) + (f"<MaxScaleDenominator>{_num(high)}</MaxScaleDenominator>" if high else "")
    low, high = limits.scale_hint()
    attributes = (f' min="{_num(low)}"' if low else "") + (
        f' max="{_num(high)}"' if high else ""
    )
    return f"<ScaleHint{attributes}/>"


def _featureinfo(service: WMSService, dcp: str) -> str:
    if not any(layer.info_sources for layer in service.named.values()):
        return ""
    formats = "".join(f"<Format>{escape(f)}</Format>" for f in info_formats(service))
    return f"<GetFeatureInfo>{formats}{dcp}</GetFeatureInfo>"


def _style(service: WMSService, name: str, url: str, v13: bool) -> str:
    """The default style with its LegendURL: a GetLegendGraphic of the layer, with its size."""
    size = legend_size(service, name)
    if size is None:
        return ""  # no legend to be had now: no LegendURL promising one
    params = {
        "service": "WMS",
        "request": "GetLegendGraphic",
        "version": "1.3.0" if v13 else "1.1.1",
        "format": "image/png",
        "layer": name,
        "style": "default",
    }
    if v13:
        params["sld_version"] = "1.1.0"
    href = url + urlencode(params)
    return (
        "<Style><Name>default</Name><Title>default</Title>"
        f'<LegendURL width="{size[0]}" height="{size[1]}"><Format>image/png</Format>'
        f'<OnlineResource {_XLINK} xlink:type="simple" xlink:href={quoteattr(href)}/>'
        "</LegendURL></Style>"
    )


def _bboxes(service: WMSService, layer: WMSLayer, v13: bool) -> str:
    assert layer.extent is not None  # noqa: S101 - checked by the caller
    out = []
    wgs84 = extent_bbox(layer.extent, _WGS84)
    if wgs84 is not None:
        w, s, e, n = (_num(v) for v in wgs84.as_tuple())
        if v13:
            out.append(
                f"<EX_GeographicBoundingBox><westBoundLongitude>{w}</westBoundLongitude>"
                f"<eastBoundLongitude>{e}</eastBoundLongitude><southBoundLatitude>{s}</southBoundLatitude>"
                f"<northBoundLatitude>{n}</northBoundLatitude></EX_GeographicBoundingBox>"
            )
        else:
            out.append(
                f'<LatLonBoundingBox minx="{w}" miny="{s}" maxx="{e}" maxy="{n}"/>'
            )
    for target in service.bbox_srs:
        bbox = extent_bbox(layer.extent, target)
        if bbox is None:
            continue
        values = bbox.as_tuple()
        if v13 and target.is_axis_order_ne:
            values = (values[1], values[0], values[3], values[2])
        minx, miny, maxx, maxy = (_num(v) for v in values)
        attr = "CRS" if v13 else "SRS"
        out.append(
            f'<BoundingBox {attr}={quoteattr(target.code)} minx="{minx}" miny="{miny}" maxx="{maxx}" maxy="{maxy}"/>'
        )
    return "".join(out)


def _num(value: float) -> str:
    return repr(float(value))


def _mime(name: str) -> str:
    fmt = find_format(name)
    return fmt.mime if fmt is not None else name


def _text(value: object) -> str:
    return escape(str(value))


def _keywords(value: object) -> str:
    """md.keyword_list: a list of {vocabulary, keywords}; 1.1.1 has no vocabulary attribute,
    so the words are listed alone there (as 1.3.0 allows too)."""
    if not isinstance(value, list):
        return ""
    words = [
        _text(word)
        for entry in value
        if isinstance(entry, dict)
        for word in entry.get("keywords") or []
    ]
    if not words:
        return ""
    return (
        "<KeywordList>"
        + "".join(f"<Keyword>{w}</Keyword>" for w in words)
        + "</KeywordList>"
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
