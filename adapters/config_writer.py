"""Configuration data written as YAML in the layout MapProxy's tools write it."""

from __future__ import annotations

from typing import Any

import yaml


class _ConfigDumper(yaml.SafeDumper):
    """Block style, but lists of plain values on one line (`grids: [a, b]`); keys sorted;
    `None` written as an empty value (`tms:`) and no anchors, so the file reads as hand-written."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_list(
    dumper: yaml.SafeDumper, data: list[Any] | tuple[Any, ...]
) -> yaml.Node:
    flow = all(not isinstance(v, dict | list) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_dict(dumper: yaml.SafeDumper, data: dict[Any, Any]) -> yaml.Node:
    # by the keys' text: an overwrite file may mix number and text keys, which sort() refuses
    items = sorted(data.items(), key=lambda item: str(item[0]))
    return dumper.represent_mapping("tag:yaml.org,2002:map", items)


def _represent_none(dumper: yaml.SafeDumper, data: None) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "")


_ConfigDumper.add_representer(list, _represent_list)
_ConfigDumper.add_representer(tuple, _represent_list)
_ConfigDumper.add_representer(dict, _represent_dict)
_ConfigDumper.add_representer(type(None), _represent_none)


def config_yaml(data: dict[str, Any]) -> str:
    """`data` as a YAML document."""
    return yaml.dump(
        data,
        Dumper=_ConfigDumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
    )
