"""Overwrite files of `tilegate autoconfig`: YAML merged over the generated configuration, with
MapProxy's special keys `__all__`, `KEY__extend__` and the `___suffix` / `prefix___` wildcards."""

from __future__ import annotations

import copy
from typing import Any

from domain.errors import ConfigValueError

ALL = "__all__"
EXTEND = "__extend__"
WILDCARD = "___"


def overwrite(conf: dict[Any, Any], changes: dict[Any, Any]) -> dict[Any, Any]:
    """A copy of `conf` with `changes` merged in (neither is changed).

    Dicts merge key by key; any other value replaces what was there. `KEY__extend__: [...]`
    appends to the list at KEY. `__all__` is merged into every value of the dict it is in, and
    a key starting (ending) with `___` into every value whose key ends (starts) with the rest:
    both only after the plain keys, so they apply to entries the same file adds.
    """
    result = dict(conf)
    special: list[tuple[Any, Any]] = []
    for key, value in changes.items():
        if isinstance(key, str) and (
            key == ALL or key.startswith(WILDCARD) or key.endswith(WILDCARD)
        ):
            special.append((key, value))
        elif isinstance(key, str) and key.endswith(EXTEND):
            name = key[: -len(EXTEND)]
            result[name] = _extended(result.get(name), value, name)
        else:
            result[key] = _merged(result.get(key), value)
    for key, value in special:
        for name in list(result):
            if _matches(key, name):
                result[name] = _merged(result[name], value)
    return result


def _merged(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        return overwrite(old, new)
    return copy.deepcopy(new)


def _extended(old: Any, new: Any, name: str) -> Any:
    if old is None:
        return copy.deepcopy(new)
    if not isinstance(old, list) or not isinstance(new, list):
        raise ConfigValueError(
            f"{name}{EXTEND} extends lists only, {name} is {_kind(old)} and the value {_kind(new)}"
        )
    return old + copy.deepcopy(new)


def _matches(key: str, name: object) -> bool:
    if key == ALL:
        return True
    text = str(name)
    if key.startswith(WILDCARD):
        return text.endswith(key[len(WILDCARD) :])
    return text.startswith(key[: -len(WILDCARD)])


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    return "a list" if isinstance(value, list) else "a single value"


def overwrite_layers(layers: list[Any], changes: object) -> list[Any]:
    """The layer tree with `changes` applied: a list replaces the whole tree, a mapping is merged
    into the layers it names (`__all__` and the wildcards match layer names too).

    MapProxy fails on a mapping here (its layers are a list); naming layers is what users mean.
    """
    if isinstance(changes, list):
        return copy.deepcopy(changes)
    if not isinstance(changes, dict):
        raise ConfigValueError(
            f"layers in an overwrite file must be a list or a mapping of layer names, got {_kind(changes)}"
        )
    tree = copy.deepcopy(layers)
    named = {layer["name"]: layer for layer in _walk(tree) if "name" in layer}
    merged = overwrite(named, changes)
    for name, layer in named.items():
        new = merged[name]
        if not isinstance(new, dict):
            raise ConfigValueError(
                f"layers.{name} in an overwrite file must be a mapping, got {_kind(new)}"
            )
        # unchanged layers come back as the very same dict: copy before clearing
        changed = dict(new)
        layer.clear()
        layer.update(changed)
    unknown = [name for name in merged if name not in named]
    if unknown:
        raise ConfigValueError(
            f"layers in an overwrite file name no generated layer: {', '.join(map(str, unknown))}"
        )
    return tree


def _walk(layers: list[Any]) -> list[dict[Any, Any]]:
    found: list[dict[Any, Any]] = []
    for layer in layers:
        if isinstance(layer, dict):
            found.append(layer)
            children = layer.get("layers")
            if isinstance(children, list):
                found += _walk(children)
    return found
