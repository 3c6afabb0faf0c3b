"""Rate limits end to end, in virtual time: the engine adapts to what the server
says, waits out a 429 until the reset it names, and takes tenants in turns."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from replicator.stores.base import PageWrite
from replicator.stores.sqlite import SQLiteStore
from tests.integration.conftest import SMALL, assert_mirrors, make_env


async def test_a_429_is_waited_out_until_the_reset_the_headers_give(tmp_path: Path) -> None:
    # Another client of the same app spends a whole minute behind the engine's
    # back: the engine's next calls get 429s, which it must wait out until the
    # reset the headers give, not retry.
    # Four resources with many pages: four requests in flight at once.
    records = dict(SMALL, transaction_lines=6_000, accounts=3_000, contacts=3_000, items=3_000)
    env, clock = await make_env(tmp_path, divisions=1, records=records, sync_page_size=50)
    try:
        division = env.server.division_codes("acme")[0]
        started = clock.time()
        minute = started - started % 60
        env.server.faults.slow(100_000, 0.2)  # answers take (virtual) time
        clock.call_at(minute + 61.5, lambda: env.server.spend(division, 60))
        summary = await env.run()
        assert summary.ok, summary
        await assert_mirrors(env)
        assert summary.snapshot.rate_limited == env.server.stats.rate_limited >= 1
        # One 429 per stream at most: each waited for the reset instead of retrying.
        assert env.server.stats.rate_limited <= len(SMALL)
        assert env.server.stats.max_calls_in_any_minute(division) <= 60
    finally:
        await env.store.close()
        await env.server.close()
        await clock.aclose()


async def test_a_higher_limit_in_the_headers_is_used(tmp_path: Path) -> None:
    # A premium licence: 300 a minute. The engine learns it from the first answers.
    records = dict(SMALL, transaction_lines=30_000)
    env, clock = await make_env(tmp_path, divisions=1, records=records, sync_page_size=100,
                                minutely_limit=300)
    try:
        started = clock.time()
        summary = await env.run()
        assert summary.ok, summary
        assert env.server.stats.rate_limited == 0
        # ~310 calls: at 60 a minute that would be 5+ minutes; at 300, about one.
        assert clock.time() - started < 150
        await assert_mirrors(env)
    finally:
        await env.store.close()
        await env.server.close()
        await clock.aclose()


async def test_the_daily_limit_is_respected_across_midnight(tmp_path: Path) -> None:
    records = dict(SMALL, transaction_lines=5_000)
    env, clock = await make_env(tmp_path, divisions=1, records=records, sync_page_size=100,
                                daily_limit=40)
    try:
        started = clock.time()
        summary = await env.run()
        assert summary.ok, summary
        assert env.server.stats.rate_limited == 0
        await assert_mirrors(env)
        # ~60 calls at 40 a day: it had to wait for the next (Amsterdam) day.
        assert clock.time() - started > 3600
    finally:
        await env.store.close()
        await env.server.close()
        await clock.aclose()


class RecordingStore(SQLiteStore):
    """Remembers the order in which pages of each stream were committed."""

    order: list[str]

    async def write(self, pages: Sequence[PageWrite]) -> None:
        await super().write(pages)
        self.order.extend(f"{p.stream.tenant}/{p.stream.resource}" for p in pages)


async def test_a_big_tenant_does_not_starve_small_ones(tmp_path: Path) -> None:
    records = {"transaction_lines": 3_000}
    env, clock = await make_env(tmp_path, divisions=4, records=records, sync_page_size=50,
                                minutely_limit=100_000)
    try:
        big = env.server.division_codes("acme")[0]
        env.server.mutate(big, "transaction_lines", add=10_000)  # 260 pages for one tenant
        await env.store.close()
        env.store = RecordingStore(tmp_path / "fair.sqlite", clock=clock)
        env.store.order = []
        await env.store.open()
        config = env.config(extra='resources = ["transaction_lines"]\n',
                            limits="max_in_flight = 2\nbatch_pages = 1\n")
        assert (await env.run(config)).ok
        order = env.store.order
        last_small = max(i for i, name in enumerate(order) if not name.startswith(str(big)))
        # The three small tenants (60 pages each) finish long before the big one's
        # 260 pages do: with turns taken in order they end by page ~240 of ~440.
        assert last_small < 0.6 * len(order), (last_small, len(order))
        assert sum(1 for name in order if name.startswith(str(big))) >= 260
    finally:
        await env.store.close()
        await env.server.close()
        await clock.aclose()
