"""A remote WMS's GetCapabilities document: fetched, parsed safely, summarised as a layer tree."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs

from adapters.http_client import HttpClient, describe_url
from domain.errors import ConfigValueError, SourceError
from domain.srs import srs as make_srs

VERSIONS = ("1.1.1", "1.3.0")
_ROOTS = {"WMT_MS_Capabilities": "1.1.1", "WMS_Capabilities": "1.3.0"}
# Entity expansion ("billion laughs", external entities) is the danger in XML from elsewhere;
# defusedxml is no dependency, so any document declaring an entity is refused unparsed. A
# DOCTYPE alone stays allowed: WMS 1.1.1 servers send one, and ElementTree never loads the DTD.
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)


@attrs.frozen
class WMSLayer:
    """A layer of the capabilities tree, with what it inherits from its parents filled in."""

    name: str | None
    title: str
    abstract: str
    srs: tuple[str, ...]
    llbbox: tuple[float, float, float, float] | None
    bbox_srs: dict[str, tuple[float, float, float, float]]
    queryable: bool
    opaque: bool
    layers: tuple[WMSLayer, ...]
    # the default style's legend image (or the first style's)
    legend_url: str | None = None
    # where the server draws the layer, inherited: (min_res, max_res) from a 1.1.1 ScaleHint
    # (m/px, min_res the coarser), (max_scale, min_scale) from 1.3.0 scale denominators
    res_hint: tuple[float | None, float | None] = (None, None)
    scale_hint: tuple[float | None, float | None] = (None, None)


@attrs.frozen
class WMSCapabilities:
    version: str
    title: str
    abstract: str
    url: str
    formats: tuple[str, ...]
    root: WMSLayer


def capabilities_url(url: str, version: str) -> str:
    """`url` with service, version and request set for GetCapabilities (other parameters kept)."""
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in ("service", "version", "request")
    ]
    query += [("service", "WMS"), ("version", version), ("request", "GetCapabilities")]
    return urlunsplit(parts._replace(query=urlencode(query)))


def fetch_capabilities(http: HttpClient, url: str, version: str) -> WMSCapabilities:
    """The capabilities of the WMS at `url`; SourceError if it cannot be had or read."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise SourceError(f"not an http(s) URL: {url!r}")
    full = capabilities_url(url, version)
    resp = http.get(full)
    if resp.status != 200:
        raise SourceError(f"{describe_url(full)} answered HTTP {resp.status}")
    return parse_capabilities(resp.data)


def parse_capabilities(data: bytes) -> WMSCapabilities:
    """A WMS 1.1.1 or 1.3.0 capabilities document; SourceError for anything else."""
    if b"\x00" in data[:1024]:
        # UTF-16/32 would hide an entity declaration from the byte scan below
        raise SourceError(
            "the capabilities are not in UTF-8 or another ASCII-based encoding"
        )
    if _ENTITY.search(data):
        raise SourceError("refused: the document declares XML entities")
    try:
        root = ET.fromstring(data)  # noqa: S314 - entities refused above
    except ET.ParseError as exc:
        raise SourceError(f"the answer is no XML document ({exc})") from None
    kind = _local(root.tag)
    if kind not in _ROOTS:
        if kind == "ServiceExceptionReport":
            message = " ".join(
                (e.text or "").strip()
                for e in root.iter()
                if _local(e.tag) == "ServiceException"
            )
            raise SourceError(f"the server answered with an exception: {message}")
        raise SourceError(f"not a WMS capabilities document (root element {kind})")
    version = root.get("version") or _ROOTS[kind]
    service = _child(root, "Service")
    capability = _child(root, "Capability")
    top = _child(capability, "Layer") if capability is not None else None
    if top is None:
        raise SourceError("the capabilities list no layer")
    get_map = _path(capability, "Request", "GetMap")
    return WMSCapabilities(
        version=version,
        title=_text(service, "Title"),
        abstract=_text(service, "Abstract"),
        url=_get_map_url(get_map),
        formats=tuple(
            (f.text or "").strip()
            for f in (get_map if get_map is not None else [])
            if _local(f.tag) == "Format"
        ),
        root=_layer(top, version, None),
    )


def _layer(elem: ET.Element, version: str, parent: WMSLayer | None) -> WMSLayer:
    srs_tag = "CRS" if version == "1.3.0" else "SRS"
    own_srs = [
        code
        for e in elem
        if _local(e.tag) == srs_tag
        for code in (e.text or "").split()  # 1.1.0 servers put several in one element
    ]
    inherited = parent.srs if parent else ()
    bbox_srs = dict(parent.bbox_srs) if parent else {}
    for e in elem:
        if _local(e.tag) == "BoundingBox":
            code = e.get(srs_tag) or ""
            bbox = _numbers(e, ("minx", "miny", "maxx", "maxy"))
            if code and bbox is not None:
                bbox_srs[code] = _east_north(bbox, code, version)
    layer = WMSLayer(
        name=_text(elem, "Name") or None,
        title=_text(elem, "Title"),
        abstract=_text(elem, "Abstract"),
        srs=tuple(dict.fromkeys([*inherited, *own_srs])),
        llbbox=_llbbox(elem) or (parent.llbbox if parent else None),
        bbox_srs=bbox_srs,
        queryable=_flag(elem, "queryable", parent.queryable if parent else False),
        opaque=_flag(elem, "opaque", parent.opaque if parent else False),
        layers=(),
        legend_url=_legend_url(elem),
        res_hint=_res_hint(elem) or (parent.res_hint if parent else (None, None)),
        scale_hint=_scale_hint(elem) or (parent.scale_hint if parent else (None, None)),
    )
    children = tuple(
        _layer(e, version, layer) for e in elem if _local(e.tag) == "Layer"
    )
    return attrs.evolve(layer, layers=children)


def _legend_url(elem: ET.Element) -> str | None:
    styles = [e for e in elem if _local(e.tag) == "Style"]
    default = [s for s in styles if _text(s, "Name") in ("", "default")]
    for style in default + styles:
        resource = _path(style, "LegendURL", "OnlineResource")
        href = _href(resource) if resource is not None else ""
        if href:
            return href
    return None


def _res_hint(elem: ET.Element) -> tuple[float | None, float | None] | None:
    """A 1.1.1 ScaleHint: the diagonal of a pixel, from fine (min) to coarse (max) in map units."""
    hint = _child(elem, "ScaleHint")
    if hint is None:
        return None
    coarse, fine = (_positive(hint.get(k)) for k in ("max", "min"))
    return (
        coarse / math.sqrt(2) if coarse else None,
        fine / math.sqrt(2) if fine else None,
    )


def _scale_hint(elem: ET.Element) -> tuple[float | None, float | None] | None:
    """1.3.0's Max/MinScaleDenominator: the layer is drawn between them."""
    found = [
        _positive(_text(elem, n) or None)
        for n in ("MaxScaleDenominator", "MinScaleDenominator")
    ]
    return (found[0], found[1]) if any(found) else None


def _positive(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else 0.0
    except ValueError:
        return None
    return number if math.isfinite(number) and number > 0 else None


def _llbbox(elem: ET.Element) -> tuple[float, float, float, float] | None:
    for e in elem:
        if _local(e.tag) == "LatLonBoundingBox":
            return _numbers(e, ("minx", "miny", "maxx", "maxy"))
        if _local(e.tag) == "EX_GeographicBoundingBox":
            values = [
                _text(e, name)
                for name in (
                    "westBoundLongitude",
                    "southBoundLatitude",
                    "eastBoundLongitude",
                    "northBoundLatitude",
                )
            ]
            try:
                w, s, east, n = (float(v) for v in values)
            except ValueError:
                return None
            return (w, s, east, n)
    return None


def _east_north(
    bbox: tuple[float, float, float, float], code: str, version: str
) -> tuple[float, float, float, float]:
    """WMS 1.3.0 writes bboxes in the SRS's own axis order; ours is always east/north."""
    if version != "1.3.0":
        return bbox
    try:
        flip = make_srs(code).is_axis_order_ne
    except ConfigValueError:
        return bbox
    return (bbox[1], bbox[0], bbox[3], bbox[2]) if flip else bbox


def _numbers(
    elem: ET.Element, names: tuple[str, str, str, str]
) -> tuple[float, float, float, float] | None:
    try:
        a, b, c, d = (float(elem.get(n, "")) for n in names)
    except ValueError:
        return None
    return (a, b, c, d)


def _flag(elem: ET.Element, name: str, default: bool) -> bool:
    value = elem.get(name)
    return default if value is None else value.strip().lower() in ("1", "true")


def _get_map_url(get_map: ET.Element | None) -> str:
    for e in get_map.iter() if get_map is not None else ():
        if _local(e.tag) == "OnlineResource" and (href := _href(e)):
            return href
    return ""


def _href(elem: ET.Element) -> str:
    return next((v for k, v in elem.attrib.items() if _local(k) == "href"), "")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(elem: ET.Element | None, name: str) -> ET.Element | None:
    if elem is None:
        return None
    return next((e for e in elem if _local(e.tag) == name), None)


def _path(elem: ET.Element | None, *names: str) -> ET.Element | None:
    for name in names:
        elem = _child(elem, name)
    return elem


def _text(elem: ET.Element | None, name: str) -> str:
    child = _child(elem, name)
    return (child.text or "").strip() if child is not None else ""
