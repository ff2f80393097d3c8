"""The merge rules of autoconfig's overwrite files (pure functions, no I/O)."""

from __future__ import annotations

import copy

import pytest

from domain.errors import ConfigValueError
from entrypoints.autoconfig_overwrite import overwrite, overwrite_layers

MADE = {
    "osm_webmercator": {"caches": ["osm"], "grids": ["webmercator"]},
    "osm_utm32": {"caches": ["osm"], "grids": ["utm32"]},
    "aerial_webmercator": {"caches": ["aerial"], "grids": ["webmercator"]},
}


def test_plain_keys_merge_mappings_and_replace_other_values() -> None:
    made = copy.deepcopy(MADE)
    result = overwrite(
        made, {"osm_utm32": {"grids": ["utm33"], "levels": {"to": 3}}, "new": {"a": 1}}
    )
    assert result["osm_utm32"] == {
        "caches": ["osm"],
        "grids": ["utm33"],
        "levels": {"to": 3},
    }
    assert result["new"] == {"a": 1}
    assert made == MADE  # the input is left as it was


def test_wildcards_match_suffixes_and_prefixes() -> None:
    result = overwrite(
        MADE,
        {"____webmercator": {"levels": {"to": 12}}, "osm____": {"refresh": True}},
    )
    assert [n for n, v in result.items() if "levels" in v] == [
        "osm_webmercator",
        "aerial_webmercator",
    ]
    assert [n for n, v in result.items() if "refresh" in v] == [
        "osm_webmercator",
        "osm_utm32",
    ]


def test_all_reaches_entries_the_same_file_adds() -> None:
    result = overwrite(
        {"a": {"req": {"layers": "a"}}},
        {"__all__": {"req": {"sessionid": 1}}, "b": {"req": {"layers": "b"}}},
    )
    assert result == {
        "a": {"req": {"layers": "a", "sessionid": 1}},
        "b": {"req": {"layers": "b", "sessionid": 1}},
    }


def test_extend_appends_or_sets_and_refuses_non_lists() -> None:
    result = overwrite(
        {"s": {"supported_srs": ["EPSG:4326"]}},
        {"s": {"supported_srs__extend__": ["EPSG:3857"], "other__extend__": [1]}},
    )
    assert result == {"s": {"supported_srs": ["EPSG:4326", "EPSG:3857"], "other": [1]}}
    with pytest.raises(ConfigValueError, match="type__extend__ extends lists only"):
        overwrite({"type": "wms"}, {"type__extend__": ["x"]})


def test_layers_merge_by_name_anywhere_in_the_tree_or_are_replaced_by_a_list() -> None:
    tree = [{"title": "root", "layers": [{"name": "a", "title": "A"}, {"name": "b"}]}]
    result = overwrite_layers(tree, {"b": {"title": "B"}})
    assert result == [
        {
            "title": "root",
            "layers": [{"name": "a", "title": "A"}, {"name": "b", "title": "B"}],
        }
    ]
    assert tree[0]["layers"][1] == {"name": "b"}
    assert overwrite_layers(tree, [{"name": "x"}]) == [{"name": "x"}]
    with pytest.raises(ConfigValueError, match="name no generated layer: c"):
        overwrite_layers(tree, {"c": {"title": "C"}})
    with pytest.raises(ConfigValueError, match="must be a mapping"):
        overwrite_layers(tree, {"a": 3})
