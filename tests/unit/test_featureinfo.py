"""Feature info merging and the service's transformations, with fake sources."""

from __future__ import annotations

import attrs
import pytest

from domain.bbox import Bbox
from domain.featureinfo import FeatureInfo, InfoQuery, feature_info, info_type
from domain.srs import SRS, srs

WEBMERCATOR = srs("EPSG:3857")


@attrs.frozen
class Answering:
    answer: FeatureInfo
    supported_srs: tuple[SRS, ...] | None = None

    def get_feature_info(self, query: InfoQuery) -> FeatureInfo:
        return self.answer


@attrs.define
class Recording:
    """A transformation that wraps the document and records how it was asked to read it."""

    kinds: list[str] = attrs.Factory(list)

    def __call__(self, data: bytes, info_type: str) -> bytes:
        self.kinds.append(info_type)
        return b"<t>" + data + b"</t>"


def query(info_format: str) -> InfoQuery:
    return InfoQuery(Bbox(0, 0, 10, 10), (10, 10), WEBMERCATOR, (1, 1), info_format)


@pytest.mark.parametrize(
    ("mime", "kind"),
    [
        ("text/xml; charset=utf-8", "xml"),
        ("application/vnd.ogc.gml", "xml"),
        ("application/gml+xml", "xml"),
        ("TEXT/HTML", "html"),
        ("application/json", "json"),
        ("text/plain", "text"),
        ("image/png", "text"),
    ],
)
def test_info_type_of_content_types(mime: str, kind: str) -> None:
    assert info_type(mime) == kind


def test_the_service_transform_of_the_asked_kind_gets_the_merged_answer() -> None:
    sources = (
        Answering(FeatureInfo(b"<r><a/></r>", "text/xml")),
        Answering(FeatureInfo(b"<s><b/></s>", "text/xml")),
    )
    html, xml = Recording(), Recording()
    got = feature_info(query("text/xml"), sources, {"html": html, "xml": xml})
    assert got == FeatureInfo(b"<t><r><a/><b/></r>\n</t>", "text/xml")
    assert (html.kinds, xml.kinds) == ([], ["xml"])


def test_answers_of_another_kind_are_labelled_and_read_as_theirs() -> None:
    sources = (Answering(FeatureInfo(b"<html><body>x</body></html>", "text/html")),)
    assert feature_info(query("text/xml"), sources) == FeatureInfo(
        b"<html><body>x</body></html>", "text/html"
    )
    xml = Recording()
    got = feature_info(query("text/xml"), sources, {"xml": xml})
    # Transformed output is of the asked format; the input was read as HTML.
    assert got.content_type == "text/xml"
    assert xml.kinds == ["html"]


def test_without_a_transform_for_the_asked_kind_nothing_is_transformed() -> None:
    sources = (Answering(FeatureInfo(b"a\n", "text/plain")),)
    xml = Recording()
    assert feature_info(query("text/plain"), sources, {"xml": xml}) == FeatureInfo(
        b"a\n", "text/plain"
    )
    assert xml.kinds == []


def test_answers_are_merged_by_the_kind_of_any_asked_mime_type() -> None:
    # A WMTS `featureinfo_formats` entry may name a MIME type with parameters.
    gml = "application/gml+xml; version=3.1"
    sources = (
        Answering(FeatureInfo(b'<?xml version="1.0"?>\n<fc><f n="1"/></fc>', gml)),
        Answering(FeatureInfo(b"<fc><f n='2'/></fc>", gml)),
    )
    merged = feature_info(query(gml), sources)
    assert merged.content_type == gml
    assert merged.data == b'<?xml version="1.0"?>\n<fc><f n="1"/><f n=\'2\'/></fc>\n'
