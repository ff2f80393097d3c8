"""The last of MapProxy's documented keys: grid `align_resolutions_with`, the WMTS legend URLs,
`nominal_scale`/`nominal_res`, and `globals.srs` (axis order, preferred source SRS, PROJ data),
loaded from configuration and, where requests matter, against the real local map server."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyproj.datadir
import pytest

from adapters.config import parse_config
from domain.errors import ConfigError
from domain.srs import SrsSettings, configure_srs
from entrypoints.bootstrap import bootstrap
from tests.integration.test_app import get, make_app
from tests.mapserver import MapServer

WMTS = "{http://www.opengis.net/wmts/1.0}"
XLINK = "{http://www.w3.org/1999/xlink}href"
LOCAL = {"srs": "EPSG:3857", "bbox": [5, 45, 15, 55], "bbox_srs": "EPSG:4326"}


@pytest.fixture(autouse=True)
def _default_srs_settings() -> Iterator[None]:
    # globals.srs is process-wide: leave the defaults to the next test.
    yield
    configure_srs(SrsSettings())


def grids_conf(**grids: dict[str, Any]) -> dict[str, Any]:
    return {
        "grids": grids,
        "caches": {"c": {"grids": list(grids), "sources": []}},
        "layers": [{"name": "l", "title": "L", "sources": ["c"]}],
    }


def load(conf: dict[str, Any], tmp_path: Path) -> Any:
    path = tmp_path / "mapproxy.yaml"
    return bootstrap(parse_config(conf, str(path)), path)


def test_aligned_grid_takes_the_other_grids_resolutions_as_mapproxy(
    tmp_path: Path,
) -> None:
    state = load(
        grids_conf(
            local={
                **LOCAL,
                "align_resolutions_with": "GLOBAL_WEBMERCATOR",
                "num_levels": 4,
            },
            local2={
                **LOCAL,
                "align_resolutions_with": "GLOBAL_WEBMERCATOR",
                "res_factor": "sqrt2",
                "max_res": 1000,
            },
        ),
        tmp_path,
    )
    # The figures MapProxy 7's `mapproxy-util grids` prints for the same grids.
    assert state.grids["local"].res == pytest.approx(
        (4891.96981025128, 2445.98490512564, 1222.99245256282, 611.49622628141)
    )
    assert state.grids["local2"].res == pytest.approx(
        (
            *(4891.96981025128, 3459.1450261885484, 2445.98490512564),
            *(1729.5725130942742, 1222.99245256282, 864.7862565471371),
        )
    )


def test_factor_two_grid_aligned_with_a_sqrt2_grid_keeps_every_second_level(
    tmp_path: Path,
) -> None:
    state = load(
        grids_conf(
            fine={"base": "GLOBAL_WEBMERCATOR", "res_factor": "sqrt2"},
            coarse={"base": "GLOBAL_WEBMERCATOR", "align_resolutions_with": "fine"},
        ),
        tmp_path,
    )
    assert state.grids["coarse"].res == state.grids["fine"].res[::2]
    assert state.grids["coarse"].res[:3] == pytest.approx(
        state.grids["GLOBAL_WEBMERCATOR"].res[:3]
    )


@pytest.mark.parametrize(
    ("grids", "message"),
    [
        (
            {"a": {**LOCAL, "align_resolutions_with": "nope"}},
            "grid 'a': unknown grid 'nope' in align_resolutions_with @ $.grids['a']",
        ),
        (
            {
                "a": {**LOCAL, "align_resolutions_with": "b"},
                "b": {**LOCAL, "align_resolutions_with": "a"},
            },
            "align_resolutions_with forms a cycle: a -> b -> a @ $.grids['a']",
        ),
        (
            {
                "a": {
                    **LOCAL,
                    "align_resolutions_with": "GLOBAL_WEBMERCATOR",
                    "res": [10, 5],
                }
            },
            "res cannot be combined with align_resolutions_with @ $.grids['a']",
        ),
        (
            {
                "a": {
                    **LOCAL,
                    "align_resolutions_with": "GLOBAL_WEBMERCATOR",
                    "max_res": 1e9,
                }
            },
            "no resolution of 'GLOBAL_WEBMERCATOR' lies between min_res and max_res",
        ),
        (
            {"a": {**LOCAL, "align_resolutions_with": ["GLOBAL_WEBMERCATOR"]}},
            "@ $.grids['a'].align_resolutions_with",
        ),
    ],
)
def test_bad_alignment_is_a_config_error_naming_the_grid(
    tmp_path: Path, grids: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load(grids_conf(**grids), tmp_path)
    assert any(message in p for p in err.value.problems), err.value.problems


def wmts_conf(server: MapServer, tmp_path: Path, **layer: Any) -> dict[str, Any]:
    return {
        "services": {"wmts": {}, "wms": {"versions": ["1.1.1", "1.3.0"]}},
        "globals": {"cache": {"base_dir": str(tmp_path / "cache")}},
        "sources": {
            "s": {"type": "wms", "req": {"url": f"{server.url}/service", "layers": "a"}}
        },
        "caches": {"c": {"grids": ["GLOBAL_WEBMERCATOR"], "sources": ["s"]}},
        "layers": [{"name": "roads", "title": "Roads", "sources": ["c"], **layer}],
    }


def legend_hrefs(app: Any) -> tuple[list[str | None], list[str | None]]:
    found = []
    for path, query in (
        ("/service", "SERVICE=WMTS&REQUEST=GetCapabilities"),
        ("/wmts/1.0.0/WMTSCapabilities.xml", ""),
    ):
        status, _, body = get(app, path, query)
        assert status == 200
        root = ET.fromstring(body)  # noqa: S314 - our own answer
        found.append(
            [
                legend.get(XLINK)
                for legend in root.iter(f"{WMTS}LegendURL")
                if legend.get("format") == "image/png"
            ]
        )
    return found[0], found[1]


def test_wmts_capabilities_carry_the_layers_legend_url_templates(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(
        tmp_path,
        wmts_conf(
            map_server,
            tmp_path,
            wmts_kvp_legendurl="{base_url}/legends/{layer_name}.png?a=1&b=2",
            wmts_rest_legendurl="http://static.example/{layer_name}.png",
        ),
    )
    kvp, rest = legend_hrefs(app)
    assert kvp == ["http://localhost:80/legends/roads.png?a=1&b=2"]
    assert rest == ["http://static.example/roads.png"]


def test_a_layer_with_legendurl_gets_the_wms_legend_in_wmts_by_default(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = wmts_conf(
        map_server, tmp_path, legendurl="http://static.example/roads-legend.png"
    )
    kvp, rest = legend_hrefs(make_app(tmp_path, conf))
    wms_legend = (
        "http://localhost:80/service?service=WMS&request=GetLegendGraphic"
        "&version=1.3.0&format=image%2Fpng&layer=roads"
    )
    assert kvp == rest == [wms_legend]
    no_legend = wmts_conf(map_server, tmp_path)
    assert legend_hrefs(make_app(tmp_path, no_legend)) == ([], [])
    del conf["services"]["wms"]
    assert legend_hrefs(make_app(tmp_path, conf)) == ([], [])


def test_nominal_scale_loads_without_warning_and_is_checked(
    tmp_path: Path, map_server: MapServer
) -> None:
    conf = wmts_conf(map_server, tmp_path, nominal_scale=25000, nominal_res=7.0)
    loaded = parse_config(conf, "mapproxy.yaml")
    assert loaded.warnings == ()
    assert loaded.conf.layers[0].nominal_scale == 25000
    bad = wmts_conf(map_server, tmp_path, nominal_scale="large")
    with pytest.raises(ConfigError) as err:
        parse_config(bad, "mapproxy.yaml")
    assert any("$.layers[0].nominal_scale" in p for p in err.value.problems)


def direct_wms_conf(server: MapServer, **srs: Any) -> dict[str, Any]:
    return {
        "services": {"wms": {"srs": ["EPSG:4326", "EPSG:3857"]}},
        "globals": {"srs": srs},
        "sources": {
            "s": {
                "type": "wms",
                "supported_srs": ["EPSG:25832", "EPSG:4326"],
                "req": {"url": f"{server.url}/service", "layers": "a"},
            }
        },
        "layers": [{"name": "l", "title": "L", "sources": ["s"]}],
    }


def getmap(app: Any, crs: str, bbox: str) -> None:
    query = (
        "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=l&STYLES=&FORMAT=image/png"
        f"&CRS={crs}&BBOX={bbox}&WIDTH=64&HEIGHT=64"
    )
    status, headers, _ = get(app, "/service", query)
    assert status == 200
    assert headers["Content-Type"] == "image/png"


def test_axis_order_en_reads_a_wms130_bbox_in_lon_lat(
    tmp_path: Path, map_server: MapServer
) -> None:
    getmap(make_app(tmp_path, direct_wms_conf(map_server)), "EPSG:4326", "45,5,55,15")
    app = make_app(tmp_path, direct_wms_conf(map_server, axis_order_en=["EPSG:4326"]))
    getmap(app, "EPSG:4326", "5,45,15,55")
    asked = [r.params for r in map_server.requests]
    # The source (WMS 1.1.1) is asked in lon/lat both times: the same area.
    bboxes = [tuple(map(float, p["BBOX"].split(","))) for p in asked]
    assert bboxes == [(5, 45, 15, 55), (5, 45, 15, 55)]
    assert [p["SRS"] for p in asked] == ["EPSG:4326", "EPSG:4326"]


def test_axis_order_ne_flips_a_projected_srs_in_wms130(
    tmp_path: Path, map_server: MapServer
) -> None:
    app = make_app(tmp_path, direct_wms_conf(map_server, axis_order_ne=["EPSG:3857"]))
    getmap(app, "EPSG:3857", "6000000,1000000,6100000,1100000")
    (asked,) = [r.params for r in map_server.requests]
    # EPSG:3857 is not served: asked in EPSG:25832 over the area of x 1e6..1.1e6, y 6e6..6.1e6.
    assert asked["SRS"] == "EPSG:25832"
    minx, miny, maxx, maxy = map(float, asked["BBOX"].split(","))
    lon, lat = pyproj.Transformer.from_crs(
        "EPSG:25832", "EPSG:4326", always_xy=True
    ).transform((minx + maxx) / 2, (miny + maxy) / 2)
    assert 9 < lon < 10
    assert 47 < lat < 48


def test_preferred_src_proj_picks_the_source_srs(
    tmp_path: Path, map_server: MapServer
) -> None:
    bbox = "1000000,6000000,1100000,6100000"
    app = make_app(tmp_path, direct_wms_conf(map_server))
    getmap(app, "EPSG:3857", bbox)
    preferred = {"preferred_src_proj": {"EPSG:3857": ["EPSG:31467", "EPSG:4326"]}}
    getmap(
        make_app(tmp_path, direct_wms_conf(map_server, **preferred)), "EPSG:3857", bbox
    )
    # Without a preference the first served projected SRS; with one, the first served of it.
    assert [r.params["SRS"] for r in map_server.requests] == ["EPSG:25832", "EPSG:4326"]


@pytest.mark.parametrize(
    ("srs", "where"),
    [
        ({"axis_order_ne": ["EPSG:99999"]}, "$.globals.srs.axis_order_ne[0]"),
        ({"axis_order_en": ["EPSG:4326", "nope"]}, "$.globals.srs.axis_order_en[1]"),
        (
            {"preferred_src_proj": {"EPSG:3857": ["EPSG:4326", "x"]}},
            "$.globals.srs.preferred_src_proj['EPSG:3857'][1]",
        ),
        (
            {"preferred_src_proj": {"EPSG:0": ["EPSG:4326"]}},
            "$.globals.srs.preferred_src_proj['EPSG:0']",
        ),
        ({"axis_order_ne": "EPSG:4326x"}, "$.globals.srs.axis_order_ne"),
        ({"proj_datadir": "x"}, "$.globals.srs"),
    ],
)
def test_bad_srs_globals_name_their_key_path(
    srs: dict[str, Any], where: str, map_server: MapServer
) -> None:
    conf = direct_wms_conf(map_server, **srs)
    try:
        loaded = parse_config(conf, "mapproxy.yaml")
    except ConfigError as err:
        problems = list(err.problems)
    else:
        problems = list(loaded.warnings)
    assert any(p.endswith(f"@ {where}") for p in problems), problems


@pytest.fixture
def proj_dirs() -> Iterator[None]:
    before = pyproj.datadir.get_data_dir()
    yield
    pyproj.datadir.set_data_dir(before)


@pytest.mark.usefixtures("proj_dirs")
def test_proj_data_dir_is_searched_relative_to_the_config(
    tmp_path: Path, map_server: MapServer
) -> None:
    (tmp_path / "proj").mkdir()
    conf = direct_wms_conf(map_server, proj_data_dir="proj")
    load(copy.deepcopy(conf), tmp_path)
    assert str(tmp_path / "proj") in pyproj.datadir.get_data_dir().split(":")
    # PROJ's own database is still found: SRS still resolve.
    assert pyproj.CRS.from_user_input("EPSG:25832").name.startswith("ETRS89")
    conf["globals"]["srs"]["proj_data_dir"] = "missing"
    with pytest.raises(ConfigError) as err:
        load(conf, tmp_path)
    assert err.value.problems == [
        f"no such directory {str(tmp_path / 'missing')!r} @ $.globals.srs.proj_data_dir"
    ]
