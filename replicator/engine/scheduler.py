"""The earliest-eligible scheduler: one heap and one timer for every tenant.

Each entry is a stream that wants to send its next request, keyed by the epoch
second it may (now, a backoff, or a rate window's reset) and then by arrival
order. A stream that just got a page goes to the back of the line, so a tenant
with 100,000 records and one with 10 take turns. Idle tenants cost a heap entry
at most: no task, no timer of their own.

:meth:`Scheduler.next` also asks the stream's tenant budget; a stream whose
tenant has no room goes back into the heap at the time the budget names.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Protocol

from replicator.clock import Clock, TimerHandle
from replicator.limits import TenantBudget


class Schedulable(Protocol):
    @property
    def budget(self) -> TenantBudget: ...

    @property
    def ready(self) -> bool:
        """False when the stream needs no budget (it will finish without a request)."""
        ...


class Scheduler:
    """A heap of (eligible_at, seq, item) with one wake-up timer."""

    __slots__ = ("_clock", "_heap", "_seq", "_wake", "limited", "live", "stopping")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, bool, Schedulable]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self.live = 0          # work not finished yet (streams, connection start-ups)
        self.limited = 0       # entries parked because their tenant's budget was spent
        self.stopping = False

    def push(self, item: Schedulable, at: float = 0.0, *, limited: bool = False) -> None:
        if limited:
            self.limited += 1
        heapq.heappush(self._heap, (at, next(self._seq), limited, item))
        self._wake.set()

    def poke(self) -> None:
        """Wake :meth:`next` (live work finished, or a stop was asked)."""
        self._wake.set()

    def stop(self) -> None:
        self.stopping = True
        self._wake.set()

    async def next(self) -> Schedulable | None:
        """The next stream allowed to send now (its call already counted in its
        tenant's budget), or None when all work is done or a stop was asked."""
        heap = self._heap
        while True:
            if self.stopping or (self.live <= 0 and not heap):
                return None
            if not heap:
                await self._sleep(None)
                continue
            at = heap[0][0]
            now = self._clock.time()
            if at > now:
                await self._sleep(at)
                continue
            _, _, limited, item = heapq.heappop(heap)
            if limited:
                self.limited -= 1
            if not item.ready:
                return item
            free_at = item.budget.acquire(now)
            if free_at:
                self.push(item, free_at, limited=True)
                continue
            return item

    async def _sleep(self, until: float | None) -> None:
        self._wake.clear()
        timer: TimerHandle | None = None
        if until is not None:
            timer = self._clock.call_at(until, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            if timer is not None:
                timer.cancel()

    def __len__(self) -> int:
        return len(self._heap)

    def __repr__(self) -> str:
        head = f", next_at={self._heap[0][0]:.3f}" if self._heap else ""
        return f"Scheduler(queued={len(self._heap)}, live={self.live}, limited={self.limited}{head})"
