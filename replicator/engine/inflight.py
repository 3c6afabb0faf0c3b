"""How many records the requests in flight may bring back, all tenants together.

``max_in_flight`` counts requests; memory follows records. A 1000-record page
decodes to about 1.4 MB of Python objects, a 60-record page to a twentieth of
that, and every page in flight may have to wait, decoded, for room in the
writer. :class:`RecordsInFlight` lets a request go only while the requests
already out, times the records a page has been bringing, stay within
``max_records_in_flight``: with 1000-record pages that is 16 requests at the
default, with 60-record pages the request limit binds first.

Measured (``benchmarks/``, 100 divisions of 1000-record pages, 0 ms, writer
batches of 20,000 rows): 64 requests in flight peaked at about 200 MB and 16 at
about 140 MB, at the same records/s; the client core, not the requests in
flight, bounds throughput there. (With 10,000-row batches: 111 MB.)
"""

from __future__ import annotations

import asyncio

# The first pages are assumed to be large (1000 records, Exact's sync pages):
# a start with 64 large pages out at once would set the run's peak memory.
FIRST_GUESS = 1000.0
# Each page moves the estimate a fifth of the way to its size: a few pages of a
# new size are enough, and one odd page is not.
WEIGHT = 0.2


class RecordsInFlight:
    """A gate in front of the dispatcher, sized in records."""

    __slots__ = ("_room", "max_records", "per_page", "requests")

    def __init__(self, max_records: int) -> None:
        self.max_records = max_records
        self.per_page = FIRST_GUESS
        self.requests = 0
        self._room = asyncio.Event()

    def full(self) -> bool:
        # One request may always go, whatever its pages weigh.
        return self.requests > 0 and (self.requests + 1) * self.per_page > self.max_records

    async def acquire(self) -> None:
        while self.full():
            self._room.clear()
            await self._room.wait()
        self.requests += 1

    def observe(self, records: int) -> None:
        """A page of ``records`` was decoded."""
        self.per_page += (records - self.per_page) * WEIGHT
        self._room.set()

    def release(self) -> None:
        self.requests -= 1
        self._room.set()
