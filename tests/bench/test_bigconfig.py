"""The start-up scenario's generated configuration loads in Tilegate as intended."""

from __future__ import annotations

from pathlib import Path

from adapters.config import load_config
from entrypoints.bootstrap import bootstrap
from tests.bench.bigconfig import GRIDS, big_mapproxy_yaml


def test_big_config_loads_without_warnings_with_every_layer_tiled(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mapproxy.yaml"
    path.write_text(big_mapproxy_yaml("http://127.0.0.1:9/"))

    loaded = load_config(path)
    state = bootstrap(loaded, path)

    # Nothing the generator writes may be ignored, or the servers would load different things.
    assert loaded.warnings == ()
    assert len(state.layers) == 500
    assert len(state.caches) == 100
    assert len(loaded.conf.sources) == 100
    assert set(GRIDS) <= set(state.grids)
    # Some caches have two grids, so tile sets outnumber caches.
    assert sum(len(t) for t in state.caches.values()) > 100
