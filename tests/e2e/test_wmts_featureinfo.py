"""WMTS GetFeatureInfo end to end: one configuration served by Tilegate under gunicorn and by
MapProxy 7, read by OWSLib and asked over HTTP; both must ask the map server the same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from owslib.wmts import WebMapTileService

from tests.e2e.conftest import Server, fetch, free_port, serving, start_server, stop
from tests.e2e.test_ogcapi_mapproxy_client import SERVE
from tests.mapproxy7 import MAPPROXY_PYTHON, needs_mapproxy
from tests.mapserver import MapServer

pytestmark = needs_mapproxy
KVP = (
    "/service?SERVICE=WMTS&REQUEST=GetFeatureInfo&VERSION=1.0.0&LAYER=q&STYLE=default"
    "&TILEMATRIXSET=GLOBAL_WEBMERCATOR&TILEMATRIX=03&TILEROW=2&TILECOL=5&FORMAT=image/png"
    "&I=17&J=230&INFOFORMAT={fmt}"
)
REST = "/wmts/q/GLOBAL_WEBMERCATOR/03/5/2/17/230.{suffix}"


def configuration(upstream: MapServer) -> dict[str, Any]:
    def source(layers: str, **opts: object) -> dict[str, Any]:
        return {
            "type": "wms",
            "req": {"url": f"{upstream.url}/service", "layers": layers},
            "supported_srs": ["EPSG:3857"],
            "wms_opts": opts,
        }

    return {
        "services": {
            "wmts": {
                "featureinfo_formats": [
                    {"mimetype": "text/plain", "suffix": "txt"},
                    {"mimetype": "text/html", "suffix": "html"},
                ]
            }
        },
        "layers": [
            {"name": "q", "title": "Queryable", "sources": ["qc"]},
            {"name": "nq", "title": "Not queryable", "sources": ["nqc"]},
        ],
        "caches": {
            "qc": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["a"]},
            "nqc": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["n"]},
        },
        "sources": {"a": source("a", featureinfo=True), "n": source("n")},
    }


@pytest.fixture(scope="module")
def tilegate(
    tmp_path_factory: pytest.TempPathFactory, upstream: MapServer
) -> Iterator[Server]:
    with serving(
        tmp_path_factory.mktemp("tilegate"), configuration(upstream)
    ) as server:
        yield server


@pytest.fixture(scope="module")
def mapproxy(
    tmp_path_factory: pytest.TempPathFactory, upstream: MapServer
) -> Iterator[str]:
    config = tmp_path_factory.mktemp("mapproxy") / "mapproxy.yaml"
    config.write_text(yaml.safe_dump(configuration(upstream)))
    port = free_port()
    cmd = [str(MAPPROXY_PYTHON), "-c", SERVE, str(config), str(port)]
    proc, url = start_server(cmd, Path(config.parent), port)
    yield url
    stop(proc)


def asked(upstream: MapServer, url: str) -> tuple[int, bytes, dict[str, str]]:
    """The answer to url and what the map server was asked for it."""
    upstream.reset()
    status, _, body = fetch(url)
    (sent,) = upstream.requests
    return status, body, sent.params


def test_owslib_reads_the_featureinfo_formats_and_resource_urls(
    tilegate: Server, mapproxy: str
) -> None:
    ours = WebMapTileService(f"{tilegate.url}/wmts/1.0.0/WMTSCapabilities.xml")
    theirs = WebMapTileService(f"{mapproxy}/wmts/1.0.0/WMTSCapabilities.xml")
    for wmts, base in ((ours, tilegate.url), (theirs, mapproxy)):
        assert wmts.contents["q"].infoformats == ["text/plain", "text/html"]
        assert wmts.contents["nq"].infoformats == []
        urls = [
            (r["format"], r["template"].replace(base, ""))
            for r in wmts.contents["q"].resourceURLs
            if r["resourceType"] == "FeatureInfo"
        ]
        assert urls == [
            (
                "text/plain",
                "/wmts/q/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}/{I}/{J}.txt",
            ),
            (
                "text/html",
                "/wmts/q/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}/{I}/{J}.html",
            ),
        ]
        assert "GetFeatureInfo" in [op.name for op in wmts.operations]


@pytest.mark.parametrize(
    "path",
    [
        KVP.format(fmt="text/plain"),
        KVP.format(fmt="text/html"),
        REST.format(suffix="txt"),
        REST.format(suffix="html"),
    ],
)
def test_featureinfo_asks_the_map_server_as_mapproxy_does(
    tilegate: Server, mapproxy: str, upstream: MapServer, path: str
) -> None:
    status, body, ours = asked(upstream, tilegate.url + path)
    mp_status, mp_body, theirs = asked(upstream, mapproxy + path)
    assert (status, mp_status) == (200, 200)
    # The upstream's answer as it came, which repeats the bbox it was asked for.
    assert body.replace(ours["BBOX"].encode(), theirs["BBOX"].encode()) == mp_body
    for key in ("REQUEST", "QUERY_LAYERS", "SRS", "WIDTH", "HEIGHT", "X", "Y"):
        assert ours[key] == theirs[key], key
    assert (ours["X"], ours["Y"], ours["WIDTH"]) == ("17", "230", "256")
    assert ours["INFO_FORMAT"] == theirs["INFO_FORMAT"]
    # The tile's bbox; the last bit may differ (edges are computed from indices here).
    ours_bbox = [float(v) for v in ours["BBOX"].split(",")]
    theirs_bbox = [float(v) for v in theirs["BBOX"].split(",")]
    assert ours_bbox == pytest.approx(theirs_bbox, rel=1e-12, abs=1e-6)


@pytest.mark.parametrize(
    ("path", "mapproxy_status"),
    [
        (KVP.format(fmt="text/xml"), 400),  # a format not offered
        (KVP.replace("LAYER=q", "LAYER=nq").format(fmt="text/plain"), 501),
        (KVP.replace("&STYLE=default", "").format(fmt="text/plain"), 500),
        (REST.format(suffix="txt").replace("/17/", "/x/"), 500),
    ],
)
def test_bad_requests_are_400_where_mapproxy_says_400_or_5xx(
    tilegate: Server,
    mapproxy: str,
    upstream: MapServer,
    path: str,
    mapproxy_status: int,
) -> None:
    upstream.reset()
    status, headers, body = fetch(tilegate.url + path)
    assert status == 400
    assert headers["Content-Type"] == "application/xml"
    assert b"<ExceptionReport" in body
    assert fetch(mapproxy + path)[0] == mapproxy_status
    assert upstream.requests == []
