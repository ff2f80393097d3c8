"""What the decorate_img and Python API tests share: a configuration over the real map server,
a WSGI caller with request headers, a recording decorate_img middleware, pixel helpers."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageOps

from adapters.config import parse_config
from entrypoints.app import TilegateApp
from entrypoints.bootstrap import bootstrap
from tests.mapserver import MapServer


def config(server: MapServer) -> dict[str, Any]:
    return {
        "services": {
            "tms": None,
            "kml": None,
            "wmts": None,
            "wms": {"srs": ["EPSG:3857", "EPSG:4326"]},
        },
        "globals": {"image": {"paletted": False}},
        "layers": [
            {
                "name": "grp",
                "title": "Group",
                "layers": [
                    {"name": "cached", "title": "Cached", "sources": ["c"]},
                    {"name": "direct", "title": "Direct", "sources": ["wms"]},
                ],
            }
        ],
        "caches": {"c": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["wms"]}},
        "sources": {
            "wms": {
                "type": "wms",
                "req": {"url": f"{server.url}/service", "layers": "any"},
            }
        },
    }


def make_app(tmp_path: Path, conf: dict[str, Any]) -> TilegateApp:
    path = tmp_path / "mapproxy.yaml"
    return TilegateApp.from_state(bootstrap(parse_config(conf, str(path)), path))


def mark(image: Image.Image) -> Image.Image:
    """The test's decoration: the top left 20x10 pixels inverted."""
    marked = image.convert("RGB")
    box = (0, 0, 20, 10)
    marked.paste(ImageOps.invert(marked.crop(box)), box)
    return marked


class Decorator:
    """A middleware setting a `mapproxy.decorate_img` callback that records its calls."""

    def __init__(self, app: Any, change: Callable[[Image.Image], Any] = mark) -> None:
        self.app = app
        self.change = change
        self.calls: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        def decorate(image: Any, service: str, layers: list[str], **kw: Any) -> Any:
            self.calls.append(
                {
                    "service": service,
                    "layers": layers,
                    "query_extent": kw["query_extent"],
                    "size": image.as_image().size,
                    "format": image.format,
                    "instance": kw["environ"].get("mapproxy.instance_name"),
                    "keywords": sorted(kw),
                }
            )
            return self.change(image.as_image())

        environ["mapproxy.decorate_img"] = decorate
        return self.app(environ, start_response)


def pixels(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a, b).getbbox() is None


def cache_files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*.png"))}
