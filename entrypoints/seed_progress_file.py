"""The progress file of a seeding run: per task, how many meta-tiles from the start of its plan
are done, so that `--continue` starts there. It never claims work that is not done."""

from __future__ import annotations

import json
import os
from pathlib import Path

PROGRESS_FORMAT = "tilegate-seed-progress/1"


def read_progress(path: Path | None) -> dict[str, int]:
    """Meta-tiles done per task id; an unreadable or foreign file means nothing is done."""
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != PROGRESS_FORMAT:
        return {}
    tasks = data.get("tasks")
    if not isinstance(tasks, dict):
        return {}
    return {k: v for k, v in tasks.items() if isinstance(v, int) and v >= 0}


def write_progress(path: Path, done: dict[str, int]) -> None:
    # temp file and rename: a run stopped mid-write leaves the last whole file
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"format": PROGRESS_FORMAT, "tasks": done}, indent=1))
    os.replace(tmp, path)
