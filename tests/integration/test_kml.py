"""KML super-overlays (`/kml/...`) through the WSGI app in-process."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from adapters.config import parse_config
from domain.bbox import Bbox
from domain.config import KMLServiceConf
from domain.grid import TileCoord
from domain.grids import resolve_grids
from domain.srs import srs, transform_bbox
from entrypoints.app import TilegateApp
from tests.integration.test_app import make_app, same_pixels, tile_source_conf
from tests.mapserver import MapServer

NS = {"k": "http://www.opengis.net/kml/2.2"}
KML = "application/vnd.google-earth.kml+xml"
GRIDS = resolve_grids({})
GEODETIC = GRIDS["GLOBAL_GEODETIC"]
WEBMERCATOR = GRIDS["GLOBAL_WEBMERCATOR"]


def get(
    app: TilegateApp, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body


def debug_conf(tmp_path: Path, **kml: object) -> dict[str, Any]:
    return {
        "services": {"kml": kml or None},
        "globals": {"cache": {"base_dir": str(tmp_path / "cache")}},
        "layers": [{"name": "dbg", "title": "Debug", "sources": ["dbg_cache"]}],
        "caches": {
            "dbg_cache": {
                "grids": ["GLOBAL_GEODETIC", "GLOBAL_WEBMERCATOR", "short"],
                "sources": ["dbg"],
            }
        },
        "sources": {"dbg": {"type": "debug"}},
        "grids": {"short": {"base": "GLOBAL_GEODETIC", "num_levels": 3}},
    }


def document(app: TilegateApp, path: str) -> ET.Element:
    status, headers, body = get(app, path)
    assert status == 200, body
    assert headers["Content-Type"] == KML
    return ET.fromstring(body)  # noqa: S314 - our own answer


def box(element: ET.Element, tag: str) -> Bbox:
    found = element.find(f".//k:{tag}", NS)
    assert found is not None
    value = {
        side: float(found.findtext(f"k:{side}", namespaces=NS) or "nan")
        for side in ("west", "south", "east", "north")
    }
    return Bbox(value["west"], value["south"], value["east"], value["north"])


def hrefs(doc: ET.Element, kind: str) -> list[str]:
    return [urlsplit(e.text or "").path for e in doc.findall(f".//k:{kind}/k:href", NS)]


def test_top_document_links_the_children_of_the_top_tile(tmp_path: Path) -> None:
    app = make_app(tmp_path, debug_conf(tmp_path))
    doc = document(app, "/kml/dbg/EPSG4326/0/0/0.kml")
    # Level 0 of GLOBAL_GEODETIC reaches past 90°: the region is the grid's part of it.
    region = doc.find("k:Document/k:Region", NS)
    assert region is not None
    assert box(region, "LatLonAltBox") == Bbox(-180, -90, 180, 90)
    links = hrefs(doc, "Link")
    assert links == ["/kml/dbg/EPSG4326/1/0/0.kml", "/kml/dbg/EPSG4326/1/1/0.kml"]
    overlays = doc.findall(".//k:GroundOverlay", NS)
    assert [box(o, "LatLonBox") for o in overlays] == [
        GEODETIC.tile_bbox(TileCoord(0, 0, 1)),
        GEODETIC.tile_bbox(TileCoord(1, 0, 1)),
    ]
    assert hrefs(doc, "Icon") == [
        "/kml/dbg/EPSG4326/1/0/0.png",
        "/kml/dbg/EPSG4326/1/1/0.png",
    ]
    for link in links:
        assert get(app, link)[0] == 200
    # Without a tile the layer's grid gives the same top document.
    assert hrefs(document(app, "/kml/dbg/EPSG4326"), "Link") == links
    assert hrefs(document(app, "/kml/dbg/"), "Link") == links


def test_children_rows_count_from_the_south_in_a_north_west_grid(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path, debug_conf(tmp_path))
    doc = document(app, "/kml/dbg/EPSG3857/1/1/0.kml")
    assert box(doc, "LatLonAltBox") == transform_bbox(
        WEBMERCATOR.tile_bbox(TileCoord(1, 1, 1)), WEBMERCATOR.srs, srs("EPSG:4326")
    )
    links = hrefs(doc, "Link")
    assert sorted(links) == [
        f"/kml/dbg/EPSG3857/2/{x}/{y}.kml" for x in (2, 3) for y in (0, 1)
    ]
    for overlay in doc.findall(".//k:GroundOverlay", NS):
        icon = hrefs(overlay, "Icon")[0]
        z, x, y = (int(v) for v in icon.removesuffix(".png").split("/")[-3:])
        own = WEBMERCATOR.flip_y(TileCoord(x, y, z))
        expected = transform_bbox(
            WEBMERCATOR.tile_bbox(own), WEBMERCATOR.srs, srs("EPSG:4326")
        )
        assert box(overlay, "LatLonBox") == expected
        # Row 0 counts from the south: it reaches the grid's southern edge.
        if y == 0:
            assert expected.miny == pytest.approx(-85.0511287798)
    for link in links:
        assert len(hrefs(document(app, link), "Link")) == 4


def test_ground_overlay_image_is_the_tile_from_the_cache(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = tile_source_conf(map_server)
    conf["services"] = {"kml": None}
    app = make_app(tmp_path, conf)
    doc = document(app, "/kml/xyz/EPSG3857/1/0/0.kml")
    icon = hrefs(doc, "Icon")[0]
    assert icon == "/kml/xyz/EPSG3857/2/0/1.png"
    status, headers, body = get(app, icon)
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    # Row 1 from the south of level 2 is row 2 from the top in the grid's own rows.
    assert same_pixels(body, TileCoord(0, 2, 2))
    assert get(app, icon, {"If-None-Match": headers["ETag"]})[0] == 304


def test_finest_level_has_no_links_and_stays_visible(tmp_path: Path) -> None:
    app = make_app(tmp_path, debug_conf(tmp_path, use_grid_names=True))
    assert (
        len(document(app, "/kml/dbg/short/0/0/0.kml").findall(".//k:NetworkLink", NS))
        == 2
    )
    doc = document(app, "/kml/dbg/short/1/1/0.kml")
    assert doc.findall(".//k:NetworkLink", NS) == []
    overlays = doc.findall(".//k:GroundOverlay", NS)
    assert len(overlays) == 4
    assert {o.findtext(".//k:maxLodPixels", namespaces=NS) for o in overlays} == {"-1"}
    assert (
        document(app, "/kml/dbg/short/2/3/1.kml").findall(".//k:GroundOverlay", NS)
        == []
    )


def test_grid_names_in_urls_with_use_grid_names(tmp_path: Path) -> None:
    app = make_app(tmp_path, debug_conf(tmp_path, use_grid_names=True))
    doc = document(app, "/kml/dbg/GLOBAL_WEBMERCATOR/0/0/0.kml")
    assert sorted(hrefs(doc, "Link"))[0] == "/kml/dbg/GLOBAL_WEBMERCATOR/1/0/0.kml"
    assert get(app, "/kml/dbg/EPSG3857/0/0/0.kml")[0] == 404


def test_urls_follow_proxy_headers_and_values_are_escaped(tmp_path: Path) -> None:
    conf = debug_conf(tmp_path)
    conf["layers"][0]["name"] = "a&b<c"
    app = make_app(tmp_path, conf)
    status, headers, body = get(
        app,
        "/kml/a&b<c/EPSG4326/0/0/0.kml",
        {
            "X-Forwarded-Host": "maps.example.org",
            "X-Forwarded-Proto": "https",
            "X-Script-Name": "/tiles",
        },
    )
    assert status == 200
    assert "X-Forwarded-Host" in headers["Vary"]
    doc = ET.fromstring(body)  # noqa: S314 - our own answer
    assert doc.findtext("k:Document/k:name", namespaces=NS) == "a&b<c"
    link = doc.findtext(".//k:Link/k:href", namespaces=NS)
    assert link == "https://maps.example.org/tiles/kml/a%26b%3Cc/EPSG4326/1/0/0.kml"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/kml/nope/EPSG4326/0/0/0.kml", 404),
        ("/kml/dbg/EPSG1/0/0/0.kml", 404),
        ("/kml/dbg/EPSG4326/2/9/0.kml", 404),
        ("/kml/dbg/EPSG4326/99/0/0.kml", 404),
        ("/kml/dbg/EPSG4326/-1/0/0.kml", 404),
        ("/kml/dbg/EPSG3857/1/0/5.kml", 404),
        ("/kml/dbg/EPSG4326/2/9/0.png", 404),
        ("/kml/dbg/EPSG4326/0/0/0.jpeg", 404),
        ("/kml/dbg/EPSG4326/a/0/0.kml", 400),
        ("/kml/dbg/EPSG4326/0/0/0x.kml", 400),
        ("/kml/dbg/EPSG4326/0/0/0", 404),
        ("/kml/", 404),
        ("/kml/<x>", 404),
    ],
)
def test_bad_requests_get_a_short_xml_error(
    tmp_path: Path, path: str, status: int
) -> None:
    app = make_app(tmp_path, debug_conf(tmp_path))
    got, headers, body = get(app, path)
    assert got == status
    assert headers["Content-Type"] == "application/xml"
    message = ET.fromstring(body).findtext("Message")  # noqa: S314 - our own answer
    assert message


def test_kml_is_off_unless_configured(tmp_path: Path) -> None:
    conf = debug_conf(tmp_path)
    conf["services"] = {"tms": None}
    assert get(make_app(tmp_path, conf), "/kml/dbg/EPSG4326/0/0/0.kml")[0] == 404


def test_kml_options_are_read_without_warnings(tmp_path: Path) -> None:
    loaded = parse_config(debug_conf(tmp_path, use_grid_names=True), "mapproxy.yaml")
    assert loaded.conf.services.kml == KMLServiceConf(use_grid_names=True)
    assert loaded.warnings == ()
    loaded = parse_config(debug_conf(tmp_path), "mapproxy.yaml")
    assert loaded.conf.services.kml == KMLServiceConf()
    assert loaded.warnings == ()
