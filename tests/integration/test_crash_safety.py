"""Kill the real CLI process mid-sync (SIGKILL, SIGTERM) and resume: the replica
must end identical to the source, with nothing lost and nothing duplicated."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from replicator.clock import SystemClock
from replicator.stores.sqlite import SQLiteStore
from replicator.testing.clock import VirtualClock
from replicator.testing.fake_exact import FakeExactServer
from tests.integration.conftest import SMALL, Env, assert_mirrors, config_text

pytestmark = pytest.mark.slow

RECORDS = dict(SMALL, transaction_lines=6_000, accounts=600)


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[Env]:
    # Real time: the engine runs in another process and cannot share a virtual clock.
    server = FakeExactServer(divisions=3, records=RECORDS, sync_page_size=200,
                             minutely_limit=100_000, daily_limit=10_000_000)
    await server.start()
    env = Env(VirtualClock(), server, SQLiteStore(tmp_path / "replica.sqlite"), tmp_path)
    env.tokens["acme"] = server.add_grant("acme")
    (tmp_path / "replicator.toml").write_text(
        config_text(server, env.tokens, limits="batch_pages = 1\n"))
    try:
        yield env
    finally:
        await server.close()
        await env.clock.aclose()


def replica_rows(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return db.execute('SELECT COUNT(*) FROM "exact_online__transaction_lines"').fetchone()[0]
    except sqlite3.Error:
        return 0


async def start_run(env: Env) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "replicator.cli.main", "run", "-c", str(env.tmp / "replicator.toml"),
        "-q", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)


async def wait_for_rows(env: Env, proc: asyncio.subprocess.Process, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while replica_rows(env.tmp / "replica.sqlite") < at_least:
        assert proc.returncode is None, (await proc.stdout.read()).decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the run never committed anything"
        await asyncio.sleep(0.02)


async def finish_and_check(env: Env) -> None:
    proc = await start_run(env)
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    env.store = SQLiteStore(env.tmp / "replica.sqlite", clock=SystemClock())
    await env.store.open()
    try:
        await assert_mirrors(env)
    finally:
        await env.store.close()


async def test_kill_9_mid_sync_then_resume_equals_the_source(live: Env) -> None:
    live.server.faults.slow(10_000, 0.02)  # keep the run going long enough to be killed
    for at_least in (1, 2_000):
        proc = await start_run(live)
        await wait_for_rows(live, proc, at_least)
        proc.kill()  # SIGKILL: no handler, no flush, no goodbye
        await proc.wait()
    assert replica_rows(live.tmp / "replica.sqlite") < 3 * RECORDS["transaction_lines"]
    live.server.faults.slow(0, 0)
    await finish_and_check(live)


async def test_sigterm_stops_within_seconds_and_resumes(live: Env) -> None:
    live.server.faults.slow(10_000, 0.02)
    proc = await start_run(live)
    await wait_for_rows(live, proc, 1)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = await proc.communicate()
    assert time.monotonic() - started < 8
    assert proc.returncode == 130, out.decode()
    assert b"stopped" in out
    live.server.faults.slow(0, 0)
    await finish_and_check(live)
