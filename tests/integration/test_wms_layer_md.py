"""Layer `md` in WMS capabilities: keywords, attribution, authority identifiers, metadata links."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from owslib.wms import WebMapService

from adapters.config import parse_config
from domain.errors import ConfigError
from entrypoints.app import TilegateApp
from tests.integration.test_app import make_app
from tests.integration.test_wms_service import parse_xml, wms

WMS = "{http://www.opengis.net/wms}"
XLINK = "{http://www.w3.org/1999/xlink}href"
MD = {
    "abstract": "Roads <&> rivers",
    "keyword_list": [{"vocabulary": "GEMET & co", "keywords": ["roads", "a<b"]}],
    "attribution": {
        "title": "© Someone & Co",
        "url": "http://example.org/?a=1&b=<2>",
        "logo": {
            "url": "http://example.org/logo.png?x=1&y=2",
            "width": 100,
            "height": 50,
            "format": "image/png",
        },
    },
    "identifier": [
        {"url": "http://example.org/authority", "name": "auth", "value": "id<1>"}
    ],
    "metadata": [
        {
            "url": "http://example.org/md.xml?a&b",
            "type": "ISO19115:2003",
            "format": "text/xml",
        }
    ],
    "data": [{"url": "http://example.org/data.zip", "format": "application/zip"}],
}


def conf(md: object) -> dict[str, Any]:
    return {
        "services": {"wms": {}},
        "layers": [
            {"name": "roads", "title": "Roads", "md": md, "sources": ["dbg"]},
            {"name": "plain", "title": "Plain", "sources": ["dbg"]},
        ],
        "sources": {"dbg": {"type": "debug"}},
    }


@pytest.fixture
def app(tmp_path: Path) -> TilegateApp:
    return make_app(tmp_path, conf(MD))


def capabilities(app: TilegateApp, version: str) -> bytes:
    status, _, body = wms(
        app, service="WMS", request="GetCapabilities", version=version
    )
    assert status == 200
    return body


def layer(root: ET.Element, name: str, ns: str) -> ET.Element:
    for element in root.iter(f"{ns}Layer"):
        if element.findtext(f"{ns}Name") == name:
            return element
    raise AssertionError(name)


@pytest.mark.parametrize(("version", "ns"), [("1.1.1", ""), ("1.3.0", WMS)])
def test_layer_md_in_capabilities(app: TilegateApp, version: str, ns: str) -> None:
    roads = layer(parse_xml(capabilities(app, version)), "roads", ns)
    assert roads.findtext(f"{ns}Abstract") == "Roads <&> rivers"
    keywords = roads.findall(f"{ns}KeywordList/{ns}Keyword")
    assert [k.text for k in keywords] == ["roads", "a<b"]
    vocabulary = "GEMET & co" if version == "1.3.0" else None  # 1.1.1 has no attribute
    assert [k.get("vocabulary") for k in keywords] == [vocabulary] * 2
    attribution = roads.find(f"{ns}Attribution")
    assert attribution is not None
    assert attribution.findtext(f"{ns}Title") == "© Someone & Co"
    link = attribution.find(f"{ns}OnlineResource")
    assert link is not None
    assert link.get(XLINK) == "http://example.org/?a=1&b=<2>"
    logo = attribution.find(f"{ns}LogoURL")
    assert logo is not None
    assert (logo.get("width"), logo.get("height")) == ("100", "50")
    assert logo.findtext(f"{ns}Format") == "image/png"
    logo_link = logo.find(f"{ns}OnlineResource")
    assert logo_link is not None
    assert logo_link.get(XLINK) == "http://example.org/logo.png?x=1&y=2"
    authority = roads.find(f"{ns}AuthorityURL")
    assert authority is not None
    assert authority.get("name") == "auth"
    authority_link = authority.find(f"{ns}OnlineResource")
    assert authority_link is not None
    assert authority_link.get(XLINK) == "http://example.org/authority"
    identifier = roads.find(f"{ns}Identifier")
    assert identifier is not None
    assert (identifier.get("authority"), identifier.text) == ("auth", "id<1>")
    metadata = roads.find(f"{ns}MetadataURL")
    assert metadata is not None
    assert metadata.get("type") == "ISO19115:2003"
    assert metadata.findtext(f"{ns}Format") == "text/xml"
    metadata_link = metadata.find(f"{ns}OnlineResource")
    assert metadata_link is not None
    assert metadata_link.get(XLINK) == "http://example.org/md.xml?a&b"
    assert roads.findtext(f"{ns}DataURL/{ns}Format") == "application/zip"
    # the order the 1.1.1 DTD and the 1.3.0 schema prescribe
    tags = [child.tag.removeprefix(ns) for child in roads]
    order = [
        "BoundingBox",
        "Attribution",
        "AuthorityURL",
        "Identifier",
        "MetadataURL",
        "DataURL",
    ]
    positions = [max(i for i, t in enumerate(tags) if t == tag) for tag in order]
    assert positions == sorted(positions)
    assert tags.index("KeywordList") < tags.index("BoundingBox")
    plain = layer(parse_xml(capabilities(app, version)), "plain", ns)
    assert plain.find(f"{ns}Attribution") is None
    assert plain.find(f"{ns}KeywordList") is None


@pytest.mark.parametrize("version", ["1.1.1", "1.3.0"])
def test_owslib_reads_the_layer_md(app: TilegateApp, version: str) -> None:
    service = WebMapService(
        "http://localhost/service", version=version, xml=capabilities(app, version)
    )
    roads = service["roads"]
    assert roads.abstract == "Roads <&> rivers"
    assert roads.keywords == ["roads", "a<b"]
    assert roads.attribution["title"] == "© Someone & Co"
    assert roads.attribution["url"] == "http://example.org/?a=1&b=<2>"
    assert roads.attribution["logo_url"] == "http://example.org/logo.png?x=1&y=2"
    assert roads.attribution["logo_size"] == (100, 50)
    # OWSLib reads no AuthorityURL/Identifier (ElementTree checks them above)
    assert [u["url"] for u in roads.dataUrls] == ["http://example.org/data.zip"]
    assert roads.metadataUrls == [
        {
            "type": "ISO19115:2003",
            "format": "text/xml",
            "url": "http://example.org/md.xml?a&b",
        }
    ]


def test_layer_md_is_not_in_100_capabilities(app: TilegateApp) -> None:
    roads = layer(parse_xml(capabilities(app, "1.0.0")), "roads", "")
    assert roads.findtext("Abstract") == "Roads <&> rivers"
    assert roads.find("Attribution") is None


@pytest.mark.parametrize(
    ("md", "problem"),
    [
        ({"attribution": "x"}, "expected a mapping @ $.layers[0].md.attribution"),
        (
            {"attribution": {"logo": {"url": "u", "width": "wide"}}},
            "expected a positive integer @ $.layers[0].md.attribution.logo.width",
        ),
        (
            {"identifier": [{"url": "u"}]},
            "required field missing @ $.layers[0].md.identifier[0].name",
        ),
        (
            {"metadata": [{"type": "t"}]},
            "required field missing @ $.layers[0].md.metadata[0].url",
        ),
        (
            {"keyword_list": [{"keywords": [["nested"]]}]},
            "expected a text @ $.layers[0].md.keyword_list[0].keywords",
        ),
    ],
)
def test_bad_layer_md_is_a_config_error_with_its_key_path(
    md: object, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(conf(md), "mapproxy.yaml")
    assert problem in caught.value.problems
