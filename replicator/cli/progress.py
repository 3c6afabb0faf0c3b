"""Progress for long runs: a live line on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import TextIO

from replicator.engine.stats import Snapshot


def human(n: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def line(s: Snapshot) -> str:
    return (f"tenants {s.tenants_done + s.tenants_failed}/{s.tenants_total}"
            f"{f' ({s.tenants_failed} failed)' if s.tenants_failed else ''} | "
            f"pages {human(s.pages)} | records {human(s.records_committed)} | "
            f"{human(s.records_per_second)} rec/s | in flight {s.in_flight} | "
            f"waiting on limits {s.waiting_on_limits} | 429s {s.rate_limited} | "
            f"retries {s.retries} | errors {s.errors}")


class Progress:
    """Renders snapshots: redraws one line on a TTY, logs every ``interval`` otherwise."""

    def __init__(self, snapshot: Callable[[], Snapshot], *, stream: TextIO | None = None,
                 tty: bool | None = None, interval: float | None = None) -> None:
        self._snapshot = snapshot
        self._out = stream or sys.stderr
        self.tty = self._out.isatty() if tty is None else tty
        self.interval = interval or (0.25 if self.tty else 10.0)
        self._drawn = False

    def log(self, level: str, message: str) -> None:
        self._clear()
        stamp = time.strftime("%H:%M:%S")
        self._out.write(f"{stamp} {level.upper():7} {message}\n")
        self._out.flush()

    def _clear(self) -> None:
        if self.tty and self._drawn:
            self._out.write("\r\x1b[2K")
            self._drawn = False

    def draw(self) -> None:
        text = line(self._snapshot())
        if self.tty:
            self._out.write("\r\x1b[2K" + text)
            self._drawn = True
        else:
            self._out.write(f"{time.strftime('%H:%M:%S')} PROGRESS {text}\n")
        self._out.flush()

    async def run(self) -> None:
        """Draw until cancelled."""
        try:
            while True:
                await asyncio.sleep(self.interval)
                self.draw()
        finally:
            self._clear()
