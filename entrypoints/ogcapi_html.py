"""The HTML face of the OGC API documents: their title, links and entries, every value escaped."""

from __future__ import annotations

import json
from html import escape
from typing import Any

# Lists of entries a document may hold, each shown with its title and links.
_ENTRIES = ("collections", "tilesets", "tileMatrixSets")


def html_page(doc: dict[str, Any], heading: str) -> bytes:
    title = str(doc.get("title") or heading)
    parts = [f"<h1>{escape(title)}</h1>"]
    if doc.get("description"):
        parts.append(f"<p>{escape(str(doc['description']))}</p>")
    parts.append(_links(doc.get("links", [])))
    for key in _ENTRIES:
        for entry in doc.get(key, []):
            name = entry.get("title") or entry.get("id", "")
            parts.append(
                f"<h2>{escape(str(name))}</h2>{_links(entry.get('links', []))}"
            )
    if "conformsTo" in doc:
        items = "".join(f"<li>{escape(c)}</li>" for c in doc["conformsTo"])
        parts.append(f"<ul>{items}</ul>")
    # Everything else (extents, tile matrices, OpenAPI paths) as the JSON says it.
    text = escape(json.dumps(doc, indent=2))
    parts.append(f"<details><summary>JSON</summary><pre>{text}</pre></details>")
    body = "".join(parts)
    page = (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body>{body}</body></html>"
    )
    return page.encode()


def _links(links: list[dict[str, Any]]) -> str:
    if not links:
        return ""
    items = "".join(
        f'<li><a href="{escape(str(link["href"]), quote=True)}">'
        f"{escape(str(link.get('title') or link['href']))}</a>"
        f" ({escape(str(link.get('rel', '')))}, {escape(str(link.get('type', '')))})</li>"
        for link in links
    )
    return f"<ul>{items}</ul>"
