"""Map sources against a real local map server: the requests they send and the answers they accept."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from adapters.debug_source import DebugSource
from adapters.host_semaphore import HostSemaphore
from adapters.http_client import HttpClient, split_credentials
from adapters.logs import SOURCE_REQUEST, configure
from adapters.tile_source import TileSource
from adapters.wms_source import WMSSource
from domain.bbox import Bbox
from domain.config import HttpConf, ScalarParam, TileSourceConf, WMSSourceConf
from domain.errors import (
    ConfigValueError,
    LockTimeoutError,
    SourceError,
    SourceTimeoutError,
)
from domain.grid import Grid, TileCoord
from domain.grids import resolve_grids
from domain.ports import MapQuery
from domain.srs import srs
from tests.mapserver import AUTH_PASSWORD, AUTH_USER, MapServer, render, tile_bbox

GRIDS = resolve_grids({})
WEBMERCATOR = GRIDS["GLOBAL_WEBMERCATOR"]  # origin nw
MERCATOR = GRIDS["GLOBAL_MERCATOR"]  # origin sw
EUROPE_3857 = Bbox(-1113194.9, 4865942.3, 2226389.8, 7361866.1)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def http(tmp_path: Path) -> Iterator[HttpClient]:
    client = HttpClient(HttpConf(), lock_dir=tmp_path / "locks")
    yield client
    client.close()


def wms(
    url: str,
    client: HttpClient,
    req: dict[str, ScalarParam] | None = None,
    **options: Any,
) -> WMSSource:
    params: dict[str, ScalarParam] = {
        "url": url,
        "layers": "roads,rivers",
        **(req or {}),
    }
    return WMSSource(WMSSourceConf(req=params, **options), client)


def pixels(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGBA")


def assert_same_image(data: bytes, expected: Image.Image) -> None:
    got = pixels(data)
    assert got.size == expected.size
    assert got.tobytes() == expected.convert("RGBA").tobytes()


# --- WMS -----------------------------------------------------------------------------------------


def test_wms_sends_getmap_111_with_req_and_url_params(
    map_server: MapServer, http: HttpClient
) -> None:
    source = wms(
        f"{map_server.url}/service?map=/srv/x.map&",
        http,
        req={"transparent": True, "Foo": "Bar"},
    )
    query = MapQuery(EUROPE_3857, (300, 200), srs("EPSG:3857"), "image/png")

    image = source.get_map(query)

    [request] = map_server.requests
    assert request.path == "/service"
    assert request.params == {
        "MAP": "/srv/x.map",
        "LAYERS": "roads,rivers",
        "TRANSPARENT": "TRUE",
        "FOO": "Bar",
        "STYLES": "",
        "SERVICE": "WMS",
        "REQUEST": "GetMap",
        "VERSION": "1.1.1",
        "SRS": "EPSG:3857",
        "BBOX": "-1113194.9,4865942.3,2226389.8,7361866.1",
        "WIDTH": "300",
        "HEIGHT": "200",
        "FORMAT": "image/png",
    }
    assert image.format == "image/png"
    assert_same_image(
        image.data,
        render(EUROPE_3857.as_tuple(), (300, 200), "EPSG:3857", transparent=True),
    )
    assert source.transparent
    assert source.supports_meta_tiles


def test_wms_130_sends_crs_and_flips_north_east_axes(
    map_server: MapServer, http: HttpClient
) -> None:
    source = wms(f"{map_server.url}/service", http, wms_opts={"version": "1.3.0"})
    bbox = Bbox(-10, 40, 10, 50)

    image = source.get_map(MapQuery(bbox, (400, 200), srs("EPSG:4326")))

    params = map_server.requests[0].params
    assert params["VERSION"] == "1.3.0"
    assert params["CRS"] == "EPSG:4326"
    assert "SRS" not in params
    assert params["BBOX"] == "40.0,-10.0,50.0,10.0"
    # the server flips back: the pixels show the east/north bbox we asked for
    assert_same_image(image.data, render(bbox.as_tuple(), (400, 200), "EPSG:4326"))


def test_wms_130_keeps_east_north_axes_of_projected_srs(
    map_server: MapServer, http: HttpClient
) -> None:
    source = wms(f"{map_server.url}/service", http, wms_opts={"version": "1.3.0"})

    source.get_map(MapQuery(EUROPE_3857, (256, 256), srs("EPSG:3857")))

    assert (
        map_server.requests[0].params["BBOX"]
        == "-1113194.9,4865942.3,2226389.8,7361866.1"
    )


def test_wms_requests_first_supported_format_when_query_format_is_not_supported(
    map_server: MapServer, http: HttpClient
) -> None:
    source = wms(
        f"{map_server.url}/service", http, supported_formats=("image/png", "image/gif")
    )

    image = source.get_map(
        MapQuery(EUROPE_3857, (64, 64), srs("EPSG:3857"), "image/jpeg")
    )

    assert map_server.requests[0].params["FORMAT"] == "image/png"
    assert image.format == "image/png"


def test_wms_refuses_srs_outside_supported_srs_without_a_request(
    map_server: MapServer, http: HttpClient
) -> None:
    source = wms(f"{map_server.url}/service", http, supported_srs=("EPSG:4326",))

    with pytest.raises(SourceError, match="is not in supported_srs"):
        source.get_map(MapQuery(EUROPE_3857, (64, 64), srs("EPSG:3857")))
    source.get_map(MapQuery(Bbox(0, 0, 10, 10), (64, 64), srs("EPSG:4326")))

    assert len(map_server.requests) == 1


def test_wms_posts_params_as_form_when_method_is_post(
    map_server: MapServer, http: HttpClient
) -> None:
    source = wms(f"{map_server.url}/service", http, http=HttpConf(method="POST"))

    image = source.get_map(MapQuery(EUROPE_3857, (64, 64), srs("EPSG:3857")))

    [request] = map_server.requests
    assert request.method == "POST"
    assert request.params["REQUEST"] == "GetMap"
    assert_same_image(image.data, render(EUROPE_3857.as_tuple(), (64, 64), "EPSG:3857"))


def test_wms_sends_configured_headers(map_server: MapServer, tmp_path: Path) -> None:
    client = HttpClient(
        HttpConf(headers={"X-Api": "global", "X-Both": "global"}), lock_dir=tmp_path
    )
    try:
        source = wms(
            f"{map_server.url}/service",
            client,
            http=HttpConf(headers={"X-Both": "source"}),
        )
        source.get_map(MapQuery(EUROPE_3857, (64, 64), srs("EPSG:3857")))
    finally:
        client.close()

    headers = map_server.requests[0].headers
    assert (headers["x-api"], headers["x-both"]) == ("global", "source")
    assert headers["user-agent"].startswith("Tilegate")


def test_wms_rejects_unknown_version() -> None:
    with pytest.raises(ConfigValueError, match="version"):
        wms("http://localhost/service", HttpClient(), wms_opts={"version": "2.0"})


# --- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("fault=error", "answered HTTP 500"),
        ("status=503", "answered HTTP 503"),
        (
            "fault=exception",
            r"returned no image \(application/vnd.ogc.se_xml\): injected failure",
        ),
        ("fault=html", r"returned no image \(text/html\)"),
        ("fault=garbage", "no image"),
        ("fault=empty", "no image"),
        ("fault=wrongsize", "65x65 pixels, expected 64x64"),
    ],
)
def test_wms_fault_is_source_error_without_credentials(
    map_server: MapServer, http: HttpClient, fault: str, message: str
) -> None:
    source = wms(f"{map_server.auth_url()}/service?{fault}", http)

    with pytest.raises(SourceError, match=message) as caught:
        source.get_map(MapQuery(EUROPE_3857, (64, 64), srs("EPSG:3857")))

    assert not isinstance(caught.value, SourceTimeoutError)
    assert AUTH_USER not in str(caught.value)
    assert "word" not in str(caught.value)
    assert f"WMS {map_server.url}/secure/service" in str(caught.value)


def test_refused_connection_is_source_error(http: HttpClient) -> None:
    with MapServer() as server:
        url = server.url
    source = wms(f"{url}/service", http)

    with pytest.raises(SourceError, match="cannot connect to"):
        source.get_map(MapQuery(EUROPE_3857, (64, 64), srs("EPSG:3857")))


def test_slow_source_times_out_within_client_timeout(
    map_server: MapServer, tmp_path: Path
) -> None:
    client = HttpClient(HttpConf(client_timeout=0.5), lock_dir=tmp_path)
    source = wms(f"{map_server.url}/service?delay=3", client)
    start = time.monotonic()
    try:
        with pytest.raises(SourceTimeoutError, match=r"did not answer within 0.5 s"):
            source.get_map(MapQuery(EUROPE_3857, (64, 64), srs("EPSG:3857")))
    finally:
        client.close()
    assert time.monotonic() - start < 2


def test_source_http_timeout_overrides_global(
    map_server: MapServer, http: HttpClient
) -> None:
    source = wms(
        f"{map_server.url}/service?delay=3", http, http=HttpConf(client_timeout=0.3)
    )

    with pytest.raises(SourceTimeoutError):
        source.get_map(MapQuery(EUROPE_3857, (64, 64), srs("EPSG:3857")))


def test_persistent_fault_applies_to_next_requests_only(
    map_server: MapServer, http: HttpClient
) -> None:
    map_server.add_fault("error", times=1)
    source = wms(f"{map_server.url}/service", http)
    query = MapQuery(EUROPE_3857, (64, 64), srs("EPSG:3857"))

    with pytest.raises(SourceError):
        source.get_map(query)
    source.get_map(query)


def test_oversized_answer_is_source_error(
    map_server: MapServer, tmp_path: Path
) -> None:
    client = HttpClient(HttpConf(), lock_dir=tmp_path, max_body=1000)
    source = wms(f"{map_server.url}/service", client)
    try:
        with pytest.raises(SourceError, match="more than 1000"):
            source.get_map(MapQuery(EUROPE_3857, (256, 256), srs("EPSG:3857")))
        # the pooled connection is still usable after the aborted read
        client.get(f"{map_server.url}/_stats")
    finally:
        client.close()


# --- basic auth and logging ----------------------------------------------------------------------


def test_basic_auth_from_url_is_sent_and_never_logged(
    map_server: MapServer, http: HttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    configure()
    caplog.set_level(logging.INFO, logger=SOURCE_REQUEST)
    source = wms(f"{map_server.auth_url()}/service", http)
    _, header = split_credentials(map_server.auth_url())
    assert header is not None

    source.get_map(MapQuery(EUROPE_3857, (64, 64), srs("EPSG:3857")))

    assert map_server.requests[0].headers["authorization"] == header
    [record] = [r for r in caplog.records if r.name == SOURCE_REQUEST]
    line = record.getMessage()
    assert "method='GET'" in line
    assert f"url='{map_server.url}/secure/service?" in line
    assert "status=200" in line
    assert "size_kb=" in line
    assert "duration_ms=" in line
    for secret in (AUTH_PASSWORD, "p%40ss", header.split()[1], AUTH_USER):
        assert secret not in caplog.text


def test_wrong_password_is_source_error(
    map_server: MapServer, http: HttpClient
) -> None:
    wrong = map_server.auth_url(password="nope")  # noqa: S106 -- a wrong password on purpose
    source = wms(wrong + "/service", http)

    with pytest.raises(SourceError, match="answered HTTP 401") as caught:
        source.get_map(MapQuery(EUROPE_3857, (64, 64), srs("EPSG:3857")))
    assert "nope" not in str(caught.value)


def test_failed_request_is_logged_too(
    http: HttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    configure()
    caplog.set_level(logging.INFO, logger=SOURCE_REQUEST)
    with MapServer() as server:
        url = server.url

    with pytest.raises(SourceError):
        http.get(f"http://user:secret@{url.removeprefix('http://')}/x")

    [record] = [r for r in caplog.records if r.name == SOURCE_REQUEST]
    assert "status='-'" in record.getMessage()
    assert "secret" not in caplog.text


# --- tile source ---------------------------------------------------------------------------------


def tile_query(grid: Grid, coord: TileCoord, fmt: str = "image/png") -> MapQuery:
    return MapQuery(grid.tile_bbox(coord), grid.tile_size, grid.srs, fmt)


@pytest.mark.parametrize(
    ("template", "grid", "origin", "path"),
    [
        ("/tiles/%(z)s/%(x)s/%(y)s.png", WEBMERCATOR, None, "/tiles/3/2/1.png"),
        ("/tiles/%(z)d/%(x)d/%(y)d.%(format)s", MERCATOR, "nw", "/tiles/3/2/1.png"),
        ("/tms/%(tms_path)s.%(format)s", MERCATOR, None, "/tms/3/2/6.png"),
        ("/tms/%(tms_path)s.png", WEBMERCATOR, "sw", "/tms/3/2/6.png"),
        ("/quadkey/%(quadkey)s.png", WEBMERCATOR, None, "/quadkey/012.png"),
    ],
)
def test_tile_source_fills_url_template(
    map_server: MapServer,
    http: HttpClient,
    template: str,
    grid: Grid,
    origin: str | None,
    path: str,
) -> None:
    source = TileSource(
        TileSourceConf(url=map_server.url + template, origin=origin), grid, http
    )
    # row 1 from the top of level 3 is row 6 from the bottom
    coord = TileCoord(2, 1, 3) if grid.origin == "ul" else TileCoord(2, 6, 3)

    image = source.get_map(tile_query(grid, coord))

    assert [r.path for r in map_server.requests] == [path]
    assert_same_image(
        image.data, render(tile_bbox(3, 2, 1, "nw"), (256, 256), "EPSG:3857")
    )
    assert not source.supports_meta_tiles


def test_tile_source_fills_bbox_placeholder(
    map_server: MapServer, http: HttpClient
) -> None:
    template = "/service?REQUEST=GetMap&SRS=EPSG:3857&BBOX=%(bbox)s&WIDTH=256&HEIGHT=256&FORMAT=image/png"
    source = TileSource(
        TileSourceConf(url=map_server.url + template), WEBMERCATOR, http
    )
    coord = TileCoord(5, 3, 4)

    image = source.get_map(tile_query(WEBMERCATOR, coord))

    bbox = WEBMERCATOR.tile_bbox(coord)
    assert map_server.requests[0].params["BBOX"] == ",".join(
        f"{v:.8f}" for v in bbox.as_tuple()
    )
    assert_same_image(image.data, render(bbox.as_tuple(), (256, 256), "EPSG:3857"))


@pytest.mark.parametrize(
    ("template", "url"),
    [
        ("%(tc_path)s.%(format)s", "09/001/234/567/087/654/321.jpeg"),
        ("%(arcgiscache_path)s.png", "L09/R05397fb1/C0012d687.png"),
        ("%(tms_path)s", "9/1234567/87654321"),
        ("%(z)02d-%(x)s-%(y)s", "09-1234567-87654321"),
    ],
)
def test_tile_source_path_placeholders(template: str, url: str) -> None:
    grid = Grid(
        "big",
        srs("EPSG:3857"),
        Bbox(0, 0, 2**30, 2**30),
        res=tuple(2.0 ** (20 - z) for z in range(12)),
    )
    source = TileSource(
        TileSourceConf(url="http://tiles/" + template), grid, HttpClient()
    )

    assert (
        source.tile_url(TileCoord(1234567, 87654321, 9), "image/jpeg")
        == "http://tiles/" + url
    )


def test_tile_source_rejects_invalid_template_and_origin() -> None:
    with pytest.raises(ConfigValueError, match="no valid template"):
        TileSource(TileSourceConf(url="http://t/%(col)s"), WEBMERCATOR, HttpClient())
    with pytest.raises(ConfigValueError, match="origin"):
        TileSource(
            TileSourceConf(url="http://t/%(x)s", origin="middle"),
            WEBMERCATOR,
            HttpClient(),
        )


@pytest.mark.parametrize(
    "query",
    [
        MapQuery(
            Bbox(0, 0, 5009377.08569731, 5009377.08569731), (512, 512), srs("EPSG:3857")
        ),
        MapQuery(
            Bbox(1000, 0, 5010377.08569731, 5009377.08569731),
            (256, 256),
            srs("EPSG:3857"),
        ),
        MapQuery(
            Bbox(0, 0, 5009377.08569731 * 1.5, 5009377.08569731 * 1.5),
            (256, 256),
            srs("EPSG:3857"),
        ),
        MapQuery(Bbox(0, 0, 45, 45), (256, 256), srs("EPSG:4326")),
    ],
    ids=["size", "shifted", "resolution", "srs"],
)
def test_tile_source_answers_only_single_tiles(
    map_server: MapServer, http: HttpClient, query: MapQuery
) -> None:
    source = TileSource(
        TileSourceConf(url=map_server.url + "/tiles/%(z)s/%(x)s/%(y)s.png"),
        WEBMERCATOR,
        http,
    )
    assert source.tile_for(tile_query(WEBMERCATOR, TileCoord(4, 3, 3))) == TileCoord(
        4, 3, 3
    )

    with pytest.raises(SourceError):
        source.get_map(query)
    assert map_server.requests == []


@pytest.mark.parametrize(
    ("fault", "message"),
    [("?fault=garbage", "no image"), ("?fault=html", "no image"), ("x", "HTTP 404")],
)
def test_tile_source_failure_is_source_error(
    map_server: MapServer, http: HttpClient, fault: str, message: str
) -> None:
    source = TileSource(
        TileSourceConf(
            url=map_server.auth_url() + "/tiles/%(z)s/%(x)s/%(y)s.png" + fault
        ),
        WEBMERCATOR,
        http,
    )

    with pytest.raises(SourceError, match=message) as caught:
        source.get_map(tile_query(WEBMERCATOR, TileCoord(0, 0, 1)))
    assert "word" not in str(caught.value)


# --- debug source --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mode"), [("image/png", "RGBA"), ("image/jpeg", "RGB")]
)
def test_debug_source_draws_on_image_of_query_size(fmt: str, mode: str) -> None:
    image = DebugSource().get_map(
        MapQuery(Bbox(0, 0, 1000, 500), (200, 100), srs("EPSG:3857"), fmt)
    )

    with Image.open(io.BytesIO(image.data)) as img:
        assert (img.size, img.mode, image.format) == ((200, 100), mode, fmt)
        colors = img.convert("RGBA").getcolors(100000)
    assert colors is not None
    assert len(colors) > 2  # background, frame and text


# --- concurrent_requests -------------------------------------------------------------------------

_WORKER = textwrap.dedent(
    """
    import sys
    from adapters.http_client import HttpClient
    from domain.config import HttpConf
    url, lock_dir, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = HttpClient(HttpConf(), lock_dir=lock_dir)
    for _ in range(4):
        assert client.get(url, concurrent_requests=limit).status == 200
    client.close()
    """
)


def run_workers(url: str, lock_dir: Path, limit: int) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, url, str(lock_dir), str(limit)], cwd=REPO
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.wait(timeout=30) == 0


@pytest.mark.parametrize(("limit", "max_in_flight"), [(1, 1), (0, 2)])
def test_concurrent_requests_limit_holds_across_processes(
    map_server: MapServer, tmp_path: Path, limit: int, max_in_flight: int
) -> None:
    run_workers(f"{map_server.url}/tiles/0/0/0.png?delay=0.2", tmp_path, limit)

    assert map_server.counts["/tiles/0/0/0.png"] == 8
    assert map_server.max_in_flight == max_in_flight


def test_host_semaphore_wait_is_bounded(tmp_path: Path) -> None:
    semaphore = HostSemaphore(tmp_path, "example.org:80", 1)
    with semaphore.acquire(1):
        assert (tmp_path / "http-example.org_80-0.lck").exists()
        start = time.monotonic()
        with (
            pytest.raises(LockTimeoutError, match="no free request slot"),
            semaphore.acquire(0.2),
        ):
            pass
        assert time.monotonic() - start < 1
    with semaphore.acquire(0.2):
        pass


def test_wms_sends_its_own_code_for_an_alias_of_the_cache_srs(
    map_server: MapServer, http: HttpClient
) -> None:
    source = wms(f"{map_server.url}/service", http, supported_srs=("EPSG:3857",))

    source.get_map(MapQuery(EUROPE_3857, (64, 64), srs("EPSG:900913")))

    assert map_server.requests[0].params["SRS"] == "EPSG:3857"
