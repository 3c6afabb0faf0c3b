"""The earliest-eligible scheduler, in virtual time."""

from __future__ import annotations

import asyncio

from replicator.engine.scheduler import Scheduler
from replicator.limits import LimitPolicy, WindowSpec
from replicator.limits.windows import SKEW_GUARD
from replicator.testing.clock import VirtualClock

START = 1_767_603_600.0  # VirtualClock's default start: 2026-01-05 09:00:00 UTC


class FakeBudget:
    """Admits everything, except at the times listed in ``refusals`` (now -> free_at)."""

    def __init__(self, refusals: list[float] | None = None) -> None:
        self.refusals = list(refusals or [])  # delays, used one per acquire
        self.asked: list[float] = []
        self.in_flight = 0

    def acquire(self, now: float) -> float:
        self.asked.append(now)
        if self.refusals:
            return now + self.refusals.pop(0)
        self.in_flight += 1
        return 0.0

    def release(self) -> None:
        self.in_flight -= 1


class Item:
    def __init__(self, name: str, turns: int = 1, budget: object | None = None,
                 ready: bool = True) -> None:
        self.name = name
        self.turns = turns
        self.budget = budget if budget is not None else FakeBudget()
        self.ready = ready

    def __repr__(self) -> str:
        return f"Item({self.name})"


async def drain(sched: Scheduler, clock: VirtualClock, latency: float = 1.0
                ) -> list[tuple[str, float]]:
    """Run items until the scheduler is done: each use takes ``latency`` seconds,
    then the item goes back to the end of the line (or finishes)."""
    order: list[tuple[str, float]] = []
    while (item := await sched.next()) is not None:
        assert isinstance(item, Item)
        order.append((item.name, clock.time() - START))
        await clock.sleep(latency)
        item.turns -= 1
        if item.turns:
            sched.push(item, clock.time())
        else:
            sched.live -= 1
    return order


async def test_ready_items_take_turns_round_robin(virtual_clock: VirtualClock) -> None:
    sched = Scheduler(virtual_clock)
    big, small = Item("big", turns=100), Item("small", turns=3)
    sched.live = 2
    sched.push(big, virtual_clock.time())
    sched.push(small, virtual_clock.time())
    order = await drain(sched, virtual_clock)
    names = [name for name, _ in order]
    assert names[:6] == ["big", "small"] * 3
    assert names[6:] == ["big"] * 97
    assert [t for _, t in order[:6]] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert order[-1] == ("big", 102.0)
    assert len(sched) == 0 and sched.live == 0


async def test_three_items_alternate_in_arrival_order(virtual_clock: VirtualClock) -> None:
    sched = Scheduler(virtual_clock)
    sched.live = 3
    for name, turns in (("a", 4), ("b", 2), ("c", 3)):
        sched.push(Item(name, turns), virtual_clock.time())
    order = await drain(sched, virtual_clock, latency=0.5)
    assert [n for n, _ in order] == ["a", "b", "c", "a", "b", "c", "a", "c", "a"]


async def test_an_item_refused_by_its_budget_comes_back_when_the_budget_says(
        virtual_clock: VirtualClock) -> None:
    sched = Scheduler(virtual_clock)
    refused = Item("refused", budget=FakeBudget(refusals=[30.0]))
    sched.live = 1
    sched.push(refused, virtual_clock.time())
    item = await sched.next()
    assert item is refused
    assert virtual_clock.time() == START + 30.0
    assert refused.budget.asked == [START, START + 30.0]  # type: ignore[attr-defined]
    assert refused.budget.in_flight == 1  # type: ignore[attr-defined]
    assert sched.limited == 0


async def test_others_go_on_while_an_item_is_parked(virtual_clock: VirtualClock) -> None:
    sched = Scheduler(virtual_clock)
    parked = Item("parked", turns=1, budget=FakeBudget(refusals=[10.0]))
    busy = Item("busy", turns=30)
    sched.live = 2
    sched.push(parked, virtual_clock.time())
    sched.push(busy, virtual_clock.time())
    order = await drain(sched, virtual_clock)
    # "parked" is refused at 0 and re-queued for 10; "busy" runs at 0..9; at 10 the
    # parked entry (queued earlier) goes before busy's re-push of the same second,
    # and busy's turn comes when the parked one's request is done.
    assert order[:12] == ([("busy", float(t)) for t in range(10)]
                          + [("parked", 10.0), ("busy", 11.0)])
    assert len(order) == 31
    assert [t for n, t in order if n == "busy"] == [float(t) for t in [*range(10), *range(11, 31)]]


async def test_a_real_exact_budget_parks_the_61st_call_until_the_next_minute(
        virtual_clock: VirtualClock) -> None:
    policy = LimitPolicy(windows=(WindowSpec("minutely", 60, 60.0),
                                  WindowSpec("daily", 5000, 86400.0, tz="Europe/Amsterdam")))
    item = Item("tenant", budget=policy.budget(virtual_clock.time()))
    sched = Scheduler(virtual_clock)
    sched.live = 1
    times = []
    for _ in range(121):
        sched.push(item, virtual_clock.time())
        got = await sched.next()
        assert got is item
        item.budget.release()
        times.append(virtual_clock.time() - START)
    assert times[:60] == [0.0] * 60
    assert times[60:120] == [60.0 + SKEW_GUARD] * 60
    assert times[120] == 120.0 + SKEW_GUARD


async def test_an_item_that_needs_no_budget_skips_it(virtual_clock: VirtualClock) -> None:
    sched = Scheduler(virtual_clock)
    budget = FakeBudget(refusals=[100.0])
    item = Item("finishing", budget=budget, ready=False)
    sched.live = 1
    sched.push(item, virtual_clock.time())
    assert await sched.next() is item
    assert budget.asked == []
    assert virtual_clock.time() == START


async def test_a_future_entry_waits_in_virtual_time(virtual_clock: VirtualClock) -> None:
    sched = Scheduler(virtual_clock)
    later, sooner = Item("later"), Item("sooner")
    sched.live = 2
    sched.push(later, START + 90)
    sched.push(sooner, START + 45)
    assert await sched.next() is sooner
    assert virtual_clock.time() == START + 45
    assert await sched.next() is later
    assert virtual_clock.time() == START + 90


async def test_next_returns_none_when_nothing_is_live_or_queued(
        virtual_clock: VirtualClock) -> None:
    sched = Scheduler(virtual_clock)
    assert await sched.next() is None
    sched.live = 1
    sched.live -= 1
    assert await sched.next() is None
    assert virtual_clock.time() == START


async def test_next_waits_while_work_is_live_and_returns_none_when_it_ends() -> None:
    clock = VirtualClock(autojump=False)
    sched = Scheduler(clock)
    sched.live = 1
    waiter = asyncio.create_task(sched.next())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()
    sched.live = 0
    sched.poke()
    assert await asyncio.wait_for(waiter, 1.0) is None
    await clock.aclose()


async def test_stop_makes_next_return_none() -> None:
    clock = VirtualClock(autojump=False)
    sched = Scheduler(clock)
    sched.live = 1
    waiter = asyncio.create_task(sched.next())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()
    sched.stop()
    assert await asyncio.wait_for(waiter, 1.0) is None
    # Even with ready work queued, a stopped scheduler hands out nothing.
    sched.push(Item("ready"), clock.time())
    assert await sched.next() is None
    assert len(sched) == 1
    await clock.aclose()


async def test_a_push_wakes_a_sleeping_next() -> None:
    clock = VirtualClock(autojump=False)
    sched = Scheduler(clock)
    sched.live = 2
    far = Item("far")
    sched.push(far, START + 3600)
    waiter = asyncio.create_task(sched.next())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()
    now = Item("now")
    sched.push(now, clock.time())
    assert await asyncio.wait_for(waiter, 1.0) is now
    assert clock.time() == START
    # The far one still needs its time to come.
    waiter = asyncio.create_task(sched.next())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()
    clock.advance(3599)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()
    clock.advance(1)
    assert await asyncio.wait_for(waiter, 1.0) is far
    assert clock.time() == START + 3600
    await clock.aclose()


async def test_a_push_into_an_empty_heap_wakes_next() -> None:
    clock = VirtualClock(autojump=False)
    sched = Scheduler(clock)
    sched.live = 1
    waiter = asyncio.create_task(sched.next())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()
    item = Item("late")
    sched.push(item)
    assert await asyncio.wait_for(waiter, 1.0) is item
    await clock.aclose()


async def test_repr_and_len_show_the_queue(virtual_clock: VirtualClock) -> None:
    sched = Scheduler(virtual_clock)
    assert repr(sched) == "Scheduler(queued=0, live=0, limited=0)"
    sched.live = 2
    sched.push(Item("a"), START + 5)
    sched.push(Item("b"), START + 2.25, limited=True)
    assert len(sched) == 2
    assert repr(sched) == "Scheduler(queued=2, live=2, limited=1, next_at=1767603602.250)"
    assert (await sched.next()).name == "b"  # type: ignore[union-attr]
    assert sched.limited == 0
    assert repr(sched) == "Scheduler(queued=1, live=2, limited=0, next_at=1767603605.000)"
