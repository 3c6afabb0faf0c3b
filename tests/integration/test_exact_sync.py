"""Exact Online end to end over loopback, beyond the conformance checks that every
provider passes (tests/integration/test_conformance.py)."""

from __future__ import annotations

import time
from pathlib import Path

from replicator.engine import Engine
from tests.integration.conftest import SMALL, Env, assert_mirrors, make_env


async def test_incremental_sync_applies_changes_and_deletions(env: Env) -> None:
    assert (await env.run()).ok
    first_requests = env.server.stats.requests_total
    divisions = env.server.division_codes("acme")
    env.server.mutate(divisions[0], "transaction_lines", add=40, change=30, delete=25)
    env.server.mutate(divisions[1], "accounts", add=3, change=4, delete=5)
    env.server.mutate(divisions[2], "vat_codes", add=2, change=3)
    env.clock.advance(3600)
    summary = await env.run()
    assert summary.ok, summary
    await assert_mirrors(env)
    # An increment costs about a request per stream, not a full resync.
    streams = len(divisions) * len(SMALL)
    assert env.server.stats.requests_total - first_requests < 2 * streams + 10


async def test_many_pages_stay_within_the_minute_window(tmp_path: Path) -> None:
    records = dict(SMALL, transaction_lines=12_000)
    env, clock = await make_env(tmp_path, divisions=2, records=records, sync_page_size=100)
    try:
        started = clock.time()
        summary = await env.run()
        assert summary.ok, summary
        await assert_mirrors(env)
        # 120+ pages per division at 60 per clock minute: at least two minutes passed.
        assert clock.time() - started >= 60
        assert env.server.stats.rate_limited == 0
        for division in env.server.division_codes("acme"):
            assert env.server.stats.max_calls_in_any_minute(division) <= 60
    finally:
        await env.store.close()
        await env.server.close()
        await clock.aclose()


async def test_token_refreshed_across_a_long_sync(tmp_path: Path) -> None:
    records = dict(SMALL, transaction_lines=70_000)
    env, clock = await make_env(tmp_path, divisions=1, records=records, sync_page_size=100)
    try:
        started = clock.time()
        summary = await env.run()
        assert summary.ok, summary
        assert clock.time() - started > 600  # longer than one access token lives
        assert env.server.stats.token_refreshes >= 2
        assert env.server.stats.rate_limited == 0
        await assert_mirrors(env)
    finally:
        await env.store.close()
        await env.server.close()
        await clock.aclose()


async def test_faults_are_survived(env: Env) -> None:
    faults = env.server.faults
    first, second, third = env.server.division_codes("acme")
    faults.fail_5xx(2)  # the first calls, discovery included
    faults.fail_5xx(3, status=502, division=first)
    faults.reset(4, division=second)  # aiohttp retries a dropped GET once by itself
    faults.truncate_gzip(3, division=third)
    faults.html_maintenance(2, division=first)
    faults.slow(2, 5.0, division=second)
    summary = await env.run()
    assert summary.ok, summary
    assert summary.snapshot.retries >= 8
    assert faults.pending() == {}, faults.pending()
    await assert_mirrors(env)
    assert env.server.stats.rate_limited == 0


async def test_relative_next_links_are_followed(tmp_path: Path) -> None:
    env, clock = await make_env(tmp_path, divisions=1, sync_page_size=50)
    try:
        env.server.faults.relative_next = True
        assert (await env.run()).ok
        await assert_mirrors(env)
    finally:
        await env.store.close()
        await env.server.close()
        await clock.aclose()


async def test_revoked_connection_does_not_stop_the_others(env: Env) -> None:
    env.tokens["other"] = env.server.add_grant("other")
    env.server.revoke_grant("acme")
    summary = await env.run()
    assert not summary.ok
    assert "acme" in summary.failed_connections
    assert "re-authorisation" in summary.failed_connections["acme"]
    await assert_mirrors(env, connection="other", grant="other")
    statuses = {s.connection: s for s in await env.store.connection_statuses()}
    assert statuses["acme"].state == "needs_reauth"
    assert statuses["other"].state == "ok"


async def test_narrowed_fields_narrow_the_request_and_the_table(env: Env) -> None:
    config = env.config(extra='resources = ["transaction_lines"]\n'
                              '[connections.acme.fields]\n'
                              'transaction_lines = ["AmountDC", "Description"]\n')
    assert (await Engine(config, env.store, clock=env.clock).run()).ok
    division = env.server.division_codes("acme")[0]
    rows = [r async for r in env.store.export("exact_online__transaction_lines",
                                               connection="acme", tenant=str(division))]
    assert len(rows) == SMALL["transaction_lines"]
    assert set(rows[0]) == {"_connection", "_tenant", "_synced_at", "ID", "Timestamp", "AmountDC",
                            "Description"}


async def test_virtual_time_keeps_the_suite_fast(tmp_path: Path) -> None:
    # A rate-limited sync spanning virtual minutes takes little real time.
    records = dict(SMALL, transaction_lines=6_000)
    env, clock = await make_env(tmp_path, divisions=1, records=records, sync_page_size=50)
    try:
        real = time.monotonic()
        virtual = clock.time()
        assert (await env.run()).ok
        assert clock.time() - virtual >= 60
        assert time.monotonic() - real < 30
    finally:
        await env.store.close()
        await env.server.close()
        await clock.aclose()
