"""Before the rounds: every cached tile once from each cache, and the floor's copies of them."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from tests.bench import load, workload
from tests.bench.processes import BenchError

SEED_CONCURRENCY = 4


def seed(name: str, url: str, services: tuple[str, ...]) -> list[bytes]:
    """Every cached tile once through each service (checking each is a PNG); the first
    service's answers, in `workload.cached_tiles()` order."""
    tiles = workload.cached_tiles()
    first: list[bytes] = []
    for service in services:
        batch = load.fetch_all(url, [t.path(service) for t in tiles], SEED_CONCURRENCY)
        check_tiles(name, f"seeding {service.upper()}", batch)
        first = first or [a.body for a in batch.answers]
    return first


def write_floor_files(root: Path, bodies: list[bytes] | None) -> None:
    """The floor's tile files for both services: a cache's answers, or blank tiles without one."""
    tiles = workload.cached_tiles()
    data = bodies or [_blank_png()] * len(tiles)
    for tile, body in zip(tiles, data, strict=True):
        for service in ("tms", "wmts"):
            z, x, y = (
                int(p) for p in tile.path(service).removesuffix(".png").split("/")[-3:]
            )
            target = root / service / str(z) / str(x) / f"{y}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)


def check_tiles(name: str, what: str, batch: load.BatchResult) -> None:
    bad = [
        a
        for a in batch.answers
        if a.status != 200
        or not a.headers.get("content-type", "").startswith("image/png")
    ]
    if bad:
        sample = bad[0]
        raise BenchError(
            f"{name}: {what} got {len(bad)} bad answers of {len(batch.answers)}, e.g. {sample.status} "
            f"{sample.headers.get('content-type')}: {sample.body[:300]!r}"
        )


def _blank_png() -> bytes:
    """A tile for the floor to serve when no cache runs to give it real ones."""
    out = io.BytesIO()
    Image.new("RGB", (256, 256), (255, 255, 255)).save(out, "PNG")
    return out.getvalue()
