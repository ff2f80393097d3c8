"""The `<Layer>` elements of WMS capabilities, per version: names, SRS, bounding boxes, the
layer `md` (keywords, attribution, authority identifiers, metadata links), legend style,
scale range and children; every configured value escaped."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

from domain.dimensions import LayerDimensions
from domain.layer_md import Attribution, LayerMd, Link
from domain.res_range import ResRange
from domain.srs import srs
from domain.wms_map import extent_bbox, limited_extent_bbox
from entrypoints.wms_featureinfo import legend_size

if TYPE_CHECKING:
    from entrypoints.wms import WMSService
    from entrypoints.wms_layers import WMSLayer

XLINK = 'xmlns:xlink="http://www.w3.org/1999/xlink"'
_WGS84 = srs("EPSG:4326")


def layer_xml(
    service: WMSService, layer: WMSLayer, version: str, url: str, root: bool = False
) -> str:
    """The layer and its children as `version` writes them (1.0.0 without md and styles)."""
    v13 = version == "1.3.0"
    parts = ['<Layer queryable="1">' if layer.info_sources else "<Layer>"]
    if layer.name is not None:
        parts.append(f"<Name>{escape(layer.name)}</Name>")
    parts.append(f"<Title>{escape(layer.title)}</Title>")
    md = layer.md
    if md.abstract:
        parts.append(f"<Abstract>{escape(md.abstract)}</Abstract>")
    if version != "1.0.0":
        parts.append(_keywords(md, v13))
    # 1.1.1 and 1.3.0 list each SRS in its own element, inherited by the children; 1.0.0 and
    # 1.1.0 have one space-separated list, which MapProxy repeats on every 1.0.0 layer.
    if root or version == "1.0.0":
        codes = [escape(s.code) for s in service.srs]
        if version in ("1.0.0", "1.1.0"):
            parts.append(f"<SRS>{' '.join(codes)}</SRS>")
        else:
            element = "CRS" if v13 else "SRS"
            parts += [f"<{element}>{code}</{element}>" for code in codes]
    if layer.extent is not None:
        parts.append(_bboxes(service, layer, v13))
    if layer.dimensions is not None and version != "1.0.0":
        parts.append(_dimensions(layer.dimensions, v13))
    if version != "1.0.0":
        parts.append(_md_links(md))
        if layer.name is not None and layer.legends:
            parts.append(_style(service, layer.name, url, v13))
    if layer.res_range is not None:
        parts.append(_scales(layer.res_range, v13))
    parts += [layer_xml(service, child, version, url) for child in layer.children]
    parts.append("</Layer>\n")
    return "".join(parts)


def keyword_list(words: list[tuple[str, str]], v13: bool) -> str:
    """A KeywordList of (vocabulary, word) pairs; 1.1.x has no vocabulary attribute."""
    if not words:
        return ""
    items = "".join(
        f"<Keyword vocabulary={quoteattr(vocabulary)}>{escape(word)}</Keyword>"
        if v13 and vocabulary
        else f"<Keyword>{escape(word)}</Keyword>"
        for vocabulary, word in words
    )
    return f"<KeywordList>{items}</KeywordList>"


def _keywords(md: LayerMd, v13: bool) -> str:
    return keyword_list(
        [(entry.vocabulary, word) for entry in md.keywords for word in entry.words], v13
    )


def _md_links(md: LayerMd) -> str:
    """Attribution, AuthorityURL, Identifier and MetadataURL/DataURL/FeatureListURL, in the
    order both the 1.1.1 DTD and the 1.3.0 schema want them."""
    out = [_attribution(md.attribution)] if md.attribution is not None else []
    out += [
        f"<AuthorityURL name={quoteattr(i.name)}>{_resource(i.url)}</AuthorityURL>"
        for i in md.identifiers
        if i.url
    ]
    out += [
        f"<Identifier authority={quoteattr(i.name)}>{escape(i.value)}</Identifier>"
        for i in md.identifiers
        if i.value
    ]
    out += [_link("MetadataURL", link) for link in md.metadata]
    out += [_link("DataURL", link) for link in md.data]
    out += [_link("FeatureListURL", link) for link in md.feature_list]
    return "".join(out)


def _attribution(value: Attribution) -> str:
    out = "<Attribution>"
    if value.title:
        out += f"<Title>{escape(value.title)}</Title>"
    if value.url:
        out += _resource(value.url)
    if (logo := value.logo) is not None:
        size = "".join(
            f' {name}="{number}"'
            for name, number in (("width", logo.width), ("height", logo.height))
            if number is not None
        )
        out += f"<LogoURL{size}>{_format(logo.format)}{_resource(logo.url)}</LogoURL>"
    return out + "</Attribution>"


def _link(element: str, link: Link) -> str:
    kind = f" type={quoteattr(link.type)}" if link.type else ""
    return f"<{element}{kind}>{_format(link.format)}{_resource(link.url)}</{element}>"


def _format(value: str) -> str:
    return f"<Format>{escape(value)}</Format>" if value else ""


def _resource(href: str) -> str:
    return f'<OnlineResource {XLINK} xlink:type="simple" xlink:href={quoteattr(href)}/>'


def _dimensions(dims: LayerDimensions, v13: bool) -> str:
    """1.3.0: <Dimension> with default and values; 1.1.x: <Dimension> (name, units) and an
    <Extent> with them (MapProxy 7 writes the 1.3.0 form into 1.1.1, which 1.1.1 lacks)."""
    out = []
    for d in dims.dimensions:
        # As MapProxy: ISO8601 units for time dimensions; others have none we know of.
        name = quoteattr(d.key)
        units = quoteattr("ISO8601" if "time" in d.key else "")
        values = escape(",".join(d.values))
        default = quoteattr(d.default)
        if v13:
            out.append(
                f'<Dimension name={name} units={units} default={default} nearestValue="0">'
                f"{values}</Dimension>"
            )
        else:
            out.append(f"<Dimension name={name} units={units}/>")
    if not v13:
        out += [
            f'<Extent name={quoteattr(d.key)} default={quoteattr(d.default)} nearestValue="0">'
            f"{escape(','.join(d.values))}</Extent>"
            for d in dims.dimensions
        ]
    return "".join(out)


def _scales(limits: ResRange, v13: bool) -> str:
    """Where the layer is drawn: scale denominators (1.3.0) or pixel diagonals in m (1.1.1)."""
    if v13:
        low, high = limits.scale_denominators()
        return (
            f"<MinScaleDenominator>{num(low)}</MinScaleDenominator>" if low else ""
        ) + (f"<MaxScaleDenominator>{num(high)}</MaxScaleDenominator>" if high else "")
    low, high = limits.scale_hint()
    attributes = (f' min="{num(low)}"' if low else "") + (
        f' max="{num(high)}"' if high else ""
    )
    return f"<ScaleHint{attributes}/>"


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
        f"{_resource(href)}</LegendURL></Style>"
    )


def _bboxes(service: WMSService, layer: WMSLayer, v13: bool) -> str:
    assert layer.extent is not None  # noqa: S101 - checked by the caller
    out = []
    wgs84 = extent_bbox(layer.extent, _WGS84)
    if wgs84 is not None:
        w, s, e, n = (num(v) for v in wgs84.as_tuple())
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
    for target, limit in service.bbox_srs:
        bbox = limited_extent_bbox(layer.extent, target, limit)
        if bbox is None:
            continue
        values = bbox.as_tuple()
        if v13 and target.is_axis_order_ne:
            values = (values[1], values[0], values[3], values[2])
        minx, miny, maxx, maxy = (num(v) for v in values)
        attr = "CRS" if v13 else "SRS"
        out.append(
            f'<BoundingBox {attr}={quoteattr(target.code)} minx="{minx}" miny="{miny}" maxx="{maxx}" maxy="{maxy}"/>'
        )
    return "".join(out)


def num(value: float) -> str:
    return repr(float(value))
