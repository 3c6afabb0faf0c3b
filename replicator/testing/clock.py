"""A virtual clock for tests: time moves only when every task is waiting.

Like trio's ``MockClock(autojump_threshold=...)``: when the event loop has had
nothing to do for ``autojump_threshold`` real seconds, the clock jumps straight to
the earliest pending timer. Tests of limiters, backoff and token expiry therefore
cover hours of provider time in milliseconds, and a fake server that reads the
same clock agrees with the engine about which rate-limit window a request falls in.

Why a (tiny) real threshold: a request on loopback is "idle" for the event loop
while its bytes are in the kernel, and so is a write in a store's thread. Jumping
then would make virtual time pass while the request is in flight. The driver
jumps only after a threshold during which the loop's selector reported no I/O
event and nobody read the clock.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable

from replicator.clock import TimerHandle


class _Timer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Virtual epoch time that autojumps to the next timer when the loop is idle.

    Args:
        start: the initial epoch second (default: 2026-01-05 09:00:00 UTC, a Monday,
            so that window arithmetic is easy to read in failures).
        autojump: jump automatically when idle; with ``False`` time moves only
            through :meth:`advance`.
    """

    def __init__(self, start: float = 1_767_603_600.0, *, autojump: bool = True,
                 autojump_threshold: float = 0.0005) -> None:
        self._now = float(start)
        self._reads = 0
        self._io_events = 0
        self._watched: object = None
        self.autojump_threshold = autojump_threshold
        self._timers: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()
        self._autojump = autojump
        self._driver: asyncio.Task[None] | None = None
        self._kick = asyncio.Event()
        self.jumps = 0

    def time(self) -> float:
        self._reads += 1
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _Timer(when, callback)
        heapq.heappush(self._timers, (when, next(self._seq), timer))
        self._ensure_driver()
        return timer

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        timer = self.call_at(self.time() + seconds, wake)
        try:
            await fut
        finally:
            timer.cancel()

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and fire every timer now due."""
        self._fire_until(self._now + seconds)

    def _fire_until(self, when: float) -> None:
        self._now = max(self._now, when)
        while self._timers and self._timers[0][0] <= self._now:
            _, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.callback()

    def _ensure_driver(self) -> None:
        if not self._autojump:
            return
        self._kick.set()
        if self._driver is None or self._driver.done():
            loop = asyncio.get_running_loop()
            self._driver = loop.create_task(self._drive(), name="virtual-clock")

    def _watch_io(self, loop: asyncio.AbstractEventLoop) -> None:
        """Count the I/O events the loop's selector reports (test kit only)."""
        selector = getattr(loop, "_selector", None)
        if selector is None or self._watched is selector:
            return
        select = selector.select
        clock = self

        def counting_select(timeout: float | None = None) -> list[object]:
            events: list[object] = select(timeout)
            clock._io_events += len(events)
            return events

        selector.select = counting_select
        self._watched = selector

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        self._watch_io(loop)
        while True:
            while self._timers and self._timers[0][2].cancelled:
                heapq.heappop(self._timers)
            if not self._timers:
                self._kick.clear()
                await self._kick.wait()
                continue
            # Let every ready task (and every socket with data) run first: a
            # handful of passes through the loop, each of which polls I/O.
            for _ in range(4):
                await asyncio.sleep(0)
            ready = getattr(loop, "_ready", None)
            if ready is not None and len(ready) > 0:
                continue
            if self.autojump_threshold > 0:
                reads, events = self._reads, self._io_events
                await asyncio.sleep(self.autojump_threshold)
                # The sleep's own timer wakes the loop without an I/O event.
                if self._reads != reads or self._io_events != events or (ready is not None and len(ready) > 0):
                    continue  # something is still happening (I/O in flight)
            if self._timers and not self._timers[0][2].cancelled:
                self.jumps += 1
                self._fire_until(self._timers[0][0])

    async def aclose(self) -> None:
        """Stop the autojump driver (tests call this at teardown)."""
        if self._driver is not None:
            self._driver.cancel()
            try:
                await self._driver
            except asyncio.CancelledError:
                pass
            self._driver = None

    def __repr__(self) -> str:
        pending = sum(1 for _, _, t in self._timers if not t.cancelled)
        return f"VirtualClock(now={self._now:.3f}, timers={pending}, jumps={self.jumps})"
