"""RecordsInFlight: the dispatcher's gate sized in records, not requests."""

from __future__ import annotations

import asyncio

from replicator.engine.inflight import FIRST_GUESS, RecordsInFlight


async def _goes(gate: RecordsInFlight) -> bool:
    """Take a request's place if one may go now, without waiting."""
    if gate.full():
        return False
    await gate.acquire()
    return True


async def test_large_pages_hold_few_requests_and_small_pages_many() -> None:
    gate = RecordsInFlight(4 * int(FIRST_GUESS))
    assert [await _goes(gate) for _ in range(5)] == [True, True, True, True, False]
    # Pages come back with 60 records: the estimate follows, and more may go.
    for _ in range(30):
        gate.observe(60)
    assert round(gate.per_page) < 100
    gate.release()
    assert [await _goes(gate) for _ in range(60)].count(True) == 60
    assert gate.requests == 63


async def test_one_request_always_goes_however_large_its_pages() -> None:
    gate = RecordsInFlight(10)
    assert await _goes(gate)
    assert not await _goes(gate)
    gate.release()
    assert await _goes(gate)


async def test_a_waiting_request_goes_when_one_comes_back() -> None:
    gate = RecordsInFlight(int(FIRST_GUESS))
    await gate.acquire()
    waiting = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    assert not waiting.done()
    gate.release()
    await asyncio.wait_for(waiting, 1)
    assert gate.requests == 1
