"""Memory per tenant held by the engine: slots, budgets and streams, measured with
tracemalloc for N Exact divisions with every resource (8 streams each), each stream
as they wait in the scheduler before their first dispatch (the first request is
built only when a stream is dispatched).

    python benchmarks/idle_tenants.py [N]
"""

from __future__ import annotations

import sys
import tracemalloc
from typing import Any

from replicator.clock import SystemClock
from replicator.engine.scheduler import Scheduler
from replicator.engine.stats import RunStats
from replicator.engine.streams import Stream, TenantSlot
from replicator.providers import BoundResource, Tenant
from replicator_exact import ExactOnlineProvider


class _Conn:
    name = "bench"
    dead = False

    def __init__(self, provider: ExactOnlineProvider) -> None:
        self.provider = provider


def main(n: int) -> None:
    provider = ExactOnlineProvider("https://start.exactonline.nl")
    bound = [BoundResource(provider.name, r) for r in provider.resources]
    conn: Any = _Conn(provider)
    clock = SystemClock()
    now = clock.time()
    RunStats(now)
    scheduler = Scheduler.__new__(Scheduler)  # no event loop needed to hold entries
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    slots = []
    streams = []  # in the engine the scheduler's heap holds them
    for i in range(n):
        slot = TenantSlot(conn, Tenant(str(100000 + i)), provider.limits.budget(now))
        for b in bound:
            stream = Stream(slot, b, None)
            stream.begin(now)
            slot.remaining += 1
            streams.append(stream)
        slots.append(slot)
    after = tracemalloc.take_snapshot()
    total = sum(s.size_diff for s in after.compare_to(before, "filename"))
    print(f"{n} tenants x {len(bound)} streams: {total / n:.0f} bytes per tenant "
          f"({total / n / len(bound):.0f} per stream)")
    del scheduler


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
