"""What a seeding run tells its user: a live progress line on a terminal, plain periodic lines
otherwise, and a final summary."""

from __future__ import annotations

import time
from typing import TextIO

import attrs

# A terminal line is redrawn at most this often: drawing costs more than a cached tile.
_REDRAW = 0.2


@attrs.define
class Progress:
    """Progress of the current task; `quiet` 1 drops progress lines, 2 everything but errors."""

    out: TextIO
    tty: bool
    quiet: int = 0
    interval: float = 10.0
    total: int = 0
    done: int = 0
    level: int | None = None
    _started: float = 0.0
    _last: float = 0.0
    _drawn: bool = False

    def message(self, text: str) -> None:
        if self.quiet < 2:
            self._clear()
            print(text, file=self.out, flush=True)

    def task(
        self, description: str, tiles: int, meta_tiles: int, skipped: int = 0
    ) -> None:
        """A task starts: `tiles` in `meta_tiles` to do, the first `skipped` meta-tiles done."""
        self.message(description)
        if skipped:
            self.message(f"  continuing after {skipped} of {meta_tiles} meta-tiles")
        self.total, self.done, self.level = tiles, 0, None
        self._started = self._last = time.monotonic()

    def advance(self, z: int, tiles: int, outcome: str) -> None:
        self.done += tiles
        self.level = z
        now = time.monotonic()
        if self.quiet:
            return
        if self.tty and now - self._last >= _REDRAW:
            self._last = now
            self.out.write("\r" + self.line(now) + "\033[K")
            self.out.flush()
            self._drawn = True
        elif not self.tty and now - self._last >= self.interval:
            self._last = now
            print("  " + self.line(now), file=self.out, flush=True)

    def task_done(self) -> None:
        if self.quiet == 0:
            self._clear()
            print("  " + self.line(time.monotonic()), file=self.out, flush=True)

    def line(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-6)
        rate = self.done / elapsed
        left = max(self.total - self.done, 0)
        share = 100.0 * self.done / self.total if self.total else 100.0
        eta = _clock_text(left / rate) if rate > 0 else "?"
        level = "-" if self.level is None else str(self.level)
        return (
            f"level {level}: {self.done}/{self.total} tiles ({share:.1f}%), "
            f"{rate:.1f} tiles/s, ETA {eta}"
        )

    def _clear(self) -> None:
        if self._drawn:
            self.out.write("\r\033[K")
            self._drawn = False


def summary_line(
    seeded: int, fresh: int, failed: int, removed: int, seconds: float
) -> str:
    rate = (seeded + fresh) / seconds if seconds > 0 else 0.0
    return (
        f"summary: {seeded} tiles seeded, {fresh} skipped (fresh), {failed} failed, "
        f"{removed} removed in {_clock_text(seconds)} ({rate:.1f} tiles/s)"
    )


def _clock_text(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
