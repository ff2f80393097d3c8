"""Reliability and security tests: real servers attacked, killed, starved and fuzzed.

Each test runs a bounded amount in `make test`; `make soak` sets TILEGATE_SOAK=1 and the same
tests run longer (more fuzz examples, more kill rounds, longer load), through `amount`.
"""

from __future__ import annotations

import os

SOAK = os.environ.get("TILEGATE_SOAK") == "1"


def amount(normal: int, soak: int) -> int:
    """How many rounds, examples or seconds a test runs: `soak` under `make soak`."""
    return soak if SOAK else normal
