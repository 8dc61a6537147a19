"""A dependency-free progress line for long imports (written to stderr, off by default in pipes)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """``Importing: 1200/1501 objects (850/s)`` redrawn in place; silent when disabled."""

    def __init__(
        self,
        *,
        desc: str = "Importing",
        unit: str = "objects",
        total: int | None = None,
        enabled: bool | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self._stream = stream or sys.stderr
        self._enabled = bool(self._stream.isatty()) if enabled is None else enabled
        self._desc = desc
        self._unit = unit
        self._total = total
        self._done = 0
        self._start = time.perf_counter()
        self._last_draw = 0.0

    def update(self, n: int) -> None:
        """Count ``n`` more items and redraw at most ten times a second."""
        self._done += n
        now = time.perf_counter()
        if self._enabled and (now - self._last_draw > 0.1 or self._done == self._total):
            self._last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self._done / max(now - self._start, 1e-9)
        total = f"/{self._total}" if self._total is not None else ""
        bar = ""
        if self._total:
            filled = int(30 * self._done / self._total)
            bar = "[" + "#" * filled + "." * (30 - filled) + "] "
        shown = f"{rate:,.0f}" if rate >= 10 else f"{rate:.2g}"
        self._stream.write(f"\r{self._desc}: {bar}{self._done}{total} {self._unit} ({shown}/s)")
        self._stream.flush()

    def close(self) -> None:
        """Finish the line."""
        if self._enabled:
            self._draw(time.perf_counter())
            self._stream.write("\n")
            self._stream.flush()
