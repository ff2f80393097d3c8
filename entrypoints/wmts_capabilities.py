"""WMTS 1.0.0 capabilities documents, RESTful and KVP: the operations, each layer with its
formats, dimensions and resource URLs, and the tile matrix sets."""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from domain.bbox import Bbox
from domain.formats import offered_format
from domain.grid import Grid
from domain.scales import scale_denominator
from domain.srs import srs, transform_bbox
from entrypoints.auth import tile_layers_seen
from entrypoints.bootstrap import TileLayer
from entrypoints.http import PROXY_VARY, Request, Response
from entrypoints.ogc import XML
from entrypoints.wmts_legend import legend_url

if TYPE_CHECKING:
    from entrypoints.wmts import WMTSService


def capabilities(service: WMTSService, request: Request, restful: bool) -> Response:
    """The capabilities document, RESTful or KVP."""
    base = request.base_url
    md = (
        service.state.conf.services.wmts.md
        if service.state.conf.services.wmts
        else None
    )
    md = md or {}
    endpoint = f"{base}/wmts?" if restful else f"{base}/service?"
    encoding = "RESTful" if restful else "KVP"
    operations = "".join(
        f'    <ows:Operation name="{op}"><ows:DCP><ows:HTTP><ows:Get xlink:href={quoteattr(endpoint)}>'
        f'<ows:Constraint name="GetEncoding"><ows:AllowedValues><ows:Value>{encoding}</ows:Value>'
        "</ows:AllowedValues></ows:Constraint></ows:Get></ows:HTTP></ows:DCP></ows:Operation>\n"
        for op in _operations(service)
    )
    seen = tile_layers_seen(request, "wmts", list(service.layers))
    layers = "".join(
        _layer_xml(service, service.layers[name], base, restful) for name in seen
    )
    matrix_sets = "".join(
        _matrix_set_xml(name, grid) for name, grid in service.matrix_sets.items()
    )
    service_url = (
        f"{base}/wmts/1.0.0/WMTSCapabilities.xml"
        if restful
        else f"{base}/service?REQUEST=GetCapabilities&SERVICE=WMTS"
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Capabilities xmlns="http://www.opengis.net/wmts/1.0" xmlns:ows="http://www.opengis.net/ows/1.1"'
        ' xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xmlns:gml="http://www.opengis.net/gml" xsi:schemaLocation="http://www.opengis.net/wmts/1.0'
        ' http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd" version="1.0.0">\n'
        "  <ows:ServiceIdentification>\n"
        f"    <ows:Title>{escape(str(md.get('title', 'Tilegate')))}</ows:Title>\n"
        f"    <ows:Abstract>{escape(str(md.get('abstract', '')))}</ows:Abstract>\n"
        "    <ows:ServiceType>OGC WMTS</ows:ServiceType>\n    <ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>\n"
        f"    <ows:Fees>{escape(str(md.get('fees', 'none')))}</ows:Fees>\n"
        f"    <ows:AccessConstraints>{escape(str(md.get('access_constraints', 'none')))}</ows:AccessConstraints>\n"
        "  </ows:ServiceIdentification>\n"
        f"  <ows:OperationsMetadata>\n{operations}  </ows:OperationsMetadata>\n"
        f"  <Contents>\n{layers}{matrix_sets}  </Contents>\n"
        f"  <ServiceMetadataURL xlink:href={quoteattr(service_url)}/>\n"
        "</Capabilities>\n"
    )
    return Response(200, body.encode(), XML, [("Vary", PROXY_VARY)])


def _operations(service: WMTSService) -> tuple[str, ...]:
    if service.featureinfo.offered():
        return ("GetCapabilities", "GetTile", "GetFeatureInfo")
    return ("GetCapabilities", "GetTile")


def _layer_xml(service: WMTSService, layer: TileLayer, base: str, restful: bool) -> str:
    tilesets = [
        ts for ts in layer.tilesets if (layer.name, ts.grid.name) in service.tilesets
    ]
    fmt = offered_format(tilesets[0].format)
    wgs84 = _wgs84_bbox(tilesets[0].grid)
    links = "".join(
        f"      <TileMatrixSetLink><TileMatrixSet>{escape(ts.grid.name)}</TileMatrixSet></TileMatrixSetLink>\n"
        for ts in tilesets
    )
    template = layer.wmts_legends[1 if restful else 0]
    legend = (
        ""
        if template is None
        else f'<LegendURL format="image/png" xlink:href={quoteattr(legend_url(template, base, layer.name))}/>'
    )
    resource = ""
    if restful:
        template = (
            base
            + "/wmts"
            + service.template.replace("{Layer}", layer.name)
            .replace("{Format}", fmt.ext)
            .replace("{Style}", "default")
        )
        resource = f'      <ResourceURL format="{fmt.mime}" resourceType="tile" template={quoteattr(template)}/>\n'
        resource += service.featureinfo.resource_urls(layer.name, base)
    return (
        "    <Layer>\n"
        f"      <ows:Title>{escape(layer.title)}</ows:Title>\n"
        f"      <ows:Abstract>{escape(str(layer.md.get('abstract', '')))}</ows:Abstract>\n"
        "      <ows:WGS84BoundingBox>\n"
        f"        <ows:LowerCorner>{wgs84.minx!r} {wgs84.miny!r}</ows:LowerCorner>\n"
        f"        <ows:UpperCorner>{wgs84.maxx!r} {wgs84.maxy!r}</ows:UpperCorner>\n"
        "      </ows:WGS84BoundingBox>\n"
        f"      <ows:Identifier>{escape(layer.name)}</ows:Identifier>\n"
        f'      <Style isDefault="true"><ows:Identifier>default</ows:Identifier>{legend}</Style>\n'
        f"      <Format>{fmt.mime}</Format>\n"
        f"{service.featureinfo.info_formats_xml(layer.name)}"
        f"{_dimensions_xml(service, layer, restful)}{links}{resource}"
        "    </Layer>\n"
    )


def _dimensions_xml(service: WMTSService, layer: TileLayer, restful: bool) -> str:
    if layer.dimensions is None:
        return ""
    # RESTful clients fill the template's {Name}: the identifier is spelled as there.
    spelled = service.template_dimensions() if restful else {}
    return "".join(
        "      <Dimension>\n"
        f"        <ows:Identifier>{escape(spelled.get(d.key, d.name))}</ows:Identifier>\n"
        f"        <Default>{escape(d.default)}</Default>\n"
        + "".join(f"        <Value>{escape(v)}</Value>\n" for v in d.values)
        + "      </Dimension>\n"
        for d in layer.dimensions.dimensions
    )


def _matrix_set_xml(name: str, grid: Grid) -> str:
    tw, th = grid.tile_size
    matrices = []
    for z, res in enumerate(grid.res):
        nx, ny = grid.sizes[z]
        top = grid.bbox.maxy if grid.origin == "ul" else grid.bbox.miny + ny * th * res
        left, top_ne = grid.bbox.minx, top
        corner = (
            f"{top_ne!r} {left!r}"
            if grid.srs.is_axis_order_ne
            else f"{left!r} {top_ne!r}"
        )
        matrices.append(
            "      <TileMatrix>\n"
            f"        <ows:Identifier>{z:02d}</ows:Identifier>\n"
            f"        <ScaleDenominator>{scale_denominator(grid, res)!r}</ScaleDenominator>\n"
            f"        <TopLeftCorner>{corner}</TopLeftCorner>\n"
            f"        <TileWidth>{tw}</TileWidth>\n        <TileHeight>{th}</TileHeight>\n"
            f"        <MatrixWidth>{nx}</MatrixWidth>\n        <MatrixHeight>{ny}</MatrixHeight>\n"
            "      </TileMatrix>\n"
        )
    crs = grid.srs.code.replace(":", "::") if ":" in grid.srs.code else grid.srs.code
    return (
        "    <TileMatrixSet>\n"
        f"      <ows:Identifier>{escape(name)}</ows:Identifier>\n"
        f"      <ows:SupportedCRS>urn:ogc:def:crs:{escape(crs)}</ows:SupportedCRS>\n"
        + "".join(matrices)
        + "    </TileMatrixSet>\n"
    )


def _wgs84_bbox(grid: Grid) -> Bbox:
    return transform_bbox(grid.bbox, grid.srs, srs("EPSG:4326"))
