"""The virtual clock: hours of provider time in milliseconds of real time."""

from __future__ import annotations

import asyncio
import time

from replicator.clock import sleep_until
from replicator.testing import VirtualClock as ExportedVirtualClock
from replicator.testing.clock import VirtualClock

START = 1_767_603_600.0  # 2026-01-05 09:00:00 UTC


async def test_an_hour_of_virtual_sleep_takes_no_real_time(virtual_clock: VirtualClock) -> None:
    assert virtual_clock.time() == START
    began = time.perf_counter()
    await virtual_clock.sleep(3600)
    elapsed = time.perf_counter() - began
    assert virtual_clock.time() == START + 3600
    assert elapsed < 1.0


async def test_a_day_of_small_sleeps_takes_no_real_time() -> None:
    # No I/O to wait for here, so no autojump threshold either (the default one
    # lets loopback requests land before time jumps).
    virtual_clock = VirtualClock(START, autojump_threshold=0)
    try:
        began = time.perf_counter()
        for _ in range(1440):
            await virtual_clock.sleep(60)
        assert virtual_clock.time() == START + 86400
        assert time.perf_counter() - began < 1.0
    finally:
        await virtual_clock.aclose()


async def test_concurrent_sleepers_wake_in_order_at_their_times(
        virtual_clock: VirtualClock) -> None:
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await virtual_clock.sleep(seconds)
        woke.append((name, virtual_clock.time() - START))

    await asyncio.gather(sleeper("c", 30), sleeper("a", 10), sleeper("d", 30.5),
                         sleeper("b", 20), sleeper("z", 0))
    assert woke == [("z", 0.0), ("a", 10.0), ("b", 20.0), ("c", 30.0), ("d", 30.5)]
    assert virtual_clock.time() == START + 30.5


async def test_sleepers_due_at_the_same_time_wake_in_the_order_they_slept(
        virtual_clock: VirtualClock) -> None:
    woke: list[int] = []

    async def sleeper(i: int) -> None:
        await virtual_clock.sleep(5)
        woke.append(i)

    await asyncio.gather(*(sleeper(i) for i in range(10)))
    assert woke == list(range(10))
    assert virtual_clock.time() == START + 5


async def test_chained_sleeps_accumulate(virtual_clock: VirtualClock) -> None:
    async def worker(step: float, n: int) -> list[float]:
        seen = []
        for _ in range(n):
            await virtual_clock.sleep(step)
            seen.append(virtual_clock.time() - START)
        return seen

    a, b = await asyncio.gather(worker(7, 3), worker(5, 4))
    assert a == [7.0, 14.0, 21.0]
    assert b == [5.0, 10.0, 15.0, 20.0]


async def test_call_at_runs_the_callback_at_its_time_and_cancel_stops_it(
        virtual_clock: VirtualClock) -> None:
    fired: list[tuple[str, float]] = []
    virtual_clock.call_at(START + 5, lambda: fired.append(("five", virtual_clock.time())))
    cancelled = virtual_clock.call_at(START + 7,
                                      lambda: fired.append(("seven", virtual_clock.time())))
    virtual_clock.call_at(START + 2, lambda: fired.append(("two", virtual_clock.time())))
    cancelled.cancel()
    await virtual_clock.sleep(10)
    assert fired == [("two", START + 2), ("five", START + 5)]
    assert virtual_clock.time() == START + 10


async def test_a_timer_in_the_past_fires_without_moving_time_back(
        virtual_clock: VirtualClock) -> None:
    await virtual_clock.sleep(100)
    fired: list[float] = []
    virtual_clock.call_at(START + 50, lambda: fired.append(virtual_clock.time()))
    await virtual_clock.sleep(1)
    assert fired == [START + 100]
    assert virtual_clock.time() == START + 101


async def test_a_cancelled_sleep_leaves_no_timer_behind(virtual_clock: VirtualClock) -> None:
    task = asyncio.create_task(virtual_clock.sleep(1000))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert "timers=0" in repr(virtual_clock)
    await virtual_clock.sleep(1)
    assert virtual_clock.time() == START + 1


async def test_zero_and_negative_sleeps_return_at_once(virtual_clock: VirtualClock) -> None:
    await virtual_clock.sleep(0)
    await virtual_clock.sleep(-5)
    assert virtual_clock.time() == START


async def test_sleep_until(virtual_clock: VirtualClock) -> None:
    await sleep_until(virtual_clock, START + 42.5)
    assert virtual_clock.time() == START + 42.5
    await sleep_until(virtual_clock, START)  # in the past: at once
    assert virtual_clock.time() == START + 42.5


async def test_advance_moves_time_only_when_asked_without_autojump() -> None:
    clock = VirtualClock(start=1000.0, autojump=False)
    woke: list[float] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(clock.time())

    tasks = [asyncio.create_task(sleeper(s)) for s in (10, 4)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert woke == [] and clock.time() == 1000.0
    clock.advance(3)
    for _ in range(5):
        await asyncio.sleep(0)
    assert woke == [] and clock.time() == 1003.0
    clock.advance(2)  # the 4 s sleeper is due (it wakes with the clock at 1005)
    for _ in range(5):
        await asyncio.sleep(0)
    assert woke == [1005.0]
    clock.advance(100)
    await asyncio.gather(*tasks)
    assert woke == [1005.0, 1105.0]
    assert clock.jumps == 0
    await clock.aclose()


async def test_advance_fires_due_callbacks_in_time_order() -> None:
    clock = VirtualClock(start=0.0, autojump=False)
    fired: list[tuple[str, float]] = []
    clock.call_at(3.0, lambda: fired.append(("b", clock.time())))
    clock.call_at(1.0, lambda: fired.append(("a", clock.time())))
    clock.call_at(9.0, lambda: fired.append(("c", clock.time())))
    clock.advance(5)
    assert fired == [("a", 5.0), ("b", 5.0)]
    clock.advance(5)
    assert fired == [("a", 5.0), ("b", 5.0), ("c", 10.0)]


async def test_repr_shows_time_timers_and_jumps(virtual_clock: VirtualClock) -> None:
    assert repr(virtual_clock) == "VirtualClock(now=1767603600.000, timers=0, jumps=0)"
    handle = virtual_clock.call_at(START + 100, lambda: None)
    assert repr(virtual_clock) == "VirtualClock(now=1767603600.000, timers=1, jumps=0)"
    handle.cancel()
    await virtual_clock.sleep(2.5)
    assert repr(virtual_clock) == "VirtualClock(now=1767603602.500, timers=0, jumps=1)"


async def test_aclose_stops_the_driver_and_a_new_timer_restarts_it() -> None:
    clock = VirtualClock()
    await clock.sleep(1)
    await clock.aclose()
    await clock.aclose()  # idempotent
    await clock.sleep(2)
    assert clock.time() == 1_767_603_603.0
    await clock.aclose()


def test_the_clock_is_exported_from_the_testing_kit() -> None:
    assert ExportedVirtualClock is VirtualClock
