"""The use cases "feature info at a pixel" and "legend of a layer": sources asked, answers merged.

A source is asked in the request's SRS when it serves it, else in one it serves: the bbox is
transformed and the queried pixel moved to where its position falls in the transformed bbox.
Answers of several sources become one document of the asked format, as MapProxy joins them:
plain text one after the other, HTML bodies in one body, XML root children under the first root.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Protocol

import attrs
from PIL import Image

from domain.bbox import Bbox
from domain.errors import SourceError
from domain.reprojecting_source import request_srs
from domain.srs import SRS, same_srs, transform_bbox, transform_points

# The INFO_FORMATs of each `featureinfo_types` entry; the first is the one advertised first.
INFO_TYPES: dict[str, tuple[str, ...]] = {
    "text": ("text/plain",),
    "html": ("text/html",),
    "xml": ("text/xml", "application/vnd.ogc.gml"),
    "json": ("application/json",),
}
# The INFO_TYPES when `featureinfo_types` is not set and no `featureinfo_xslt` names others.
DEFAULT_INFO_TYPES = ("text", "html", "xml")
# Other content types upstream servers give XML feature info.
_MORE_XML = ("application/xml", "application/gml+xml")
_BODY = re.compile(rb"<body[^>]*>(.*)</body\s*>", re.IGNORECASE | re.DOTALL)
_ROOT = re.compile(
    rb"^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<([\w:.-]+)[^>]*?(/?)>",
    re.DOTALL,
)


@attrs.frozen
class InfoQuery:
    """A GetFeatureInfo: the map it refers to and the pixel `pos` (x, y from the top left)."""

    bbox: Bbox
    size: tuple[int, int]
    srs: SRS
    pos: tuple[int, int]
    info_format: str = "text/plain"
    feature_count: int | None = None

    def pixel_bbox(self) -> Bbox:
        """The area the queried pixel covers, in the query's SRS."""
        b, (width, height) = self.bbox, self.size
        rx, ry = b.width / width, b.height / height
        x, y = self.pos
        return Bbox(
            b.minx + x * rx,
            b.maxy - (y + 1) * ry,
            b.minx + (x + 1) * rx,
            b.maxy - y * ry,
        )


@attrs.frozen
class FeatureInfo:
    data: bytes
    content_type: str


class InfoSource(Protocol):
    """A source that answers feature info requests."""

    @property
    def supported_srs(self) -> tuple[SRS, ...] | None: ...

    def get_feature_info(self, query: InfoQuery) -> FeatureInfo: ...


class InfoTransform(Protocol):
    """An XSL transformation (`featureinfo_xslt`) of a feature info document whose kind
    (`info_type`: "xml" or "html") says how to read it; raises SourceError when it fails."""

    def __call__(self, data: bytes, info_type: str) -> bytes: ...


class LegendSource(Protocol):
    """Something that has a legend image (encoded)."""

    def get_legend(self) -> bytes: ...


def query_in(query: InfoQuery, target: SRS) -> InfoQuery:
    """query as asked in target: its bbox transformed, its pixel where the same position falls."""
    if same_srs(query.srs, target):
        return query
    width, height = query.size
    b = query.bbox
    x = b.minx + (query.pos[0] + 0.5) * b.width / width
    y = b.maxy - (query.pos[1] + 0.5) * b.height / height
    try:
        bbox = transform_bbox(b, query.srs, target)
        ((tx, ty),) = transform_points([(x, y)], query.srs, target)
    except ValueError as exc:
        raise SourceError(f"the queried position has no place in {target}") from exc
    px = int((tx - bbox.minx) / bbox.width * width)
    py = int((bbox.maxy - ty) / bbox.height * height)
    pos = (min(max(px, 0), width - 1), min(max(py, 0), height - 1))
    return attrs.evolve(query, bbox=bbox, srs=target, pos=pos)


def info_type(content_type: str) -> str:
    """The kind of a feature info content type: "text", "html", "xml" or "json"."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime in _MORE_XML:
        return "xml"
    return next((t for t, mimes in INFO_TYPES.items() if mime in mimes), "text")


def feature_info(
    query: InfoQuery,
    sources: tuple[InfoSource, ...],
    transforms: Mapping[str, InfoTransform] | None = None,
) -> FeatureInfo:
    """Every source's answer for query, merged into one document; `transforms` (by the kind
    of the asked INFO_FORMAT, the service's `featureinfo_xslt`) rework the merged document."""
    answers = [
        source.get_feature_info(
            query_in(query, request_srs(query.srs, source.supported_srs))
        )
        for source in sources
    ]
    wanted = info_type(query.info_format)
    # A source may answer in its own `featureinfo_format` or in what its XSL makes: answers
    # of one kind are merged and labelled as that kind, as MapProxy does.
    kinds = {info_type(a.content_type) for a in answers}
    kind = kinds.pop() if len(kinds) == 1 else wanted
    mime = query.info_format if kind == wanted else INFO_TYPES[kind][0]
    merged = merge_info(answers, mime)
    transform = (transforms or {}).get(wanted)
    if transform is not None:
        return FeatureInfo(transform(merged, kind), query.info_format)
    return FeatureInfo(merged, mime)


def merge_info(answers: list[FeatureInfo], info_format: str) -> bytes:
    """The answers as one document of info_format."""
    if len(answers) == 1:
        return answers[0].data
    # By kind: WMTS `featureinfo_formats` name any MIME type, `application/gml+xml; ...` too.
    kind = info_type(info_format)
    if kind == "html":
        bodies = [_inner(_BODY, a.data) for a in answers]
        return b"<html><body>" + b"\n".join(bodies) + b"</body></html>"
    if kind == "xml":
        return _merge_xml([a.data for a in answers])
    return b"\n".join(a.data.rstrip(b"\n") for a in answers) + b"\n"


def _inner(pattern: re.Pattern[bytes], data: bytes) -> bytes:
    match = pattern.search(data)
    return match.group(1).strip() if match else data.strip()


def _merge_xml(documents: list[bytes]) -> bytes:
    """The first document with the root children of the others appended to its root."""
    first = documents[0]
    head = _ROOT.match(first)
    if head is None:
        return b"\n".join(documents)
    name = head.group(1)
    children = b"".join(_root_content(doc) for doc in documents)
    return first[: head.start(2)] + b">" + children + b"</" + name + b">\n"


def _root_content(document: bytes) -> bytes:
    head = _ROOT.match(document)
    if head is None or head.group(2):
        return b""
    end = document.rfind(b"</" + head.group(1))
    return document[head.end() : end if end >= 0 else len(document)]


def merge_legends(images: list[bytes]) -> Image.Image:
    """The legend images one below the other, left aligned, on a transparent background."""
    decoded: list[Image.Image] = []
    for data in images:
        try:
            with Image.open(io.BytesIO(data)) as opened:
                decoded.append(opened.convert("RGBA"))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise SourceError("a legend is no image") from exc
    width = max(img.width for img in decoded)
    height = sum(img.height for img in decoded)
    merged = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    y = 0
    for legend in decoded:
        merged.alpha_composite(legend, (0, y))
        y += legend.height
    return merged
