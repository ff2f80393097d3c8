"""MapProxy 7 beside Tilegate, for the interoperability tests: where it is installed (a venv
of its own, /work/mpvenv by default; the tests that need it are skipped without it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

MAPPROXY_PYTHON = Path(
    os.environ.get("TILEGATE_MAPPROXY_PYTHON", "/work/mpvenv/bin/python")
)
needs_mapproxy = pytest.mark.skipif(
    not MAPPROXY_PYTHON.exists(), reason="MapProxy 7 is not installed here"
)


def mapproxy_seed(config: Path, seed_yaml: str, timeout: float = 60) -> None:
    """`mapproxy-seed` of MapProxy 7 with `seed_yaml` (written beside `config`), run in the
    configuration's directory; it must succeed."""
    (config.parent / "seed.yaml").write_text(seed_yaml)
    subprocess.run(
        [MAPPROXY_PYTHON.parent / "mapproxy-seed", "-f", config, "-s", "seed.yaml"],
        cwd=config.parent,
        check=True,
        capture_output=True,
        timeout=timeout,
    )
