"""A large generated mapproxy.yaml for the start-up scenario: 500 layers over 100 caches.

Shaped like configurations in the wild: WMS sources with coverages, resolution limits, HTTP
options and request limits; caches in the built-in grids and a few custom ones (UTM, Gauss-
Krüger with a bbox given in degrees, a 512-pixel web mercator, a regional geodetic grid with a
fixed resolution list), with their meta-tile, format and directory options; layers grouped in a
tree. Tilegate loads it without warnings (tests/bench/test_bigconfig.py), MapProxy 7 with only
its demo-page warning; every cache's grids are in an SRS its source supports, so neither server
sets up reprojection.
"""

from __future__ import annotations

import yaml

CACHES = 100
LAYERS_PER_CACHE = 5  # 500 layers
LAYERS_PER_GROUP = 20  # 25 groups of 20

GRIDS: dict[str, dict[str, object]] = {
    "utm32": {
        "srs": "EPSG:25832",
        "bbox": [280000, 5200000, 920000, 6100000],
        "origin": "nw",
        "res_factor": 2,
        "num_levels": 16,
        "tile_size": [256, 256],
    },
    "gk3": {
        "srs": "EPSG:31467",
        "bbox": [5.8, 47.2, 15.1, 55.1],
        "bbox_srs": "EPSG:4326",
        "origin": "nw",
        "min_res": 2000,
        "max_res": 0.5,
    },
    "webmercator_512": {
        "base": "GLOBAL_WEBMERCATOR",
        "tile_size": [512, 512],
        "num_levels": 19,
    },
    "de_geodetic": {
        "srs": "EPSG:4326",
        "bbox": [5.0, 47.0, 16.0, 56.0],
        "origin": "nw",
        "res": [0.02, 0.01, 0.005, 0.0025, 0.00125, 0.000625, 0.0003125],
    },
}

# The grids of cache number i, cycling through a few combinations.
GRID_SETS: tuple[tuple[str, ...], ...] = (
    ("GLOBAL_WEBMERCATOR",),
    ("GLOBAL_WEBMERCATOR", "utm32"),
    ("GLOBAL_MERCATOR",),
    ("gk3",),
    ("webmercator_512", "GLOBAL_WEBMERCATOR"),
    ("de_geodetic",),
    ("de_geodetic", "GLOBAL_WEBMERCATOR"),
)
SUPPORTED_SRS = ["EPSG:3857", "EPSG:900913", "EPSG:25832", "EPSG:31467", "EPSG:4326"]
LAYOUTS = ("tc", "tms", "mp", "tc", "reverse_tms")


def _source(i: int, upstream: str) -> dict[str, object]:
    source: dict[str, object] = {
        "type": "wms",
        "req": {
            "url": f"{upstream}/service/{i}",
            "layers": f"topic_{i},labels_{i}",
            "transparent": True,
            "format": "image/png",
        },
        "supported_srs": SUPPORTED_SRS,
        "concurrent_requests": 4,
        "http": {"client_timeout": 30, "headers": {"User-Agent": "bench"}},
    }
    if i % 2:
        source["wms_opts"] = {"version": "1.3.0"}
    if i % 3 == 0:
        source["coverage"] = {
            "bbox": [5.0 + i % 5, 47.0, 15.0, 55.0],
            "srs": "EPSG:4326",
        }
    if i % 4 == 1:
        source["min_res"] = 50000
        source["max_res"] = 0.2
    if i % 10 == 7:
        source["supported_formats"] = ["image/png", "image/jpeg"]
    return source


def _cache(i: int) -> dict[str, object]:
    cache: dict[str, object] = {
        "sources": [f"wms_{i}"],
        "grids": list(GRID_SETS[i % len(GRID_SETS)]),
        "meta_size": [4, 4] if i % 3 else [2, 2],
        "meta_buffer": 80 if i % 2 else 20,
        "cache": {"type": "file", "directory_layout": LAYOUTS[i % len(LAYOUTS)]},
    }
    if i % 5 == 2:
        cache["format"] = "image/jpeg"
        cache["request_format"] = "image/png"
    if i % 7 == 3:
        cache["link_single_color_images"] = True
    if i % 9 == 4:
        cache["minimize_meta_requests"] = True
    return cache


def _layers() -> list[dict[str, object]]:
    leaves = [
        {
            "name": f"layer_{i}",
            "title": f"Layer {i} from cache {i // LAYERS_PER_CACHE}",
            "sources": [f"cache_{i // LAYERS_PER_CACHE}"],
            "md": {
                "abstract": f"Generated layer number {i} for the start-up benchmark."
            },
        }
        for i in range(CACHES * LAYERS_PER_CACHE)
    ]
    return [
        {
            "name": f"group_{g}",
            "title": f"Group {g}",
            "layers": leaves[g * LAYERS_PER_GROUP : (g + 1) * LAYERS_PER_GROUP],
        }
        for g in range(len(leaves) // LAYERS_PER_GROUP)
    ]


def big_mapproxy_yaml(upstream: str) -> str:
    """The generated configuration, with every WMS source at `upstream`."""
    config = {
        "services": {"demo": None, "tms": {"use_grid_names": False}, "wmts": None},
        "layers": _layers(),
        "caches": {f"cache_{i}": _cache(i) for i in range(CACHES)},
        "sources": {f"wms_{i}": _source(i, upstream) for i in range(CACHES)},
        "grids": GRIDS,
        "globals": {
            "cache": {
                "base_dir": "./cache_data",
                "lock_dir": "./cache_data/locks",
                "meta_size": [4, 4],
            },
            "image": {"paletted": True, "resampling_method": "bicubic"},
            "http": {"client_timeout": 60},
            "tiles": {"expires_hours": 24},
        },
    }
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=None, width=100)
