"""KML super-overlays end to end: a client walks `/kml/...` under gunicorn like Google Earth does,
from the root document down two levels of NetworkLinks, fetching every GroundOverlay image."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from domain.grid import TileCoord
from domain.grids import resolve_grids
from domain.srs import srs, transform_bbox
from tests.e2e.conftest import (
    Server,
    fetch,
    serving,
    upstream_wms,
)
from tests.mapserver import MapServer, render

KML_NS = "http://www.opengis.net/kml/2.2"
K = f"{{{KML_NS}}}"
KML = "application/vnd.google-earth.kml+xml"
WEBMERCATOR = resolve_grids({})["GLOBAL_WEBMERCATOR"]
LATLON = srs("EPSG:4326")
# Children of each element we write, in the order the KML 2.2 schema wants them.
ORDER = {
    "Document": ["name", "Region", "NetworkLink", "GroundOverlay"],
    "NetworkLink": ["name", "Region", "Link"],
    "GroundOverlay": ["name", "Region", "drawOrder", "Icon", "LatLonBox"],
    "Region": ["LatLonAltBox", "Lod"],
    "Lod": ["minLodPixels", "maxLodPixels", "minFadeExtent", "maxFadeExtent"],
    "Link": ["href", "viewRefreshMode"],
    "Icon": ["href"],
    "LatLonAltBox": ["north", "south", "east", "west"],
    "LatLonBox": ["north", "south", "east", "west"],
}


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, upstream: MapServer
) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("kml")
    conf = {
        "services": {"kml": None},
        "globals": {
            "cache": {"base_dir": str(directory / "cache")},
            "image": {"paletted": False},
        },
        "layers": [{"name": "osm", "title": "OSM", "sources": ["c"]}],
        "caches": {
            "c": {
                "grids": ["GLOBAL_WEBMERCATOR"],
                "sources": ["w"],
                "meta_size": [4, 4],
            }
        },
        "sources": {"w": upstream_wms(upstream)},
    }
    with serving(directory, conf) as server:
        yield server


def kml(url: str) -> ET.Element:
    """The KML document at url, checked for what any KML 2.2 reader relies on."""
    status, headers, body = fetch(url)
    assert status == 200, body
    assert headers["Content-Type"] == KML
    root = ET.fromstring(body)  # noqa: S314 - our own answer
    assert root.tag == f"{K}kml"
    for element in root.iter():
        assert element.tag.startswith(K), (
            f"{element.tag} is not in the KML 2.2 namespace"
        )
        local = element.tag.removeprefix(K)
        if local in ORDER:
            children = [child.tag.removeprefix(K) for child in element]
            wanted = ORDER[local]
            assert set(children) <= set(wanted), children
            assert children == sorted(children, key=wanted.index), children
    return root


def box(element: ET.Element | None, tag: str) -> tuple[float, float, float, float]:
    assert element is not None
    found = element.find(f"{K}{tag}")
    assert found is not None
    sides = {
        s: float(found.findtext(f"{K}{s}") or "nan")
        for s in ("west", "south", "east", "north")
    }
    return sides["west"], sides["south"], sides["east"], sides["north"]


def tile_of(href: str, suffix: str) -> TileCoord:
    """The grid's own tile coordinate of a /kml/... href (TMS rows, counted from the south)."""
    z, x, y = (int(v) for v in urlsplit(href).path.removesuffix(suffix).split("/")[-3:])
    return WEBMERCATOR.flip_y(TileCoord(x, y, z))


def latlon(coord: TileCoord) -> tuple[float, float, float, float]:
    return transform_bbox(
        WEBMERCATOR.tile_bbox(coord), WEBMERCATOR.srs, LATLON
    ).as_tuple()


def check_overlays(doc: ET.Element, z: int) -> list[TileCoord]:
    """Every GroundOverlay of doc: its LatLonBox is its tile's, its image is the tile's pixels."""
    coords = []
    for overlay in doc.iter(f"{K}GroundOverlay"):
        href = overlay.findtext(f"{K}Icon/{K}href") or ""
        coord = tile_of(href, ".png")
        assert coord.z == z
        assert box(overlay, "LatLonBox") == pytest.approx(latlon(coord))
        status, headers, body = fetch(href)
        assert status == 200, body
        assert headers["Content-Type"] == "image/png"
        with Image.open(io.BytesIO(body)) as image:
            assert image.size == (256, 256)
            got = np.asarray(image.convert("RGB")).astype(int)
        expected = np.asarray(
            render(WEBMERCATOR.tile_bbox(coord).as_tuple(), (256, 256), "EPSG:3857")
        ).astype(int)
        assert np.abs(got - expected).max() <= 1, href
        coords.append(coord)
    return coords


def network_links(
    doc: ET.Element,
) -> list[tuple[str, tuple[float, float, float, float]]]:
    links = []
    for link in doc.iter(f"{K}NetworkLink"):
        region = link.find(f"{K}Region")
        assert region is not None
        assert region.findtext(f"{K}Lod/{K}minLodPixels") == "128"
        assert link.findtext(f"{K}Link/{K}viewRefreshMode") == "onRegion"
        links.append(
            (link.findtext(f"{K}Link/{K}href") or "", box(region, "LatLonAltBox"))
        )
    return links


def test_client_walks_the_super_overlay_two_levels_down(served: Server) -> None:
    root = kml(f"{served.url}/kml/osm/EPSG3857")
    document = root.find(f"{K}Document")
    assert document is not None
    assert document.findtext(f"{K}name") == "osm"
    world = box(document.find(f"{K}Region"), "LatLonAltBox")
    assert world == pytest.approx((-180, -85.0511287798, 180, 85.0511287798))
    # The single top tile's children: level 1, as overlays and as links to their documents.
    level1 = network_links(root)
    assert len(level1) == 4
    assert set(check_overlays(root, 1)) == {
        TileCoord(x, y, 1) for x in (0, 1) for y in (0, 1)
    }

    seen_level2: list[TileCoord] = []
    for href, region in level1:
        assert urlsplit(href).netloc == urlsplit(served.url).netloc
        child = kml(href)
        coord = tile_of(href, ".kml")
        assert coord.z == 1
        # The link's region is the region of the document it leads to, and its tile's box.
        child_region = box(child.find(f"{K}Document/{K}Region"), "LatLonAltBox")
        assert region == child_region == pytest.approx(latlon(coord))
        overlays = check_overlays(child, 2)
        assert set(overlays) == {
            TileCoord(2 * coord.x + dx, 2 * coord.y + dy, 2)
            for dx in (0, 1)
            for dy in (0, 1)
        }
        seen_level2 += overlays
        # One level further down: each level 2 document shows its four level 3 tiles.
        level2 = network_links(child)
        assert len(level2) == 4
        href2, region2 = level2[0]
        grandchild = kml(href2)
        coord2 = tile_of(href2, ".kml")
        assert region2 == pytest.approx(latlon(coord2))
        assert len(check_overlays(grandchild, 3)) == 4
        assert len(network_links(grandchild)) == 4
    assert len(set(seen_level2)) == 16


def test_initial_document_urls_as_mapproxy_documents_them(served: Server) -> None:
    # /kml/layer/EPSG1234/0/0/0.kml, /kml/layer_EPSG1234 and /kml/layer/EPSG1234 are the same.
    links = [
        [href for href, _ in network_links(kml(f"{served.url}{path}"))]
        for path in (
            "/kml/osm/EPSG3857/0/0/0.kml",
            "/kml/osm_EPSG3857",
            "/kml/osm/EPSG3857",
        )
    ]
    assert links[0] == links[1] == links[2]
    assert len(links[0]) == 4


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/kml/osm/EPSG3857/1/2/0.kml", 404),  # outside level 1's 2x2 tiles
        ("/kml/nothere/EPSG3857", 404),
        ("/kml/osm/EPSG3857/a/0/0.kml", 400),
    ],
)
def test_bad_kml_paths_are_client_errors(
    served: Server, path: str, status: int
) -> None:
    got, _, body = fetch(f"{served.url}{path}")
    assert got == status, body
    ET.fromstring(body)  # noqa: S314 - our own answer: still well-formed XML
