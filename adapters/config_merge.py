"""Reading configuration files: safe YAML, and `base:` includes merged as MapProxy merges them."""

from __future__ import annotations

from pathlib import Path

import yaml

from adapters.config_env import with_environment
from domain.errors import ConfigError

# Lists under these keys replace the inherited list instead of being appended to it.
# MapProxy appends `meta_size` too, which turns [4, 4] + [2, 2] into a 4-list it then only
# warns about; a pair can only be replaced, so we deliberately replace it.
_REPLACED_LISTS = frozenset(
    {"bbox", "tile_size", "max_output_pixels", "sources", "grids", "res", "meta_size"}
)

# libyaml's safe loader (as MapProxy uses) where PyYAML was built with it, else the pure-Python
# one, which spends ~0.2 s of a 0.25 s start-up on 500 layers (`make bench`, start-up scenario).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> dict[object, object]:
    """The top-level mapping of one YAML file; an empty file is an empty mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc}"]) from exc
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: TID251, S506 -- a safe loader
    except yaml.MarkedYAMLError as exc:
        where = (
            f" at line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1}"
            if exc.problem_mark
            else ""
        )
        raise ConfigError(
            str(path), [f"invalid YAML{where}: {exc.problem or exc.context}"]
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"invalid YAML: {exc}"]) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            str(path),
            [f"expected a mapping of configuration sections, got {_kind(data)} @ $"],
        )
    return with_environment(data, str(path))


def resolve_includes(
    raw: dict[object, object], source: str, base_dir: Path, chain: tuple[Path, ...] = ()
) -> tuple[dict[object, object], list[Path]]:
    """`raw` with its `base:` files merged under it, and every file that was read for that.

    `chain` holds the (resolved) files that include this one, to find cycles.
    """
    if "base" not in raw:
        return raw, []
    own = {k: v for k, v in raw.items() if k != "base"}
    merged: dict[object, object] = {}
    files: list[Path] = []
    # The first base file wins over later ones: fold from the last, each merged over the rest.
    for index, name in reversed(list(_base_names(raw["base"], source))):
        path = base_dir / name
        where = "$.base" if not isinstance(raw["base"], list) else f"$.base[{index}]"
        resolved = path.resolve()
        if resolved in chain:
            cycle = " -> ".join(
                p.name for p in (*chain[chain.index(resolved) :], resolved)
            )
            raise ConfigError(source, [f"base files form a cycle: {cycle} @ {where}"])
        if not path.is_file():
            raise ConfigError(source, [f"base file {str(path)!r} not found @ {where}"])
        included, included_files = resolve_includes(
            read_yaml(path), str(path), path.parent, (*chain, resolved)
        )
        files[:0] = [path, *included_files]
        merged = merge(included, merged)
    return merge(own, merged), _unique(files)


def _base_names(value: object, source: str) -> list[tuple[int, str]]:
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(
            source, ["base must be a file name or a list of file names @ $.base"]
        )
    return list(enumerate(names))


def merge(
    conf: dict[object, object], base: dict[object, object]
) -> dict[object, object]:
    """A new mapping: `base` with `conf` merged over it (neither is changed)."""
    out = dict(base)
    for key, value in conf.items():
        if key not in out:
            out[key] = value
            continue
        old = out[key]
        if (
            key == "layers"
            and isinstance(value, list | dict)
            and isinstance(old, list | dict)
        ):
            out[key] = _merge_layers(value, old)
        elif isinstance(old, dict) and isinstance(value, dict):
            out[key] = merge(value, old)
        elif (
            isinstance(old, list)
            and isinstance(value, list)
            and key not in _REPLACED_LISTS
            and value
        ):
            out[key] = old + value
        else:
            out[key] = value
    return out


def _merge_layers(
    conf: list[object] | dict[object, object], base: list[object] | dict[object, object]
) -> object:
    """Layers merge by name; the older dict form (name -> layer) merges like any mapping."""
    if isinstance(conf, dict) and isinstance(base, dict):
        return merge(conf, base)
    # MapProxy crashes on a mix of both forms: we bring the dict form into the list form.
    conf_list, base_list = _layer_list(conf), _layer_list(base)
    out = list(base_list)
    positions = {
        layer["name"]: i
        for i, layer in enumerate(out)
        if isinstance(layer, dict) and "name" in layer
    }
    for layer in conf_list:
        name = layer.get("name") if isinstance(layer, dict) else None
        if isinstance(layer, dict) and name is not None and name in positions:
            old = out[positions[name]]
            assert isinstance(old, dict)  # noqa: S101  (positions holds dicts only)
            out[positions[name]] = merge(layer, old)
        else:
            out.append(layer)
    # MapProxy keeps the inherited layers when the including file says `layers: []`.
    return out


def _layer_list(layers: list[object] | dict[object, object]) -> list[object]:
    if isinstance(layers, list):
        return layers
    return [
        {"name": name, **value} if isinstance(value, dict) else value
        for name, value in layers.items()
    ]


def _unique(paths: list[Path]) -> list[Path]:
    return list(dict.fromkeys(paths))


def _kind(value: object) -> str:
    names: dict[type, str] = {list: "a list", str: "a string"}
    return names.get(type(value), f"a {type(value).__name__}")
