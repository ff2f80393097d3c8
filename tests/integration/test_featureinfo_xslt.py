"""`featureinfo_xslt`: XSL transformations of feature info, per source and per WMS service,
against the real map server (whose XML answer is `<features><feature layers= x= y= .../>`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.config import parse_config
from domain.errors import ConfigError
from entrypoints.app import TilegateApp
from entrypoints.bootstrap import bootstrap
from tests.integration.test_wms_featureinfo import info
from tests.integration.test_wms_service import exception_code, parse_xml, wms
from tests.mapserver import MapServer

XSL = '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
# Incoming (per source): the map server's features as <hits>.
HITS = f"""{XSL}
  <xsl:output method="xml" omit-xml-declaration="yes"/>
  <xsl:template match="/features">
    <hits><xsl:for-each select="feature">
      <hit layer="{{@layers}}" at="{{@x}},{{@y}}"/></xsl:for-each></hits>
  </xsl:template>
</xsl:stylesheet>"""
# Outgoing (per service): <hits> as an HTML list, or counted in XML.
HTML_OUT = f"""{XSL}
  <xsl:output method="html"/>
  <xsl:template match="/hits">
    <html><body><ul><xsl:for-each select="hit">
      <li><xsl:value-of select="@layer"/> at <xsl:value-of select="@at"/></li>
    </xsl:for-each></ul></body></html>
  </xsl:template>
</xsl:stylesheet>"""
COUNT_OUT = f"""{XSL}
  <xsl:output method="xml" omit-xml-declaration="yes"/>
  <xsl:template match="/"><count features="{{count(//feature)}}"/></xsl:template>
</xsl:stylesheet>"""
FAILING = f"""{XSL}
  <xsl:template match="/"><xsl:message terminate="yes">no way</xsl:message></xsl:template>
</xsl:stylesheet>"""


def write(directory: Path, **files: str) -> None:
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")


def source(server: MapServer, layers: str, **wms_opts: object) -> dict[str, Any]:
    return {
        "type": "wms",
        "req": {"url": f"{server.url}/service", "layers": layers},
        "supported_srs": ["EPSG:3857"],
        "wms_opts": {"featureinfo": True, **wms_opts},
    }


def config(server: MapServer, **wms: object) -> dict[str, Any]:
    return {
        "services": {"wms": wms},
        "layers": [
            {"name": "hits", "title": "Hits", "sources": ["s"]},
            {"name": "both", "title": "Both", "sources": ["p", "q"]},
        ],
        "sources": {
            "s": source(
                server, "a", featureinfo_xslt="hits.xsl", featureinfo_format="text/xml"
            ),
            "p": source(server, "p"),
            "q": source(server, "q"),
        },
    }


def app_for(directory: Path, conf: dict[str, Any]) -> TilegateApp:
    path = directory / "mapproxy.yaml"
    return TilegateApp.from_state(
        bootstrap(parse_config(conf, str(path), directory), path)
    )


@pytest.fixture
def xsl_dir(tmp_path: Path) -> Path:
    write(
        tmp_path,
        **{
            "hits.xsl": HITS,
            "html_out.xsl": HTML_OUT,
            "count.xsl": COUNT_OUT,
            "failing.xsl": FAILING,
        },
    )
    return tmp_path


def test_a_sources_xslt_transforms_its_answers(
    xsl_dir: Path, map_server: MapServer
) -> None:
    app = app_for(xsl_dir, config(map_server))
    status, headers, body = info(
        app, layers="hits", query_layers="hits", info_format="text/html"
    )
    assert status == 200
    # The source asks for XML (featureinfo_format) and its XSL makes <hits> of it.
    assert body == b'<hits><hit layer="a" at="100,50"/></hits>\n'
    # XML, whatever was asked, as the stylesheet's result is (no featureinfo_out_format).
    assert headers["Content-Type"].startswith("text/xml")
    (sent,) = map_server.requests
    assert sent.params["INFO_FORMAT"] == "text/xml"


def test_service_xslt_transforms_the_merged_answer_by_the_asked_format(
    xsl_dir: Path, map_server: MapServer
) -> None:
    app = app_for(
        xsl_dir,
        config(
            map_server, featureinfo_xslt={"html": "html_out.xsl", "xml": "count.xsl"}
        ),
    )
    # Source XSL, then service XSL: exactly what the two stylesheets make.
    status, headers, body = info(
        app, layers="hits", query_layers="hits", info_format="text/html"
    )
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert body == b"<html><body><ul><li>a at 100,50</li></ul></body></html>\n"
    # Two plain sources merged under the first root, then counted by the XML stylesheet.
    status, headers, body = info(
        app, layers="both", query_layers="both", info_format="application/vnd.ogc.gml"
    )
    assert status == 200
    assert headers["Content-Type"].startswith("application/vnd.ogc.gml")
    assert body == b'<count features="2"/>\n'
    # Without featureinfo_types, the kinds with a stylesheet are the offered formats.
    status, _, body = info(
        app, info_format="text/plain", layers="hits", query_layers="hits"
    )
    assert status == 400
    assert exception_code(body) == "InvalidFormat"
    capabilities = wms(app, service="WMS", request="GetCapabilities", version="1.1.1")
    formats = [
        f.text
        for f in parse_xml(capabilities[2]).findall(
            "Capability/Request/GetFeatureInfo/Format"
        )
    ]
    assert formats == ["text/html", "text/xml", "application/vnd.ogc.gml"]


def test_a_format_without_service_xslt_is_not_transformed(
    xsl_dir: Path, map_server: MapServer
) -> None:
    app = app_for(
        xsl_dir,
        config(
            map_server,
            featureinfo_types=["text", "xml"],
            featureinfo_xslt={"xml": "count.xsl"},
        ),
    )
    status, _, body = info(
        app, layers="both", query_layers="both", info_format="text/plain"
    )
    assert status == 200
    assert [line.split()[0] for line in body.decode().splitlines()] == [
        "layers=p",
        "layers=q",
    ]


@pytest.mark.parametrize(
    ("wms_conf", "source_fault"),
    [
        ({"featureinfo_xslt": {"xml": "failing.xsl"}}, None),
        ({}, "garbage"),
    ],
)
def test_a_transformation_failing_at_request_time_is_an_ogc_exception(
    xsl_dir: Path,
    map_server: MapServer,
    wms_conf: dict[str, object],
    source_fault: str | None,
) -> None:
    app = app_for(xsl_dir, config(map_server, **wms_conf))
    if source_fault:
        map_server.add_fault(fault=source_fault)
    status, headers, body = info(
        app, layers="hits", query_layers="hits", info_format="text/xml"
    )
    assert status == 502
    assert "xml" in headers["Content-Type"]
    assert exception_code(body) is None
    assert b"transformation with" in body


def test_an_entity_bomb_from_upstream_is_an_ogc_exception(
    xsl_dir: Path, map_server: MapServer
) -> None:
    app = app_for(xsl_dir, config(map_server))
    map_server.add_fault(fault="entities")
    status, _, body = info(
        app, layers="hits", query_layers="hits", info_format="text/xml"
    )
    assert status == 502
    assert exception_code(body) is None
    assert b"aaaaaaaaaa" not in body
    assert len(body) < 2000


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda c: c["services"]["wms"].update(
                featureinfo_xslt={"html": "gone.xsl"}
            ),
            "cannot read XSL file '{d}/gone.xsl' @ $.services.wms.featureinfo_xslt.html",
        ),
        (
            lambda c: c["sources"]["s"]["wms_opts"].update(
                featureinfo_xslt="broken.xsl"
            ),
            "XSL file '{d}/broken.xsl' is no XML",
        ),
        (
            lambda c: c["sources"]["s"]["wms_opts"].update(
                featureinfo_xslt="plain.xml"
            ),
            "XSL file '{d}/plain.xml' is no stylesheet",
        ),
        (
            lambda c: c["sources"]["s"]["wms_opts"].update(featureinfo_xslt=3),
            "expected the path of an XSL file @ $.sources['s'].wms_opts.featureinfo_xslt",
        ),
    ],
)
def test_missing_or_invalid_xsl_files_are_config_errors(
    xsl_dir: Path, map_server: MapServer, change: Any, problem: str
) -> None:
    write(xsl_dir, **{"broken.xsl": f"{XSL}<xsl:template", "plain.xml": "<a><b/></a>"})
    conf = config(map_server)
    change(conf)
    with pytest.raises(ConfigError) as raised:
        parse_config(conf, str(xsl_dir / "mapproxy.yaml"), xsl_dir)
    (found,) = raised.value.problems
    assert found.startswith(problem.format(d=xsl_dir))
    if " @ " not in problem:
        assert found.endswith(" @ $.sources['s'].wms_opts.featureinfo_xslt")


def test_service_xslt_only_for_html_and_xml(
    xsl_dir: Path, map_server: MapServer
) -> None:
    conf = config(map_server, featureinfo_xslt={"text": "count.xsl"})
    with pytest.raises(ConfigError) as raised:
        parse_config(conf, str(xsl_dir / "mapproxy.yaml"), xsl_dir)
    (found,) = raised.value.problems
    assert "$.services.wms.featureinfo_xslt" in found
