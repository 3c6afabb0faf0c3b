"""Every provider plugin through the same end-to-end checks (the conformance kit)."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from replicator.clock import SystemClock
from replicator.testing.clock import VirtualClock
from replicator.testing.conformance import (
    Harness,
    Run,
    check_faults,
    check_full_sync,
    check_hostile_next,
    check_incremental,
    config_text,
)
from replicator.testing.fakebase import FaultSwitches
from tests.integration.harnesses import HARNESSES


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest) -> Harness:
    return HARNESSES[request.param]()


@pytest_asyncio.fixture
async def run(harness: Harness, tmp_path: Path) -> AsyncIterator[Run]:
    clock = VirtualClock()
    await harness.start(clock)
    try:
        yield Run(tmp_path, clock, harness)
    finally:
        await harness.close()
        await clock.aclose()


async def test_full_sync_equals_the_source(run: Run) -> None:
    await check_full_sync(run)


async def test_incremental_sync_equals_the_source(run: Run) -> None:
    assert isinstance(run.clock, VirtualClock)
    await check_incremental(run, run.clock.advance)


def _arm(faults: FaultSwitches) -> None:
    # They hit the first calls, tenant discovery included: five failures, within
    # the six attempts a request gets (a reset costs two: aiohttp retries once).
    faults.fail_5xx(2)
    faults.reset(2)
    faults.truncate_gzip(1)
    faults.html_maintenance(1)


async def test_faults_are_survived(run: Run) -> None:
    await check_faults(run, _arm)


async def test_a_next_link_to_a_foreign_host_is_refused(run: Run) -> None:
    runners: list[web.AppRunner] = []

    async def foreign() -> tuple[str, list[Any]]:
        seen: list[Any] = []

        async def record(request: web.Request) -> web.Response:
            seen.append(dict(request.headers))
            return web.json_response({})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}", seen

    try:
        await check_hostile_next(run, foreign)
    finally:
        for runner in runners:
            await runner.cleanup()


# -- kill -9 and resume, with the CLI in a subprocess (real time) -------------------------


def _rows(path: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                                "AND name NOT LIKE '\\_%' ESCAPE '\\'")]
            return sum(db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables)
    except sqlite3.Error:
        return 0


async def _cli(config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "replicator.cli.main", "run", "-c", str(config), "-q",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)


async def _wait_for_rows(path: Path, proc: asyncio.subprocess.Process, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while _rows(path) < at_least:
        assert proc.returncode is None, (await proc.stdout.read()).decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the run never committed anything"
        await asyncio.sleep(0.01)


@pytest_asyncio.fixture
async def live(harness: Harness, tmp_path: Path) -> AsyncIterator[Run]:
    """The fake in real time (the engine runs in another process), slowed down so
    that a run lasts long enough to be interrupted."""
    clock = SystemClock()
    await harness.start(clock, fast=True)
    try:
        (tmp_path / "replicator.toml").write_text(
            config_text(harness, limits="batch_pages = 1\nmax_in_flight = 4\n"))
        harness.faults.slow(100_000, 0.02)
        yield Run(tmp_path, clock, harness)
    finally:
        await harness.close()


async def _finish_and_check(run: Run) -> None:
    run.harness.faults.slow(0, 0)
    proc = await _cli(run.config_path)
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    await run.assert_mirrors()


@pytest.mark.slow
async def test_kill_9_mid_sync_then_resume_equals_the_source(live: Run) -> None:
    for at_least in (1, 200):
        proc = await _cli(live.config_path)
        await _wait_for_rows(live.directory / "replica.sqlite", proc, at_least)
        proc.kill()  # SIGKILL: no handler, no flush, no goodbye
        await proc.wait()
    await _finish_and_check(live)


@pytest.mark.slow
async def test_sigterm_stops_within_seconds_and_resumes(live: Run) -> None:
    proc = await _cli(live.config_path)
    await _wait_for_rows(live.directory / "replica.sqlite", proc, 1)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = await proc.communicate()
    assert time.monotonic() - started < 8
    assert proc.returncode == 130, out.decode()
    assert b"stopped" in out
    await _finish_and_check(live)
