"""One injectable clock for every piece of time-based logic.

Limiters, backoff, token expiry and the scheduler all read a :class:`Clock`.
Production uses :class:`SystemClock` (wall-clock epoch seconds, because provider
windows are clock-aligned and their reset headers are epoch milliseconds); tests
use :class:`replicator.testing.VirtualClock`, which jumps to the next timer as
soon as the event loop is idle, so nothing ever sleeps for real.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class TimerHandle(Protocol):
    """What :meth:`Clock.call_at` returns."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Epoch-second time, timers and sleeps."""

    def time(self) -> float:
        """Seconds since the Unix epoch (may be virtual)."""
        ...

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` (in the event loop) once :meth:`time` reaches ``when``."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds`` of this clock's time."""
        ...


async def sleep_until(clock: Clock, when: float) -> None:
    """Sleep until ``clock.time() >= when`` (returns at once if it already is)."""
    delay = when - clock.time()
    if delay > 0:
        await clock.sleep(delay)


class SystemClock:
    """The real clock: ``time.time()`` for reading, the running loop for timers."""

    __slots__ = ()

    def time(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_later(max(0.0, when - time.time()), callback)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "SystemClock()"


class ScaledClock:
    """Wall time running ``factor`` times faster, from a chosen epoch second.

    For benchmarks that must show windows of a minute and a day in a run of
    minutes: the engine and a fake server in another process that build a
    ``ScaledClock`` with the same three numbers agree on the time to within the
    precision of ``time.time()``.

    Args:
        origin: the clock's reading at real epoch second ``real_origin``.
        factor: clock seconds per real second (``> 0``).
        real_origin: the real epoch second at which the clock reads ``origin``.
    """

    __slots__ = ("factor", "origin", "real_origin")

    def __init__(self, origin: float, factor: float, real_origin: float) -> None:
        if factor <= 0:
            raise ValueError(f"factor must be positive, got {factor}")
        self.origin = origin
        self.factor = factor
        self.real_origin = real_origin

    def time(self) -> float:
        return self.origin + (time.time() - self.real_origin) * self.factor

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_later(max(0.0, (when - self.time()) / self.factor), callback)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds / self.factor))
