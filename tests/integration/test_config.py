"""The YAML configuration adapter against real files: structuring, warnings, errors, `base:`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from adapters.config import LoadedConfig, load_config, parse_config
from domain.config import (
    CacheConf,
    DebugSourceConf,
    DemoServiceConf,
    FileCacheBackendConf,
    GeoJSONSourceConf,
    LayerConf,
    OGCAPIServiceConf,
    TileSourceConf,
    TMSServiceConf,
    WMSAttributionConf,
    WMSSourceConf,
)
from domain.errors import ConfigError

MINIMAL = """
services:
  demo:
sources:
  s: {type: debug}
caches:
  c: {sources: [s]}
layers:
  - name: l
    title: L
    sources: [c]
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> LoadedConfig:
    return load_config(write(tmp_path, "mapproxy.yaml", text))


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert info.value.source == str(tmp_path / "mapproxy.yaml")
    return info.value.problems


REALISTIC = """
# A typical MapProxy deployment: WMS and XYZ upstreams, two projections.
services:
  demo:
  tms:
    use_grid_names: true
    origin: nw
  wmts:
    restful: true
    kvp: false
    md:
      title: Example tiles
  wms:
    srs: ['EPSG:3857', 'EPSG:25832']
    md:
      title: Example WMS

parts:
  http: &http
    client_timeout: 30
    headers:
      User-Agent: tilegate-test

layers:
  - name: base
    title: Base maps
    layers:
      - name: osm
        title: OpenStreetMap
        sources: [osm_cache]
        legendurl: http://example.org/legend.png
      - name: topo
        title: Topographic map
        sources: [topo_cache]
  - name: overlay
    title: Overlay
    sources: [overlay_cache]
    md:
      abstract: Roads and rivers
      keyword_list:
        - vocabulary: GEMET
          keywords: [roads, rivers]

caches:
  osm_cache:
    grids: [GLOBAL_WEBMERCATOR, utm32]
    sources: [osm_tiles]
    format: image/png
    cache:
      type: file
      directory_layout: tms
  topo_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [topo_wms]
    format: image/jpeg
    request_format: image/png
    meta_size: [2, 2]
    meta_buffer: 20
    cache_dir: /var/cache/topo
  overlay_cache:
    grids: [utm32_fine]
    sources: [overlay_wms, drawing]
    link_single_color_images: true
    disable_storage: false

sources:
  osm_tiles:
    type: tile
    url: https://tile.example.org/%(z)s/%(x)s/%(y)s.png
    grid: GLOBAL_WEBMERCATOR
    http: *http
    coverage:
      bbox: 5.5,47.2,15.5,55.1
      srs: 'EPSG:4326'
  topo_wms:
    type: wms
    req:
      url: https://wms.example.org/service?
      layers: topo,labels
      transparent: true
    supported_srs: ['EPSG:3857', 'EPSG:25832']
    concurrent_requests: 4
    wms_opts:
      version: 1.3.0
    http: *http
    min_res: 0.5
  overlay_wms:
    type: wms
    req:
      url: https://wms.example.org/overlay?
      layers: roads
    coverage:
      union:
        - bbox: [5, 47, 10, 55]
          srs: 'EPSG:4326'
        - polygons: areas.geojson
          polygons_srs: 'EPSG:4326'
  drawing:
    type: debug
  countries:
    type: geojson
    file: data/countries.geojson

grids:
  utm32:
    srs: 'EPSG:25832'
    bbox: [280000, 5200000, 920000, 6110000]
    origin: nw
    res: [2000, 1000, 500, 250, 125, 62.5, 31.25]
  utm32_fine:
    srs: 'EPSG:25832'
    bbox: [5.5, 47.2, 15.5, 55.1]
    bbox_srs: 'EPSG:4326'
    res_factor: sqrt2
    num_levels: 12
    tile_size: [512, 512]
  utm32_hidpi:
    base: utm32
    tile_size: [512, 512]

globals:
  cache:
    base_dir: ./tiles
    lock_dir: ./tiles/locks
    meta_size: [6, 6]
    meta_buffer: 100
  image:
    resampling_method: bilinear
    paletted: false
  http:
    client_timeout: 20
    ssl_no_cert_checks: true
  tiles:
    expires_hours: 24
"""


def test_a_realistic_mapproxy_config_loads(tmp_path: Path) -> None:
    loaded = load(tmp_path, REALISTIC)
    conf = loaded.conf
    assert loaded.files == (tmp_path / "mapproxy.yaml",)
    assert loaded.warnings == ()
    assert conf.layers[0].layers[0].legendurl == "http://example.org/legend.png"
    assert conf.services.demo == DemoServiceConf()
    assert conf.services.tms == TMSServiceConf(use_grid_names=True, origin="nw")
    assert conf.services.wmts is not None
    assert conf.services.wmts.kvp is False
    assert [layer.name for layer in conf.layers] == ["base", "overlay"]
    assert [layer.name for layer in conf.layers[0].layers] == ["osm", "topo"]
    assert conf.layers[1].md == {
        "abstract": "Roads and rivers",
        "keyword_list": [{"vocabulary": "GEMET", "keywords": ["roads", "rivers"]}],
    }
    assert conf.caches["osm_cache"].grids == ("GLOBAL_WEBMERCATOR", "utm32")
    assert conf.caches["osm_cache"].cache == FileCacheBackendConf(
        directory_layout="tms"
    )
    assert conf.caches["topo_cache"].meta_size == (2, 2)
    assert conf.caches["overlay_cache"].sources == ("overlay_wms", "drawing")
    osm = conf.sources["osm_tiles"]
    assert isinstance(osm, TileSourceConf)
    assert osm.http is not None
    assert osm.http.headers == {"User-Agent": "tilegate-test"}
    assert osm.coverage is not None
    assert osm.coverage.bbox == (5.5, 47.2, 15.5, 55.1)
    topo = conf.sources["topo_wms"]
    assert isinstance(topo, WMSSourceConf)
    assert topo.req == {
        "url": "https://wms.example.org/service?",
        "layers": "topo,labels",
        "transparent": True,
    }
    assert topo.supported_srs == ("EPSG:3857", "EPSG:25832")
    assert topo.wms_opts == {"version": "1.3.0"}
    assert isinstance(conf.sources["drawing"], DebugSourceConf)
    assert conf.sources["countries"] == GeoJSONSourceConf(file="data/countries.geojson")
    assert conf.grids["utm32"].res == (2000, 1000, 500, 250, 125, 62.5, 31.25)
    assert conf.grids["utm32_fine"].res_factor == "sqrt2"
    assert conf.grids["utm32_fine"].tile_size == (512, 512)
    assert conf.grids["utm32_hidpi"].base == "utm32"
    assert conf.globals.cache.meta_size == (6, 6)
    assert conf.globals.image.resampling_method == "bilinear"
    assert conf.globals.http.ssl_no_cert_checks is True
    assert conf.globals.tiles.expires_hours == 24


def test_defaults_are_mapproxys(tmp_path: Path) -> None:
    conf = load(tmp_path, MINIMAL).conf
    assert conf.caches["c"] == CacheConf(sources=("s",))
    assert conf.caches["c"].grids == ("GLOBAL_MERCATOR",)
    assert conf.caches["c"].cache.type == "file"
    assert conf.globals.cache.meta_size == (4, 4)
    assert conf.globals.cache.meta_buffer == 80
    assert conf.globals.cache.base_dir == "./cache_data"
    assert conf.globals.tiles.expires_hours == 72
    assert conf.globals.image.resampling_method == "bicubic"
    assert conf.globals.cache.max_tile_limit == 500
    assert conf.globals.cache.concurrent_tile_creators == 2


def test_relative_paths_are_kept_as_written(tmp_path: Path) -> None:
    conf = load(
        tmp_path,
        MINIMAL
        + """
        globals:
          cache: {base_dir: ../tiles, lock_dir: locks}
        """.replace("\n        ", "\n"),
    ).conf
    assert conf.globals.cache.base_dir == "../tiles"
    assert conf.globals.cache.lock_dir == "locks"


# Services


def test_a_service_with_no_options_is_on_and_an_absent_one_is_off(
    tmp_path: Path,
) -> None:
    conf = load(tmp_path, "services:\n  demo:\n  tms:\n").conf
    assert conf.services.demo == DemoServiceConf()
    assert conf.services.tms == TMSServiceConf()
    assert conf.services.wmts is None


def test_every_mapproxy_service_loads_without_warnings(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        "services:\n  ogcapi:\n  wms:\n    srs: ['EPSG:4326']\n"
        "    attribution: {text: x}\n  tms:\n",
    )
    assert loaded.warnings == ()
    assert loaded.conf.services.ogcapi == OGCAPIServiceConf()
    assert loaded.conf.services.wms is not None
    assert loaded.conf.services.wms.srs == ("EPSG:4326",)
    assert loaded.conf.services.wms.attribution == WMSAttributionConf(text="x")
    assert loaded.conf.services.tms == TMSServiceConf()


# Unknown keys


def test_unknown_keys_are_warnings_with_their_key_path(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        """
        grids:
          utm: {srs: 'EPSG:25832', bbox: [0, 0, 1000, 1000], tile_sise: [256, 256]}
        sources:
          a: {type: debug, colour: red}
        layers:
          - name: l
            title: L
            layers:
              - {name: m, title: M, style: x}
        colour: blue
        """,
    )
    assert loaded.warnings == (
        "extra fields found (style) @ $.layers[0].layers[0]",
        "extra fields found (colour) @ $.sources['a']",
        "extra fields found (tile_sise) @ $.grids['utm']",
        "extra fields found (colour) @ $",
    )
    assert loaded.conf.grids["utm"].tile_size is None
    assert loaded.conf.layers[0].layers[0] == LayerConf(name="m", title="M")


def test_parts_is_free_space_for_anchors(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        """
        parts:
          anything: {goes: here}
          layers: &sources [s]
        sources:
          s: {type: debug}
        layers:
          - {name: l, title: L, sources: *sources}
        """,
    )
    assert loaded.warnings == ()
    assert loaded.conf.layers[0].sources == ("s",)


# Errors while structuring


def test_structuring_errors_end_in_their_key_paths(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        sources:
          a: {type: wmts}
          b: {type: wms}
          c: {type: wms, req: {layers: a}}
          d: {url: 'http://x/'}
        grids:
          utm: {srs: 'EPSG:25832', res: [1000, abc]}
        """,
    ) == [
        "unknown source type 'wmts', expected one of wms, tile, debug, geojson, arcgis, mapserver, mapnik, ogcapitiles, ogcapimaps @ $.sources['a']",
        "required field missing @ $.sources['b'].req",
        "req.url is required for a wms source @ $.sources['c']",
        "source type missing, expected one of wms, tile, debug, geojson, arcgis, mapserver, mapnik, ogcapitiles, ogcapimaps @ $.sources['d']",
        "invalid value for type, expected float @ $.grids['utm'].res[1]",
    ]


def test_values_are_checked_strictly(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        sources:
          t: {type: tile, url: 'http://x/', transparent: 'yes please', concurrent_requests: 2.5}
        caches:
          c: {sources: s, meta_size: [4, 4, 2], cache: {directory_layout: flat}}
          d: {meta_buffer: -1}
        layers:
          - {name: l, title: [a]}
        """,
    ) == [
        "invalid value for type, expected str @ $.layers[0].title",
        "expected a list, got a string @ $.caches['c'].sources",
        "expected a list of 2 values, got [4, 4, 2] @ $.caches['c'].meta_size",
        "invalid value 'flat', expected one of tc, mp, tms, reverse_tms, quadkey, arcgis @ $.caches['c'].cache.directory_layout",
        "meta_buffer must not be negative, got -1 @ $.caches['d']",
        "invalid value for type, expected bool @ $.sources['t'].transparent",
        "invalid value for type, expected int @ $.sources['t'].concurrent_requests",
    ]


def test_bbox_is_a_list_or_a_comma_separated_string(tmp_path: Path) -> None:
    conf = load(
        tmp_path,
        """
        grids:
          a: {srs: 'EPSG:25832', bbox: [1, 2, 300, 400]}
          b: {srs: 'EPSG:25832', bbox: '1, 2,300.5 ,400'}
        """,
    ).conf
    assert conf.grids["a"].bbox == (1, 2, 300, 400)
    assert conf.grids["b"].bbox == (1, 2, 300.5, 400)
    assert problems(
        tmp_path, "grids:\n  a: {bbox: '1,2,3'}\n  b: {bbox: '1,x,3,4'}\n"
    ) == [
        "expected a list of 4 values, got ['1', '2', '3'] @ $.grids['a'].bbox",
        "invalid value for type, expected float @ $.grids['b'].bbox[1]",
    ]


def test_res_factor_is_a_number_or_sqrt2(tmp_path: Path) -> None:
    conf = load(
        tmp_path, "grids:\n  a: {res_factor: sqrt2}\n  b: {res_factor: 1.5}\n"
    ).conf
    assert conf.grids["a"].res_factor == "sqrt2"
    assert conf.grids["b"].res_factor == 1.5
    assert problems(tmp_path, "grids:\n  a: {res_factor: sqrt3}\n") == [
        "expected a number or 'sqrt2', got 'sqrt3' @ $.grids['a'].res_factor"
    ]


def test_pairs_are_checked(tmp_path: Path) -> None:
    assert problems(tmp_path, "grids:\n  a: {tile_size: [256, 0]}\n") == [
        "tile_size must be two positive numbers, got [256, 0] @ $.grids['a']"
    ]


# Options MapProxy has and Tilegate not yet


def test_unsupported_options_that_would_change_the_data_are_errors(
    tmp_path: Path,
) -> None:
    assert problems(
        tmp_path,
        """
        sources:
          w: {type: wms, req: {url: 'http://x/', layers: a}}
        caches:
          c: {sources: [w], cache: {type: riak}}
          d: {sources: {r: [{source: w, band: 0}]}}
        layers:
          - {name: l, title: L, sources: [c]}
        """,
    ) == [
        "cache type 'riak' is left out: MapProxy 7 dropped it too @ $.caches['c'].cache",
    ]


def test_unsupported_options_that_can_be_ignored_are_warnings(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        """
        sources:
          w:
            type: wms
            req: {url: 'http://x/', layers: a}
            on_error: {500: {response: transparent}}
        caches:
          c: {sources: [w]}
        layers:
          - {name: l, title: L, sources: [c], legendurl: 'http://x/l.png'}
        globals:
          renderd: {address: 'localhost:8080'}
        """,
    )
    assert loaded.warnings == (
        "renderd is ignored: tiles are rendered by Tilegate itself @ $.globals.renderd",
    )


# Layers


def test_layers_in_the_older_dict_form(tmp_path: Path) -> None:
    conf = load(
        tmp_path,
        """
        sources:
          s: {type: debug}
        layers:
          osm: {title: OSM, sources: [s]}
          topo:
            title: Topo
            sources: [s]
        """,
    ).conf
    assert conf.layers == (
        LayerConf(name="osm", title="OSM", sources=("s",)),
        LayerConf(name="topo", title="Topo", sources=("s",)),
    )
    assert problems(tmp_path, "layers:\n  osm: {title: OSM, sources: [nope]}\n") == [
        "unknown source or cache 'nope' @ $.layers['osm'].sources[0]"
    ]


# Cross references


def test_names_that_point_nowhere_are_errors(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        sources:
          s: {type: debug}
          t: {type: tile, url: 'http://x/', grid: nogrid}
        caches:
          c: {sources: [s, missing], grids: [GLOBAL_GEODETIC, utm]}
          d: {sources: [s]}
        layers:
          - name: group
            title: G
            layers:
              - {name: l, title: L, sources: [d, gone]}
        """,
    ) == [
        "unknown source or cache 'missing' @ $.caches['c'].sources[1]",
        "unknown grid 'utm' @ $.caches['c'].grids[1]",
        "unknown grid 'nogrid' @ $.sources['t'].grid",
        "unknown source or cache 'gone' @ $.layers[0].layers[0].sources[1]",
    ]


def test_caches_that_feed_each_other_in_a_circle_are_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path, "caches:\n  a: {sources: [b]}\n  b: {sources: [a]}\n")
    assert "caches form a cycle: a -> b -> a @ $.caches['b'].sources[0]" in found


def test_caches_from_caches_and_sources_needing_reprojection_load(
    tmp_path: Path,
) -> None:
    assert problems(
        tmp_path,
        """
        sources:
          w: {type: wms, req: {url: 'http://x/', layers: a}, supported_srs: ['EPSG:4326']}
          m: {type: wms, req: {url: 'http://x/', layers: a}, supported_srs: ['EPSG:3857']}
          bad: {type: wms, req: {url: 'http://x/', layers: a}, supported_srs: ['EPSG:3857', 'EPSG:0']}
        caches:
          base: {sources: [m], grids: [GLOBAL_MERCATOR]}
          on_top: {sources: [base], grids: [GLOBAL_GEODETIC]}
          projected: {sources: [w], grids: [GLOBAL_GEODETIC, GLOBAL_WEBMERCATOR]}
          shared: {sources: [m], grids: [GLOBAL_MERCATOR, GLOBAL_WEBMERCATOR], cache: {directory: /x}}
        """,
    ) == [
        "one directory cannot hold several grids @ $.caches['shared'].cache.directory",
        "unknown SRS 'EPSG:0' @ $.sources['bad'].supported_srs[1]",
    ]


def test_grids_that_cannot_be_built_are_errors(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        grids:
          bad_srs: {srs: 'EPSG:999999'}
          no_bbox: {srs: 'EPSG:25832'}
          orphan: {base: nothing}
        """,
    ) == [
        "grid 'bad_srs': unknown SRS 'EPSG:999999' @ $.grids['bad_srs']",
        "grid 'no_bbox': a grid in EPSG:25832 needs a bbox @ $.grids['no_bbox']",
        "grid 'orphan': unknown base grid 'nothing' @ $.grids['orphan']",
    ]


# Files


def test_yaml_syntax_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", "services:\n  demo:\n layers: [\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.source == str(path)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("invalid YAML at line 3, column 2: ")


def test_a_file_that_is_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    assert problems(tmp_path, "- a\n- b\n") == [
        "expected a mapping of configuration sections, got a list @ $"
    ]


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert info.value.problems == ["file not found"]
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: file not found"


def test_parse_config_takes_an_already_loaded_mapping() -> None:
    loaded = parse_config({"sources": {"s": {"type": "debug"}}}, "inline")
    assert loaded.conf.sources == {"s": DebugSourceConf()}
    assert loaded.files == ()
    with pytest.raises(ConfigError) as info:
        parse_config(["x"], "inline")
    assert (
        str(info.value)
        == "inline: expected a mapping of configuration sections, got list @ $"
    )


# base: includes


def test_base_files_are_merged_under_the_including_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "conf/base.yaml",
        """
        base: common.yaml
        sources:
          s1: {type: debug}
          w: {type: wms, req: {url: 'http://x/', layers: a}, supported_srs: ['EPSG:4326']}
        caches:
          c: {sources: [s1], grids: [GLOBAL_GEODETIC], meta_size: [4, 4], format: image/jpeg}
        grids:
          g: {srs: 'EPSG:4326', bbox: [0, 0, 10, 10], res: [1, 0.5, 0.25]}
        layers:
          - name: a
            title: A
            layers:
              - {name: a1, title: A1, sources: [c]}
              - {name: a2, title: A2, sources: [c]}
          - {name: b, title: B, sources: [c]}
        globals:
          cache: {base_dir: from_base, lock_dir: locks}
        """,
    )
    write(
        tmp_path,
        "conf/common.yaml",
        "globals:\n  image: {paletted: false}\n  cache: {base_dir: from_common}\n",
    )
    main = write(
        tmp_path,
        "mapproxy.yaml",
        """
        base: conf/base.yaml
        sources:
          s2: {type: debug}
          w: {type: wms, supported_srs: ['EPSG:3857']}
        caches:
          c: {sources: [s2], meta_size: [2, 2]}
        grids:
          g: {res: [2, 1]}
        layers:
          - name: a
            layers:
              - {name: a1, title: A1 new}
              - {name: a3, title: A3, sources: [c]}
          - {name: z, title: Z, sources: [c]}
        globals:
          cache: {base_dir: from_main}
        """,
    )
    loaded = load_config(main)
    conf = loaded.conf
    assert loaded.files == (
        main,
        tmp_path / "conf/base.yaml",
        tmp_path / "conf/common.yaml",
    )
    assert set(conf.sources) == {"s1", "s2", "w"}
    w = conf.sources["w"]
    assert isinstance(w, WMSSourceConf)
    assert w.supported_srs == ("EPSG:4326", "EPSG:3857")  # lists are appended
    assert conf.caches[
        "c"
    ] == CacheConf(  # sources, meta_size replaced; format inherited
        sources=("s2",),
        grids=("GLOBAL_GEODETIC",),
        meta_size=(2, 2),
        format="image/jpeg",
    )
    assert conf.grids["g"].res == (2, 1)
    assert conf.grids["g"].bbox == (0, 0, 10, 10)
    assert conf.globals.cache.base_dir == "from_main"
    assert conf.globals.cache.lock_dir == "locks"
    assert conf.globals.image.paletted is False
    assert [layer.name for layer in conf.layers] == ["a", "b", "z"]
    assert conf.layers[0].title == "A"
    assert conf.layers[0].layers == (
        LayerConf(name="a1", title="A1 new", sources=("c",)),
        LayerConf(name="a2", title="A2", sources=("c",)),
        LayerConf(name="a3", title="A3", sources=("c",)),
    )


def test_the_first_of_several_base_files_wins(tmp_path: Path) -> None:
    write(tmp_path, "one.yaml", "globals:\n  cache: {base_dir: one}\n")
    write(
        tmp_path,
        "two.yaml",
        "globals:\n  cache: {base_dir: two, lock_dir: two_locks}\n",
    )
    conf = load(tmp_path, "base: [one.yaml, two.yaml]\n").conf
    assert conf.globals.cache.base_dir == "one"
    assert conf.globals.cache.lock_dir == "two_locks"


def test_an_empty_list_clears_the_inherited_one(tmp_path: Path) -> None:
    write(
        tmp_path,
        "base.yaml",
        """
        sources:
          w: {type: wms, req: {url: 'http://x/', layers: a}, supported_srs: ['EPSG:4326']}
        caches:
          c: {sources: [w], grids: [GLOBAL_GEODETIC]}
        """,
    )
    conf = load(
        tmp_path,
        "base: base.yaml\nsources:\n  w: {supported_srs: []}\ncaches:\n  c: {sources: [], grids: []}\n",
    ).conf
    w = conf.sources["w"]
    assert isinstance(w, WMSSourceConf)
    assert w.supported_srs == ()
    assert conf.caches["c"].sources == ()
    assert conf.caches["c"].grids == ()


def test_the_older_dict_form_of_layers_merges_by_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        "base.yaml",
        "sources:\n  s: {type: debug}\nlayers:\n  a: {title: A, sources: [s]}\n  b: {title: B}\n",
    )
    conf = load(
        tmp_path,
        "base: base.yaml\nlayers:\n  - {name: a, title: A2}\n  - {name: c, title: C}\n",
    ).conf
    assert conf.layers == (
        LayerConf(name="a", title="A2", sources=("s",)),
        LayerConf(name="b", title="B"),
        LayerConf(name="c", title="C"),
    )


def test_base_files_in_a_cycle_are_an_error(tmp_path: Path) -> None:
    write(tmp_path, "other.yaml", "base: mapproxy.yaml\n")
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "base: other.yaml\n")
    assert info.value.source == str(tmp_path / "other.yaml")
    assert info.value.problems == [
        "base files form a cycle: mapproxy.yaml -> other.yaml -> mapproxy.yaml @ $.base"
    ]


def test_a_missing_base_file_is_an_error_naming_it(tmp_path: Path) -> None:
    write(tmp_path, "there.yaml", "{}\n")
    assert problems(tmp_path, "base: [there.yaml, gone.yaml]\n") == [
        f"base file {str(tmp_path / 'gone.yaml')!r} not found @ $.base[1]"
    ]


def test_errors_in_a_base_file_name_that_file(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", "sources: [\n")
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "base: base.yaml\n")
    assert info.value.source == str(tmp_path / "base.yaml")
    assert info.value.problems[0].startswith("invalid YAML at line 2")


def test_a_sources_resolution_range_is_checked_when_loading(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        sources:
          w: {type: wms, req: {url: 'http://x/', layers: a}, min_res: 10, max_res: 100}
        """,
    ) == [
        "min_res (10.0) must be larger than max_res (100.0), and max_scale larger than min_scale"
        " @ $.sources['w']"
    ]
