"""XSL transformations of feature info documents (MapProxy's `featureinfo_xslt`), with lxml.

Stylesheets come from the configuration and may read local files (`xsl:include`,
`document()`); documents come from upstream servers, so they are read without network
access and without expanding entities.
"""

from __future__ import annotations

import threading
from pathlib import Path

import attrs
from lxml import etree

from domain.config import MapServerSourceConf, TilegateConf, WMSSourceConf
from domain.errors import SourceError

# A stylesheet may read files next to it, never the network, never write.
_ACCESS = etree.XSLTAccessControl(  # type: ignore[call-arg]  # lxml-stubs 0.5 lists no options
    read_network=False, write_file=False, create_dir=False, write_network=False
)


@attrs.define
class XSLTransform:
    """One stylesheet, compiled once per thread (lxml's XSLT objects are not shared)."""

    path: Path
    _style: etree._ElementTree
    _compiled: threading.local = attrs.field(factory=threading.local, init=False)

    @classmethod
    def load(cls, path: Path) -> XSLTransform:
        """The stylesheet in `path`; ValueError says why it cannot be one."""
        try:
            style = etree.parse(str(path), etree.XMLParser(no_network=True))
            etree.XSLT(style, access_control=_ACCESS)
        except OSError as exc:
            raise ValueError(f"cannot read XSL file {str(path)!r}") from exc
        except etree.XMLSyntaxError as exc:
            raise ValueError(f"XSL file {str(path)!r} is no XML: {exc}") from exc
        except etree.XSLTParseError as exc:
            raise ValueError(f"XSL file {str(path)!r} is no stylesheet: {exc}") from exc
        return cls(path, style)

    def __call__(self, data: bytes, info_type: str) -> bytes:
        """The document `data` (read as HTML or XML by `info_type`) transformed."""
        parser: etree.XMLParser | etree.HTMLParser = (
            etree.HTMLParser(no_network=True)
            if info_type == "html"
            else etree.XMLParser(
                resolve_entities=False, no_network=True, load_dtd=False
            )
        )
        try:
            document = etree.fromstring(data, parser)
            if document is None:
                raise ValueError("the document is empty")
            result = self._xslt()(document)
        except (ValueError, etree.XMLSyntaxError, etree.XSLTApplyError) as exc:
            raise SourceError(
                f"feature info transformation with {self.path.name} failed: {exc}"
            ) from exc
        return bytes(result)

    def _xslt(self) -> etree.XSLT:
        compiled: etree.XSLT | None = getattr(self._compiled, "xslt", None)
        if compiled is None:
            compiled = etree.XSLT(self._style, access_control=_ACCESS)
            self._compiled.xslt = compiled
        return compiled


def xslt_paths(conf: TilegateConf) -> list[tuple[str, object]]:
    """Every `featureinfo_xslt` of the configuration: (key path, configured value)."""
    found: list[tuple[str, object]] = []
    wms = conf.services.wms
    if wms is not None:
        found += [
            (f"$.services.wms.featureinfo_xslt.{kind}", name)
            for kind, name in (wms.featureinfo_xslt or {}).items()
        ]
    for name, source in conf.sources.items():
        if (
            isinstance(source, WMSSourceConf | MapServerSourceConf)
            and source.wms_opts is not None
        ):
            value = source.wms_opts.get("featureinfo_xslt")
            if value is not None:
                found.append((f"$.sources[{name!r}].wms_opts.featureinfo_xslt", value))
    return found


def check_xslt(conf: TilegateConf, base_dir: Path) -> list[str]:
    """A problem for every stylesheet that cannot be read or compiled (paths from base_dir)."""
    problems = []
    for path, value in xslt_paths(conf):
        if not isinstance(value, str) or not value:
            problems.append(f"expected the path of an XSL file @ {path}")
            continue
        try:
            XSLTransform.load(base_dir / value)
        except ValueError as exc:
            problems.append(f"{exc} @ {path}")
    return problems
