"""Per-tenant budgets: fixed clock-aligned windows, header calibration, rolling
windows, concurrency and 429s. Budgets are pure functions of the ``now`` they are
given, so every test passes explicit epoch seconds and nothing sleeps."""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from replicator.limits import (
    FixedWindow,
    LimitPolicy,
    Observation,
    RollingWindow,
    TenantBudget,
    WindowSpec,
)
from replicator.limits.budget import CONCURRENCY_RETRY
from replicator.limits.windows import SKEW_GUARD, aligned_end
from replicator_exact import ExactOnlineProvider

AMS = ZoneInfo("Europe/Amsterdam")
E0 = 1_767_603_600.0  # 2026-01-05 09:00:00 UTC (10:00 CET), a minute boundary
EXACT_POLICY = LimitPolicy(windows=(
    WindowSpec("minutely", 60, 60.0),
    WindowSpec("daily", 5000, 86400.0, tz="Europe/Amsterdam"),
))


def ams(*args: int) -> float:
    """Epoch seconds of an Amsterdam wall-clock time."""
    return datetime(*args, tzinfo=AMS).timestamp()  # type: ignore[misc]


def take(budget: TenantBudget, now: float, n: int) -> None:
    """Take ``n`` calls at ``now``; each must be admitted."""
    for i in range(n):
        assert budget.acquire(now) == 0.0, f"call {i + 1} of {n} at {now} was refused"


def take_all(budget: TenantBudget, now: float) -> int:
    """Take calls at ``now`` until refused; how many went."""
    n = 0
    while budget.acquire(now) == 0.0:
        n += 1
        assert n <= 100_000
    return n


def release(budget: TenantBudget, n: int, at: float | None = None) -> None:
    """``n`` calls answered (at ``at``, when the test cares)."""
    for _ in range(n):
        budget.release(at)


# -- fixed windows: the Exact minute ---------------------------------------------------


def test_the_exact_provider_declares_60_per_minute_and_5000_per_amsterdam_day() -> None:
    assert ExactOnlineProvider.limits == EXACT_POLICY
    budget = ExactOnlineProvider.limits.budget(E0)
    assert budget.names == ("minutely", "daily")
    minutely, daily = budget.windows
    assert isinstance(minutely, FixedWindow) and isinstance(daily, FixedWindow)
    assert (minutely.limit, minutely.end) == (60, E0 + 60)
    assert (daily.limit, daily.end) == (5000, ams(2026, 1, 6, 0, 0))


@pytest.mark.parametrize("offset", [0.0, 0.001, 29.5, 59.0])
def test_fresh_exact_budget_admits_exactly_60_in_the_current_minute(offset: float) -> None:
    budget = ExactOnlineProvider.limits.budget(E0 + offset)
    take(budget, E0 + offset, 60)
    release(budget, 60)
    # The 61st call is told to come back when the next minute opens (plus the skew guard).
    assert budget.acquire(E0 + offset) == E0 + 60 + SKEW_GUARD
    assert budget.acquire(E0 + 59.999) == E0 + 60 + SKEW_GUARD
    assert budget.acquire(E0 + 60.0) == E0 + 60 + SKEW_GUARD
    assert budget.acquire(E0 + 60.4) == E0 + 60 + SKEW_GUARD
    # The next minute has exactly 60 again.
    assert take_all(budget, E0 + 60 + SKEW_GUARD) == 60
    assert budget.acquire(E0 + 61) == E0 + 120 + SKEW_GUARD


def test_a_minute_that_was_skipped_entirely_still_gives_60() -> None:
    budget = EXACT_POLICY.budget(E0)
    take(budget, E0, 60)
    release(budget, 60)
    # Ten idle minutes later: the window rolls over every missed minute at once.
    assert take_all(budget, E0 + 600 + 30) == 60
    assert budget.acquire(E0 + 630) == E0 + 660 + SKEW_GUARD
    assert budget.windows[0].end == E0 + 660  # type: ignore[union-attr]


def test_never_61_in_a_clock_aligned_minute_when_a_call_goes_in_the_skew_guard() -> None:
    """59 calls early in minute 0; one more call 0.2 s after minute 1 began (our
    clock, which is the server's: no skew) and answered at once; then greedy calls
    from the moment the window rolls. The server counts minute 1 by arrival."""
    budget = EXACT_POLICY.budget(E0 + 10)
    take(budget, E0 + 10, 59)
    release(budget, 59)
    sent = [E0 + 10] * 59
    late = E0 + 60.2  # in minute 1 on the server's clock
    if budget.acquire(late) == 0.0:
        sent.append(late)
        budget.release(late + 0.05)  # answered 50 ms later, before the window rolls
    t = E0 + 60 + SKEW_GUARD
    while t < E0 + 120:
        if budget.acquire(t) == 0.0:
            sent.append(t)
            budget.release(t + 0.05)
        else:
            t += 0.25
    per_minute = Counter(math.floor((s - E0) / 60) for s in sent)
    assert per_minute[1] <= 60, f"{per_minute[1]} calls reached the server in minute 1"


# -- fixed windows: in-flight calls at a boundary ---------------------------------------


def test_calls_in_flight_at_the_boundary_are_carried_into_the_next_minute() -> None:
    budget = EXACT_POLICY.budget(E0 + 59)
    take(budget, E0 + 59, 60)  # all 60 still in flight when minute 1 starts
    # They may land in minute 1 on the server: minute 1 starts with 60 used.
    assert budget.acquire(E0 + 60 + SKEW_GUARD) == E0 + 120 + SKEW_GUARD
    release(budget, 60)
    assert budget.acquire(E0 + 90) == E0 + 120 + SKEW_GUARD
    assert take_all(budget, E0 + 120 + SKEW_GUARD) == 60


def test_only_the_calls_still_in_flight_are_carried() -> None:
    budget = EXACT_POLICY.budget(E0 + 50)
    take(budget, E0 + 50, 60)
    release(budget, 40)  # 40 answered inside minute 0, 20 still out at the boundary
    assert take_all(budget, E0 + 61) == 40
    assert budget.acquire(E0 + 61) == E0 + 120 + SKEW_GUARD


@pytest.mark.parametrize("offset", [59.5, 59.75, 59.999])
def test_calls_sent_in_the_last_half_second_are_counted_in_the_next_minute_too(
        offset: float) -> None:
    """By the server's clock (up to SKEW_GUARD away from ours) they may be minute 1's."""
    budget = EXACT_POLICY.budget(E0 + 30)
    take(budget, E0 + 30, 50)
    release(budget, 50, at=E0 + 31)
    take(budget, E0 + offset, 10)
    release(budget, 10, at=E0 + offset + 0.001)
    assert take_all(budget, E0 + 60 + SKEW_GUARD) == 50
    release(budget, 50, at=E0 + 61)
    assert budget.acquire(E0 + 61) == E0 + 120 + SKEW_GUARD


def test_no_call_goes_in_the_first_half_second_of_a_minute() -> None:
    budget = EXACT_POLICY.budget(E0 + 30)
    take(budget, E0 + 30, 10)
    release(budget, 10, at=E0 + 31)
    for t in (E0 + 60, E0 + 60.2, E0 + 60.499):
        assert budget.acquire(t) == E0 + 60 + SKEW_GUARD
    assert take_all(budget, E0 + 60 + SKEW_GUARD) == 60


def test_calls_in_flight_at_the_boundary_count_even_if_answered_before_the_next_acquire() -> None:
    """60 calls issued at 59 s land on the server in minute 1 and are answered at
    60.6 s; nobody asked the budget between 60.0 and 60.6. The server has counted
    60 in minute 1 already, so a call at 61 s would be the 61st."""
    budget = EXACT_POLICY.budget(E0 + 59)
    take(budget, E0 + 59, 60)
    release(budget, 60, at=E0 + 60.6)  # after the boundary, before anyone asks again
    assert budget.acquire(E0 + 61) == E0 + 120 + SKEW_GUARD


# -- a greedy hour ----------------------------------------------------------------------


def simulate_greedy(policy: LimitPolicy, start: float, duration: float, *, workers: int,
                    seed: int) -> list[float]:
    """Workers that each send one request at a time, as soon as the budget allows.

    Returns the times the requests *arrive at the server*: each request travels for
    a random part of its random latency (0.05-3 s) before the server counts it.
    """
    rng = random.Random(seed)
    budget = policy.budget(start)
    events: list[tuple[float, int, str]] = []
    seq = 0
    for _ in range(workers):
        heapq.heappush(events, (start, seq, "attempt"))
        seq += 1
    arrivals: list[float] = []
    while events:
        t, _, kind = heapq.heappop(events)
        if t >= start + duration:
            break
        if kind == "release":
            budget.release(t)
            heapq.heappush(events, (t, seq, "attempt"))
        else:
            free_at = budget.acquire(t)
            if free_at:
                assert free_at > t
                heapq.heappush(events, (free_at, seq, "attempt"))
            else:
                latency = rng.uniform(0.05, 3.0)
                arrivals.append(t + rng.uniform(0.0, latency))
                heapq.heappush(events, (t + latency, seq, "release"))
        seq += 1
    return arrivals


def test_greedy_callers_for_an_hour_never_exceed_60_in_a_server_minute() -> None:
    arrivals = simulate_greedy(EXACT_POLICY, E0, 3600.0, workers=10, seed=7)
    per_minute = Counter(math.floor((a - E0) / 60) for a in arrivals)
    assert max(per_minute.values()) == 60
    # ...and they use the whole budget: 60 in each of the 60 minutes.
    assert sorted(per_minute) == list(range(60))
    assert set(per_minute.values()) == {60}


def test_greedy_callers_starting_mid_minute_never_exceed_60_in_a_server_minute() -> None:
    """A budget is created whenever a tenant appears, not on a minute boundary."""
    for seed in range(5):
        arrivals = simulate_greedy(EXACT_POLICY, E0 + 50, 3600.0, workers=20, seed=seed)
        per_minute = Counter(math.floor((a - E0) / 60) for a in arrivals)
        worst = max(per_minute.items(), key=lambda kv: kv[1])
        assert worst[1] <= 60, f"seed {seed}: {worst[1]} calls in server minute {worst[0]}"


# -- the daily window ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("morning", "midnight_utc"),
    [
        # CET (UTC+1): Amsterdam midnight is 23:00 UTC.
        ((2026, 1, 5, 8, 0), datetime.fromisoformat("2026-01-05T23:00:00+00:00").timestamp()),
        # CEST (UTC+2): Amsterdam midnight is 22:00 UTC.
        ((2026, 7, 6, 8, 0), datetime.fromisoformat("2026-07-06T22:00:00+00:00").timestamp()),
    ],
    ids=["CET", "CEST"],
)
def test_daily_window_caps_at_5000_and_resets_at_amsterdam_midnight(
        morning: tuple[int, ...], midnight_utc: float) -> None:
    start = ams(*morning)
    assert aligned_end(start, 86400.0, "Europe/Amsterdam") == midnight_utc
    budget = EXACT_POLICY.budget(start)
    # Greedy, minute after minute: 60 per minute until the day's 5,000 are gone.
    sent = 0
    minute = start
    while sent < 5000:
        got = take_all(budget, minute)
        release(budget, got)
        assert got == min(60, 5000 - sent)
        sent += got
        minute += 60 + SKEW_GUARD
    assert sent == 5000
    # 84 minutes in (83 full minutes of 60 + 20): the day is spent until midnight.
    later = start + 3 * 3600
    assert budget.acquire(later) == midnight_utc + SKEW_GUARD
    assert budget.acquire(midnight_utc - 0.001) == midnight_utc + SKEW_GUARD
    assert budget.acquire(midnight_utc + 0.25) == midnight_utc + SKEW_GUARD
    assert budget.acquire(midnight_utc + SKEW_GUARD) == 0.0
    assert budget.windows[1].end == midnight_utc + 86400  # type: ignore[union-attr]


def test_daily_window_alone_admits_exactly_5000() -> None:
    policy = LimitPolicy(windows=(WindowSpec("daily", 5000, 86400.0, tz="Europe/Amsterdam"),))
    start = ams(2026, 1, 5, 12, 0)
    budget = policy.budget(start)
    assert take_all(budget, start) == 5000
    assert budget.acquire(start) == ams(2026, 1, 6, 0, 0) + SKEW_GUARD


@pytest.mark.parametrize(
    ("now", "midnight"),
    [
        # Spring forward: 29 March 2026 has 23 hours; it ends at 22:00 UTC (CEST).
        (ams(2026, 3, 29, 0, 30), ams(2026, 3, 30, 0, 0)),
        # Fall back: 25 October 2026 has 25 hours; it ends at 23:00 UTC (CET).
        (ams(2026, 10, 25, 0, 30), ams(2026, 10, 26, 0, 0)),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_daily_window_made_on_a_dst_change_day_ends_at_local_midnight(
        now: float, midnight: float) -> None:
    assert aligned_end(now, 86400.0, "Europe/Amsterdam") == midnight
    budget = LimitPolicy(windows=(
        WindowSpec("daily", 5000, 86400.0, tz="Europe/Amsterdam"),)).budget(now)
    assert budget.windows[0].end == midnight  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("created", "spent_at", "next_midnight"),
    [
        # Made on Saturday 28 March (CET), rolled into Sunday 29 March (23 h long).
        (ams(2026, 3, 28, 12, 0), ams(2026, 3, 29, 12, 0), ams(2026, 3, 30, 0, 0)),
        # Made on Saturday 24 October (CEST), rolled into Sunday 25 October (25 h long).
        (ams(2026, 10, 24, 12, 0), ams(2026, 10, 25, 12, 0), ams(2026, 10, 26, 0, 0)),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_daily_window_rolls_over_to_local_midnight_across_a_dst_change(
        created: float, spent_at: float, next_midnight: float) -> None:
    policy = LimitPolicy(windows=(WindowSpec("daily", 5000, 86400.0, tz="Europe/Amsterdam"),))
    budget = policy.budget(created)
    assert take_all(budget, spent_at) == 5000
    release(budget, 5000)
    # The day is spent until Amsterdam midnight, not an hour before or after it.
    assert budget.acquire(spent_at + 3600) == next_midnight + SKEW_GUARD
    assert budget.acquire(next_midnight - 1800) == next_midnight + SKEW_GUARD
    assert budget.acquire(next_midnight + SKEW_GUARD) == 0.0


# -- header calibration -------------------------------------------------------------------


def minutely(limit: int | None = 60, remaining: int | None = None,
             reset_at: float | None = None) -> Observation:
    return Observation("minutely", limit, remaining, reset_at)


def test_observed_remaining_lowers_what_is_left() -> None:
    budget = EXACT_POLICY.budget(E0 + 1)
    take(budget, E0 + 1, 5)
    release(budget, 5)
    # Another process (or an earlier run) used 45 more this minute: 10 remain.
    budget.observe([minutely(60, 10, E0 + 60)], E0 + 2)
    assert take_all(budget, E0 + 2) == 10
    assert budget.acquire(E0 + 2) == E0 + 60 + SKEW_GUARD


def test_observed_remaining_never_raises_our_own_count_of_calls() -> None:
    budget = EXACT_POLICY.budget(E0 + 1)
    take(budget, E0 + 1, 30)
    release(budget, 30)
    budget.observe([minutely(60, 50, E0 + 60)], E0 + 2)  # a response that left early
    assert take_all(budget, E0 + 2) == 30


def test_observed_larger_limit_is_adopted_for_a_premium_licence() -> None:
    budget = EXACT_POLICY.budget(E0 + 1)
    take(budget, E0 + 1, 1)
    budget.release()
    budget.observe([minutely(100, 99, E0 + 60),
                    Observation("daily", 15000, 14999, ams(2026, 1, 6, 0, 0))], E0 + 2)
    assert take_all(budget, E0 + 2) == 99
    release(budget, 99)
    assert budget.acquire(E0 + 2) == E0 + 60 + SKEW_GUARD
    assert take_all(budget, E0 + 60 + SKEW_GUARD) == 100
    assert budget.windows[1].limit == 15000


def test_observed_smaller_remaining_on_the_daily_window() -> None:
    budget = EXACT_POLICY.budget(E0)
    take(budget, E0, 1)
    budget.release()
    budget.observe([Observation("daily", 5000, 100, ams(2026, 1, 6, 0, 0))], E0)
    sent = 0
    t = E0
    while True:
        got = take_all(budget, t)
        release(budget, got)
        sent += got
        if not got:
            break
        t += 60 + SKEW_GUARD
    assert sent == 100
    assert budget.acquire(t) == ams(2026, 1, 6, 0, 0) + SKEW_GUARD


def test_a_later_server_reset_moves_the_window_and_trusts_the_servers_count() -> None:
    """Our clock is 15 s ahead of the server's: its minute ends at our E0+75."""
    budget = EXACT_POLICY.budget(E0 + 30)
    take(budget, E0 + 30, 60)
    release(budget, 60)
    assert budget.acquire(E0 + 50) == E0 + 60 + SKEW_GUARD
    budget.observe([minutely(60, 40, E0 + 75)], E0 + 50)
    assert budget.windows[0].end == E0 + 75  # type: ignore[union-attr]
    assert take_all(budget, E0 + 50) == 40
    release(budget, 40)
    assert budget.acquire(E0 + 50) == E0 + 75 + SKEW_GUARD
    # From now on the windows are aligned on the server's minute.
    assert take_all(budget, E0 + 75 + SKEW_GUARD) == 60
    assert budget.acquire(E0 + 100) == E0 + 135 + SKEW_GUARD


def test_an_earlier_server_reset_moves_the_window_end_forward_in_time() -> None:
    """Our clock is 10 s behind the server's: its minute ends at our E0+50."""
    budget = EXACT_POLICY.budget(E0 + 5)
    take(budget, E0 + 5, 60)
    release(budget, 60)
    budget.observe([minutely(60, 0, E0 + 50)], E0 + 6)
    assert budget.windows[0].end == E0 + 50  # type: ignore[union-attr]
    assert budget.acquire(E0 + 49) == E0 + 50 + SKEW_GUARD
    assert take_all(budget, E0 + 50 + SKEW_GUARD) == 60
    assert budget.acquire(E0 + 51) == E0 + 110 + SKEW_GUARD


def test_a_reset_within_a_second_of_ours_is_the_same_window() -> None:
    budget = EXACT_POLICY.budget(E0 + 5)
    budget.observe([minutely(60, 20, E0 + 60.8)], E0 + 6)
    assert budget.windows[0].end == E0 + 60  # type: ignore[union-attr]
    assert take_all(budget, E0 + 6) == 20


def test_a_stale_observation_from_a_window_that_is_over_is_ignored() -> None:
    budget = EXACT_POLICY.budget(E0 + 61)
    take(budget, E0 + 61, 3)
    release(budget, 3)
    # The answer to a minute-0 call arrives late: "0 remaining, resets at E0+60".
    budget.observe([minutely(60, 0, E0 + 60)], E0 + 62)
    assert budget.windows[0].end == E0 + 120  # type: ignore[union-attr]
    assert take_all(budget, E0 + 62) == 57


def test_observations_for_unknown_windows_are_ignored() -> None:
    budget = EXACT_POLICY.budget(E0)
    budget.observe([Observation("hourly", 10, 0, E0 + 3600)], E0)
    assert take_all(budget, E0) == 60


# -- 429 --------------------------------------------------------------------------------


def test_rate_limited_blocks_until_the_announced_reset() -> None:
    budget = EXACT_POLICY.budget(E0 + 10)
    take(budget, E0 + 10, 30)
    release(budget, 30)
    # The server says the minute is spent (a minutely 429 has only minutely headers).
    retry = budget.rate_limited([minutely(60, 0, E0 + 60)], E0 + 20)
    assert retry == E0 + 60
    assert budget.blocked_until == E0 + 60
    assert budget.acquire(E0 + 20) == E0 + 60
    assert budget.acquire(E0 + 59.9) == E0 + 60
    assert budget.acquire(E0 + 60) == E0 + 60 + SKEW_GUARD
    assert take_all(budget, E0 + 60 + SKEW_GUARD) == 60


def test_rate_limited_with_a_later_reset_moves_the_window() -> None:
    budget = EXACT_POLICY.budget(E0 + 10)
    retry = budget.rate_limited([minutely(None, None, E0 + 75)], E0 + 20)
    assert retry == E0 + 75
    assert budget.acquire(E0 + 75) == E0 + 75 + SKEW_GUARD
    assert take_all(budget, E0 + 75 + SKEW_GUARD) == 60


def test_rate_limited_honours_an_explicit_retry_at() -> None:
    budget = EXACT_POLICY.budget(E0)
    assert budget.rate_limited([], E0 + 5, retry_at=E0 + 125) == E0 + 125
    assert budget.acquire(E0 + 124.9) == E0 + 125
    assert budget.acquire(E0 + 125) == 0.0


def test_rate_limited_without_any_reset_waits_a_minute() -> None:
    budget = LimitPolicy(windows=(WindowSpec("rolling", 300, 300.0, kind="rolling"),)).budget(E0)
    assert budget.rate_limited([], E0 + 7) == E0 + 67
    assert budget.acquire(E0 + 66) == E0 + 67
    assert budget.acquire(E0 + 67) == 0.0


def test_rate_limited_never_shortens_an_existing_block() -> None:
    budget = EXACT_POLICY.budget(E0)
    budget.rate_limited([], E0, retry_at=E0 + 300)
    assert budget.rate_limited([], E0 + 1, retry_at=E0 + 100) == E0 + 300


def test_a_budget_built_without_window_names_survives_observations_and_429s() -> None:
    budget = TenantBudget([FixedWindow(60, 60.0, E0 + 60)])
    budget.observe([minutely(60, 0, E0 + 60)], E0)
    assert budget.rate_limited([minutely(60, 0, E0 + 60)], E0, retry_at=E0 + 60) == E0 + 60
    assert budget.acquire(E0 + 1) == E0 + 60


# -- rolling windows ----------------------------------------------------------------------


def test_rolling_window_admits_300_then_waits_for_the_oldest_to_age_out() -> None:
    policy = LimitPolicy(windows=(WindowSpec("rolling", 300, 300.0, kind="rolling"),))
    budget = policy.budget(E0)
    assert isinstance(budget.windows[0], RollingWindow)
    take(budget, E0 + 10, 100)
    take(budget, E0 + 20, 200)
    release(budget, 300)
    assert budget.acquire(E0 + 30) == E0 + 310 + SKEW_GUARD
    assert take_all(budget, E0 + 310 + SKEW_GUARD) == 100
    assert budget.acquire(E0 + 311) == E0 + 320 + SKEW_GUARD
    assert take_all(budget, E0 + 320 + SKEW_GUARD) == 200


def test_rolling_window_never_exceeds_300_in_any_300_second_interval() -> None:
    policy = LimitPolicy(windows=(WindowSpec("rolling", 300, 300.0, kind="rolling"),))
    budget = policy.budget(E0)
    rng = random.Random(11)
    sent: list[float] = []
    t = E0
    end = E0 + 3600
    while t < end:
        # Bursty demand: sometimes a crowd, sometimes a trickle.
        for _ in range(rng.choice([1, 1, 2, 5, 40])):
            free_at = budget.acquire(t)
            if free_at == 0.0:
                sent.append(t)
                budget.release()
            else:
                assert free_at > t
        t += rng.uniform(0.0, 2.0)
    sent.sort()
    worst = 0
    j = 0
    for i, start in enumerate(sent):
        while sent[j] <= start - 300:  # sends in (start - 300, start]
            j += 1
        worst = max(worst, i - j + 1)
    assert worst <= 300
    assert worst == 300  # the demand is high enough to fill it
    assert len(sent) >= 300 * 11  # and it is used: at least 300 per 300 s after the first


def test_rolling_window_with_a_429_counts_as_full_from_the_last_send() -> None:
    window = RollingWindow(300, 300.0)
    window.take_at(E0)
    window.take_at(E0 + 5)
    window.exhaust(None)
    assert len(window.sent) == 300
    assert window.free_at(E0 + 6, 0) == E0 + 300 + SKEW_GUARD
    # The call at E0 ages out at E0+300; the 299 "virtual" calls at E0+5 at E0+305.
    assert window.free_at(E0 + 300, 0) == 0.0
    window.take_at(E0 + 300)
    assert window.free_at(E0 + 300, 0) == E0 + 305 + SKEW_GUARD
    assert window.free_at(E0 + 305, 0) == 0.0
    assert len(window.sent) == 1


# -- concurrency ------------------------------------------------------------------------------


def test_max_concurrency_caps_calls_in_flight() -> None:
    budget = LimitPolicy(max_concurrency=2).budget(E0)
    assert budget.acquire(E0) == 0.0
    assert budget.acquire(E0) == 0.0
    assert budget.acquire(E0 + 1) == E0 + 1 + CONCURRENCY_RETRY
    assert budget.in_flight == 2
    budget.release()
    assert budget.acquire(E0 + 1) == 0.0
    assert budget.acquire(E0 + 1) == E0 + 1 + CONCURRENCY_RETRY


def test_a_call_refused_by_concurrency_is_not_counted_in_the_windows() -> None:
    policy = LimitPolicy(windows=EXACT_POLICY.windows, max_concurrency=5)
    budget = policy.budget(E0)
    refused = 0
    for _ in range(100):
        if budget.acquire(E0):
            refused += 1
    assert refused == 95
    assert budget.windows[0].used == 5  # type: ignore[union-attr]
    release(budget, 5)
    assert take_all(budget, E0) == 5  # still concurrency-bound
    release(budget, 5)
    assert budget.windows[0].used == 10  # type: ignore[union-attr]


def test_a_call_refused_by_one_window_is_counted_in_none() -> None:
    budget = EXACT_POLICY.budget(E0)
    budget.observe([Observation("daily", 5000, 0, ams(2026, 1, 6, 0, 0))], E0)
    assert budget.acquire(E0) == ams(2026, 1, 6, 0, 0) + SKEW_GUARD
    assert budget.windows[0].used == 0  # type: ignore[union-attr]
    assert budget.in_flight == 0


# -- repr ------------------------------------------------------------------------------------


def test_repr_shows_live_state() -> None:
    budget = EXACT_POLICY.budget(E0)
    take(budget, E0, 3)
    budget.release()
    midnight = ams(2026, 1, 6, 0, 0)
    assert repr(budget) == (
        "TenantBudget(in_flight=2, blocked_until=0.000, windows=["
        f"FixedWindow(3/60, period=60, end={E0 + 60:.3f}), "
        f"FixedWindow(3/5000, period=86400, end={midnight:.3f})])"
    )
    budget.rate_limited([], E0, retry_at=E0 + 42.5)
    assert "blocked_until=1767603642.500" in repr(budget)
    rolling = RollingWindow(300, 300.0)
    rolling.take_at(E0)
    assert repr(rolling) == "RollingWindow(1/300, period=300)"
