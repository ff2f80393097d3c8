"""The OGC API HTML pages in headless Chromium: hostile titles stay text, links are links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest

from tests.e2e.conftest import Server, serving, upstream_wms
from tests.e2e.test_demo_page import PAYLOADS, chromium
from tests.mapserver import MapServer


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, upstream: MapServer
) -> Iterator[Server]:
    conf = {
        "services": {
            "ogcapi": {
                "md": {
                    "identification": {"title": PAYLOADS[0], "description": PAYLOADS[1]}
                }
            }
        },
        "layers": [
            {"name": f"l{i}", "title": payload, "sources": ["w"]}
            for i, payload in enumerate(PAYLOADS)
        ],
        "sources": {"w": upstream_wms(upstream)},
    }
    with serving(tmp_path_factory.mktemp("ogcapi-html"), conf) as server:
        yield server


@pytest.mark.parametrize("path", ["/ogcapi?f=html", "/ogcapi/collections?f=html"])
def test_a_browser_shows_hostile_titles_as_text(
    served: Server, tmp_path: Path, path: str
) -> None:
    dom = chromium(f"{served.url}{path}", tmp_path / "profile", "--dump-dom").stdout
    page = dom.decode()
    # Nothing of the payloads became an element: no script, image or svg in the DOM.
    assert not re.search(r"<(script|img|svg)\b", page, re.IGNORECASE)
    body = unescape(page)
    shown = PAYLOADS[:2] if path == "/ogcapi?f=html" else PAYLOADS
    for payload in shown:
        assert payload.strip("\u2028\u2029") in body
    assert f'href="{served.url}/ogcapi/collections?f=json"' in page
