"""INSPIRE View Service metadata (`services.wms.inspire_md`) in WMS capabilities, in-process."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from owslib.wms import WebMapService

from adapters.config import parse_config
from domain.errors import ConfigError
from tests.integration.test_app import get, make_app

WMS = "{http://www.opengis.net/wms}"
VS = "{http://inspire.ec.europa.eu/schemas/inspire_vs/1.0}"
COMMON = "{http://inspire.ec.europa.eu/schemas/common/1.0}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"

EMBEDDED: dict[str, Any] = {
    "type": "embedded",
    "resource_locators": [
        {
            "url": "http://example.org/metadata?a=1&b=<2>",
            "media_type": "application/vnd.iso.19139+xml",
        }
    ],
    "temporal_reference": {"date_of_creation": "2015-05-01"},
    "metadata_points_of_contact": [
        {"organisation_name": "Acme & <Sons>", "email": "acme@example.org"}
    ],
    "conformities": [
        {
            "title": "COMMISSION REGULATION (EU) No 1089/2010",
            "date_of_publication": "2010-12-08",
            "uris": ["OJ:L:2010:323:0011:0102:EN:PDF"],
            "resource_locators": [
                {
                    "url": "http://eur-lex.example/x?u=1&v=2",
                    "media_type": "application/pdf",
                }
            ],
            "degree": "notEvaluated",
        }
    ],
    "mandatory_keywords": ["infoMapAccessService", "humanGeographicViewer"],
    "keywords": [
        {
            "title": "GEMET - INSPIRE themes",
            "date_of_last_revision": "2008-06-01",
            "keyword_value": "Orthoimagery",
        }
    ],
    "metadata_date": "2015-07-23",
    "metadata_url": {
        "url": "http://example.org/csw/doc",
        "media_type": "application/vnd.iso.19139+xml",
    },
    "languages": {"default": "ger"},
}
LINKED: dict[str, Any] = {
    "type": "linked",
    "metadata_url": {
        "url": "http://example.org/csw?id=1&x=<y>",
        "media_type": "application/vnd.iso.19139+xml",
    },
    "languages": {"default": "eng"},
}


def conf(inspire_md: dict[str, Any] | None) -> dict[str, Any]:
    wms: dict[str, Any] = {"md": {"title": "View <&> service"}}
    if inspire_md is not None:
        wms["inspire_md"] = inspire_md
    return {
        "services": {"wms": wms},
        "layers": [{"name": "l", "title": "L", "sources": ["d"]}],
        "sources": {"d": {"type": "debug"}},
    }


def capabilities(
    tmp_path: Path, inspire_md: dict[str, Any] | None, version: str
) -> bytes:
    app = make_app(tmp_path, conf(inspire_md))
    status, _, body = get(
        app, "/service", f"SERVICE=WMS&REQUEST=GetCapabilities&VERSION={version}"
    )
    assert status == 200
    return body


def parse(body: bytes) -> ET.Element:
    return ET.fromstring(body)  # noqa: S314 - our own answer, in a test


def texts(parent: ET.Element, path: str) -> list[str | None]:
    return [e.text for e in parent.findall(path)]


def test_embedded_metadata_in_130_capabilities(tmp_path: Path) -> None:
    root = parse(capabilities(tmp_path, EMBEDDED, "1.3.0"))
    capability = root.find(f"{WMS}Capability")
    assert capability is not None
    # The block sits between <Exception> and the root <Layer>, as the WMS 1.3.0 schema wants.
    tags = [child.tag for child in capability]
    assert tags == [
        f"{WMS}Request",
        f"{WMS}Exception",
        f"{VS}ExtendedCapabilities",
        f"{WMS}Layer",
    ]
    ext = capability.find(f"{VS}ExtendedCapabilities")
    assert ext is not None
    assert [child.tag.removeprefix(COMMON) for child in ext] == [
        "ResourceLocator",
        "ResourceType",
        "TemporalReference",
        "Conformity",
        "MetadataPointOfContact",
        "MetadataDate",
        "SpatialDataServiceType",
        "MandatoryKeyword",
        "MandatoryKeyword",
        "Keyword",
        "SupportedLanguages",
        "ResponseLanguage",
        "MetadataUrl",
    ]
    c = COMMON
    assert texts(ext, f"{c}ResourceLocator/{c}URL") == [
        "http://example.org/metadata?a=1&b=<2>"
    ]
    assert texts(ext, f"{c}ResourceLocator/{c}MediaType") == [
        "application/vnd.iso.19139+xml"
    ]
    assert texts(ext, f"{c}ResourceType") == ["service"]
    assert texts(ext, f"{c}TemporalReference/{c}DateOfCreation") == ["2015-05-01"]
    spec = ext.find(f"{c}Conformity/{c}Specification")
    assert spec is not None
    assert texts(spec, f"{c}Title") == ["COMMISSION REGULATION (EU) No 1089/2010"]
    assert texts(spec, f"{c}DateOfPublication") == ["2010-12-08"]
    assert texts(spec, f"{c}URI") == ["OJ:L:2010:323:0011:0102:EN:PDF"]
    assert texts(spec, f"{c}ResourceLocator/{c}URL") == [
        "http://eur-lex.example/x?u=1&v=2"
    ]
    assert texts(spec, f"{c}ResourceLocator/{c}MediaType") == ["application/pdf"]
    assert texts(ext, f"{c}Conformity/{c}Degree") == ["notEvaluated"]
    contact = ext.find(f"{c}MetadataPointOfContact")
    assert contact is not None
    assert texts(contact, f"{c}OrganisationName") == ["Acme & <Sons>"]
    assert texts(contact, f"{c}EmailAddress") == ["acme@example.org"]
    assert texts(ext, f"{c}MetadataDate") == ["2015-07-23"]
    assert texts(ext, f"{c}SpatialDataServiceType") == ["view"]
    assert texts(ext, f"{c}MandatoryKeyword/{c}KeywordValue") == [
        "infoMapAccessService",
        "humanGeographicViewer",
    ]
    vocabulary = ext.find(f"{c}Keyword/{c}OriginatingControlledVocabulary")
    assert vocabulary is not None
    assert texts(vocabulary, f"{c}Title") == ["GEMET - INSPIRE themes"]
    assert texts(vocabulary, f"{c}DateOfLastRevision") == ["2008-06-01"]
    assert texts(ext, f"{c}Keyword/{c}KeywordValue") == ["Orthoimagery"]
    assert texts(ext, f"{c}SupportedLanguages/{c}DefaultLanguage/{c}Language") == [
        "ger"
    ]
    assert texts(ext, f"{c}ResponseLanguage/{c}Language") == ["ger"]
    assert texts(ext, f"{c}MetadataUrl/{c}URL") == ["http://example.org/csw/doc"]
    schema_location = (root.get(f"{XSI}schemaLocation") or "").split()
    assert schema_location[-2:] == [
        "http://inspire.ec.europa.eu/schemas/inspire_vs/1.0",
        "http://inspire.ec.europa.eu/schemas/inspire_vs/1.0/inspire_vs.xsd",
    ]


def test_linked_metadata_in_130_capabilities(tmp_path: Path) -> None:
    root = parse(capabilities(tmp_path, LINKED, "1.3.0"))
    ext = root.find(f"{WMS}Capability/{VS}ExtendedCapabilities")
    assert ext is not None
    c = COMMON
    assert [child.tag.removeprefix(c) for child in ext] == [
        "MetadataUrl",
        "SupportedLanguages",
        "ResponseLanguage",
    ]
    assert texts(ext, f"{c}MetadataUrl/{c}URL") == ["http://example.org/csw?id=1&x=<y>"]
    assert texts(ext, f"{c}MetadataUrl/{c}MediaType") == [
        "application/vnd.iso.19139+xml"
    ]
    assert texts(ext, f"{c}SupportedLanguages/{c}DefaultLanguage/{c}Language") == [
        "eng"
    ]
    assert texts(ext, f"{c}ResponseLanguage/{c}Language") == ["eng"]


@pytest.mark.parametrize(
    "inspire_md", [EMBEDDED, LINKED, None], ids=["embedded", "linked", "none"]
)
def test_111_capabilities_have_no_inspire_block(
    tmp_path: Path, inspire_md: Any
) -> None:
    # INSPIRE View Services are WMS 1.3.0; MapProxy's 1.1.1 document has no block either.
    body = capabilities(tmp_path, inspire_md, "1.1.1")
    assert b"inspire" not in body
    assert parse(body).tag == "WMT_MS_Capabilities"


def test_no_inspire_namespaces_without_inspire_md(tmp_path: Path) -> None:
    body = capabilities(tmp_path, None, "1.3.0")
    assert b"inspire" not in body
    assert parse(body).find(f"{WMS}Capability/{WMS}Layer") is not None


@pytest.mark.parametrize("inspire_md", [EMBEDDED, LINKED], ids=["embedded", "linked"])
def test_owslib_still_reads_the_capabilities(tmp_path: Path, inspire_md: Any) -> None:
    body = capabilities(tmp_path, inspire_md, "1.3.0")
    wms = WebMapService("http://localhost/service", version="1.3.0", xml=body)
    assert wms.identification.title == "View <&> service"
    assert list(wms.contents) == ["l"]
    assert "image/png" in wms.getOperationByName("GetMap").formatOptions


def _problems(change: Any) -> list[str]:
    md = copy.deepcopy(EMBEDDED)
    change(md)
    with pytest.raises(ConfigError) as info:
        parse_config(conf(md), "mapproxy.yaml")
    return info.value.problems


PATH = "$.services.wms.inspire_md"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda md: md.update(type="both"),
            f"inspire_md type 'both' is not one of linked, embedded @ {PATH}",
        ),
        (
            lambda md: md.pop("type"),
            f"inspire_md type missing, expected one of linked, embedded @ {PATH}",
        ),
        (
            lambda md: md.pop("metadata_date"),
            f"required field missing @ {PATH}.metadata_date",
        ),
        (
            lambda md: md.update(metadata_date="last week"),
            f"expected a date (YYYY-MM-DD), got 'last week' @ {PATH}.metadata_date",
        ),
        (
            lambda md: md["conformities"][0].update(degree="fine"),
            "invalid value 'fine', expected one of conformant, notConformant, notEvaluated"
            f" @ {PATH}.conformities[0].degree",
        ),
        (
            lambda md: md["languages"].update(default="German"),
            "default must be an ISO 639-2 three-letter language code such as 'eng',"
            f" got 'German' @ {PATH}.languages",
        ),
        (
            lambda md: md.update(temporal_reference={}),
            "temporal_reference needs one of date_of_publication, date_of_creation,"
            f" date_of_last_revision @ {PATH}.temporal_reference",
        ),
        (
            lambda md: md.update(mandatory_keywords=[]),
            f"mandatory_keywords needs at least one entry @ {PATH}",
        ),
        (
            lambda md: md["keywords"][0].pop("keyword_value"),
            f"required field missing @ {PATH}.keywords[0].keyword_value",
        ),
        (
            lambda md: md["resource_locators"][0].pop("media_type"),
            f"required field missing @ {PATH}.resource_locators[0].media_type",
        ),
        (
            lambda md: md.update(resource_locators="http://example.org"),
            f"expected a list, got a string @ {PATH}.resource_locators",
        ),
        (
            lambda md: md.update(languages=None),
            f"required field missing @ {PATH}.languages.default",
        ),
    ],
)
def test_bad_inspire_md_is_a_config_error_naming_the_key(
    change: Any, problem: str
) -> None:
    assert _problems(change) == [problem]


def test_linked_needs_its_metadata_url_with_a_media_type() -> None:
    md = copy.deepcopy(LINKED)
    # MapProxy's own example spells it `mediatype`; MapProxy refuses that too.
    md["metadata_url"] = {"url": "http://example.org", "mediatype": "text/xml"}
    with pytest.raises(ConfigError) as info:
        parse_config(conf(md), "mapproxy.yaml")
    assert info.value.problems == [
        f"required field missing @ {PATH}.metadata_url.media_type"
    ]
