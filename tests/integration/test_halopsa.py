"""HaloPSA end to end over loopback in virtual time, beyond the conformance checks
(tests/integration/test_conformance.py): token discovery, fan-out paging and the
page-size trap, the rolling window, increments and sweeps, the secrets of the
accounting integrations, and bad or hostile answers."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import web

from replicator.engine import Engine, RunSummary
from replicator.errors import ClientError, ConfigError, DecodeError, RetryableError, UnsafeURL
from replicator.stores.sqlite import SQLiteStore
from replicator.testing.clock import VirtualClock
from replicator.testing.conformance import Run
from replicator.testing.fakebase import Reply
from replicator.types import Request, Response
from replicator_halopsa import HaloPSAProvider
from replicator_halopsa.auth import find_token_url, instance_id, instance_name
from replicator_halopsa.records import SECRET_FIELDS, parse_halo_time
from tests.integration.harnesses.halopsa import TENANT, HaloHarness, HostileAuthinfoHalo

SMALL = {"Client": 30, "Tickets": 45, "Site": 12, "Users": 20, "Invoice": 25, "XeroDetails": 2,
         "QuickBooksDetails": 2, "SageBusinessCloudDetails": 2, "MYOBdetails": 2, "KashflowDetails": 2}


@pytest_asyncio.fixture
async def clock() -> AsyncIterator[VirtualClock]:
    c = VirtualClock()
    try:
        yield c
    finally:
        await c.aclose()


@asynccontextmanager
async def halo(clock: VirtualClock, tmp_path: Path, **kwargs: Any) -> AsyncIterator[Run]:
    kwargs.setdefault("records", SMALL)
    kwargs.setdefault("page_size", 10)
    harness = HaloHarness(**kwargs)
    await harness.start(clock)
    try:
        yield Run(tmp_path, clock, harness)
    finally:
        await harness.close()


async def sync(run: Run, logs: list[str] | None = None, **config: Any) -> RunSummary:
    """One engine run, collecting log lines in ``logs``."""
    store = SQLiteStore(run.directory / "replica.sqlite", clock=run.clock)
    await store.open()
    try:
        engine = Engine(run.write_config(**config), store, clock=run.clock,
                        listener=(lambda level, message: logs.append(message)) if logs is not None else None)
        return await engine.run()
    finally:
        await store.close()


def harness(run: Run) -> HaloHarness:
    assert isinstance(run.harness, HaloHarness)
    return run.harness


def fake(run: Run) -> HostileAuthinfoHalo:
    return harness(run).fake


def failure(run: Run, summary: RunSummary) -> str:
    """Why the one tenant of the run failed."""
    assert not summary.ok
    return summary.failed_tenants[f"conn/{harness(run).tenant}"]


def api_calls(run: Run, path: str) -> int:
    return int(fake(run).stats.requests[(TENANT, f"/{TENANT}/api/{path}")])


# -- auth -----------------------------------------------------------------------------


@pytest.mark.parametrize(("hosted", "token_at_root"), [(True, False), (True, True), (False, False), (False, True)])
async def test_the_token_is_found_through_authinfo(clock: VirtualClock, tmp_path: Path, hosted: bool,
                                                   token_at_root: bool) -> None:
    async with halo(clock, tmp_path, hosted=hosted, token_at_root=token_at_root) as run:
        summary = await sync(run)
        assert summary.ok, summary
        await run.assert_mirrors()
        stats = fake(run).stats
        token_path = f"/{TENANT}/token" if token_at_root else f"/{TENANT}/auth/token"
        # The fake refuses every call made with a token issued without scope=all.
        assert stats.requests[(TENANT, token_path)] == stats.token_refreshes == 1
        assert stats.requests[(TENANT, f"/{TENANT}/api/authinfo")] == 1
        assert stats.responses[401] == 0


async def test_the_token_is_renewed_through_authinfo_when_it_expires(clock: VirtualClock, tmp_path: Path) -> None:
    async with halo(clock, tmp_path, token_lifetime=90, records=dict(SMALL, Tickets=300)) as run:
        fake(run).faults.slow(10_000, 10.0)  # a sync that outlives a token
        summary = await sync(run)
        assert summary.ok, summary
        await run.assert_mirrors()
        stats = fake(run).stats
        assert stats.token_refreshes >= 2
        assert stats.requests[(TENANT, f"/{TENANT}/api/authinfo")] == stats.token_refreshes


class _Send:
    def __init__(self, *answers: Response) -> None:
        self.answers = list(answers)
        self.sent: list[Request] = []

    async def __call__(self, request: Request) -> Response:
        self.sent.append(request)
        return self.answers.pop(0)


def _answer(status: int, body: Any, kind: str = "application/json") -> Response:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(status, {"Content-Type": kind}, data, "https://acme.halopsa.com/api/authinfo")


async def test_token_url_is_built_from_authinfo() -> None:
    base = "https://acme.halopsa.com"
    send = _Send(_answer(200, {"auth_url": f"{base}/auth/", "tenant_id": "acme id&x"}))
    assert await find_token_url(send, base) == f"{base}/auth/token?tenant=acme%20id%26x"
    assert send.sent[0].url == f"{base}/api/authinfo"
    assert await find_token_url(_Send(_answer(200, {"auth_url": "/auth"})), base) == f"{base}/auth/token"
    assert await find_token_url(_Send(_answer(200, {"auth_url": base})), base) == f"{base}/token"


@pytest.mark.parametrize(("answer", "error", "text"), [
    (_answer(503, b"<html>down</html>", "text/html"), RetryableError, "503"),
    (_answer(404, {"message": "Not found"}), ClientError, "base_url"),
    (_answer(200, b"<html><title>Maintenance</title></html>", "text/html"), DecodeError, "expected JSON"),
    (_answer(200, {"tenant_id": "x"}), DecodeError, "auth_url"),
    (_answer(200, {"auth_url": "https://evil.example/auth"}), UnsafeURL, "https://evil.example"),
])
async def test_bad_authinfo_answers(answer: Response, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        await find_token_url(_Send(answer), "https://acme.halopsa.com")


# -- one tenant per instance, options -----------------------------------------------------


async def test_a_connection_covers_one_instance_named_from_its_url() -> None:
    for url in ("https://acme.halopsa.com", "https://acme.halopsa.com/", "https://acme.halopsa.com/api/",
                "https://ACME.halopsa.com"):
        provider = HaloPSAProvider(url)
        assert provider.base_url.lower() == "https://acme.halopsa.com"
        tenants = await provider.discover(None)  # type: ignore[arg-type]  # no request is made
        assert [(t.id, t.name) for t in tenants] == [("acme.halopsa.com", "acme")]
    assert instance_id("http://127.0.0.1:8080/halo1") == "127.0.0.1:8080/halo1"
    assert instance_name("http://127.0.0.1:8080/halo1") == "halo1"
    with pytest.raises(ConfigError, match="base_url is required"):
        HaloPSAProvider(None)


@pytest.mark.parametrize(("options", "text"), [
    ({"include_secret": True}, "unknown option"),
    ({"include_secrets": "yes"}, "include_secrets"),
    ({"page_size": 0}, "page_size"),
    ({"page_size": True}, "page_size"),
])
def test_options_are_checked(options: dict[str, Any], text: str) -> None:
    with pytest.raises(ConfigError, match=text):
        HaloPSAProvider("https://acme.halopsa.com", options)


# -- paging -------------------------------------------------------------------------------


async def test_pages_after_the_first_are_fanned_out_concurrently(clock: VirtualClock, tmp_path: Path) -> None:
    async with halo(clock, tmp_path, records=dict(SMALL, Tickets=200)) as run:
        order: list[int] = []

        async def note(request: web.Request, reply: Reply) -> None:
            if request.path.endswith("/api/Tickets"):
                order.append(int(request.query["page_no"]))

        fake(run).intercept = note
        fake(run).faults.slow(10_000, 10.0)  # every call takes 10 s
        started = clock.time()
        summary = await sync(run)
        assert summary.ok, summary
        await run.assert_mirrors()
        assert api_calls(run, "Tickets") == 20 == len(set(order))
        # One page after another would take 200 s for Tickets alone.
        assert clock.time() - started < 100
        # Page 1 plans the pass; the rest go from the last page down, so that a
        # record deleted mid-pass only moves records into pages still to come.
        assert order[0] == 1 and order[1] >= 17


async def test_a_clamped_page_size_is_detected(clock: VirtualClock, tmp_path: Path) -> None:
    async with halo(clock, tmp_path, page_size=25, max_page_size=7) as run:
        summary = await sync(run)
        assert summary.ok, summary
        await run.assert_mirrors()
        assert api_calls(run, "Tickets") == math.ceil(45 / 7)
        assert api_calls(run, "Client") == math.ceil(30 / 7)


async def test_one_page_resources_and_empty_ones_cost_one_call(clock: VirtualClock, tmp_path: Path) -> None:
    async with halo(clock, tmp_path, page_size=100, records=dict(SMALL, Site=0)) as run:
        summary = await sync(run)
        assert summary.ok, summary
        await run.assert_mirrors()
        assert fake(run).stats.calls(TENANT) == 10  # one per resource


# -- the rolling window ---------------------------------------------------------------------


async def test_the_rolling_window_is_never_hit(clock: VirtualClock, tmp_path: Path) -> None:
    async with halo(clock, tmp_path, records=dict(SMALL, Tickets=7_000)) as run:
        started = clock.time()
        summary = await sync(run)
        assert summary.ok, summary
        await run.assert_mirrors()
        stats = fake(run).stats
        assert stats.calls(TENANT) > 700  # three windows' worth
        assert stats.rate_limited == 0
        assert stats.max_calls_in_window(TENANT, 300) <= 300
        assert clock.time() - started > 600


async def test_a_window_spent_by_another_client_is_waited_out(clock: VirtualClock, tmp_path: Path) -> None:
    async with halo(clock, tmp_path) as run:
        fake(run).spend(TENANT, 300)  # another integration of the same instance
        started = clock.time()
        summary = await sync(run)
        assert summary.ok, summary
        await run.assert_mirrors()
        assert clock.time() - started >= 300
        # The calls in flight when the first 429 came, then nothing until the window
        # has surely turned: no probing every minute.
        assert 0 < fake(run).stats.rate_limited <= 8


# -- increments and sweeps ------------------------------------------------------------------


async def test_increments_use_lastupdatefromdate_and_full_scans_sweep(clock: VirtualClock, tmp_path: Path) -> None:
    async with halo(clock, tmp_path) as run:
        assert (await sync(run)).ok
        served = dict(fake(run).stats.records_served)
        run.harness.mutate()
        clock.advance(3600)
        summary = await sync(run)
        assert summary.ok, summary
        await run.assert_mirrors()  # Invoice and accounting deletions swept away
        after = fake(run).stats.records_served
        # Changed and added records, plus the few at the cursor itself.
        assert after["Client"] - served["Client"] <= 5 + 7 + 2
        assert after["Tickets"] - served["Tickets"] <= 10 + 20 + 2
        assert after["Invoice"] - served["Invoice"] == 25 + 4 - 5  # a full scan
        store = SQLiteStore(run.directory / "replica.sqlite", clock=clock)
        await store.open()
        try:
            states = await store.load_states("conn")
        finally:
            await store.close()
        cursor = orjson.loads(states[(harness(run).tenant, "clients")].cursor or "null")
        newest = max(rec["last_update"] for rec in fake(run).expected(TENANT, "Client").values())
        # The newest change seen (older than the pass start minus the look-back), as ISO UTC text.
        assert cursor == str(parse_halo_time(newest)) and cursor.endswith("Z")
        assert states[(harness(run).tenant, "invoices")].cursor is None


# -- secrets ---------------------------------------------------------------------------------


def _replica_bytes(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in directory.iterdir() if path.name.startswith("replica"))


async def test_secrets_are_never_stored_or_logged_by_default(clock: VirtualClock, tmp_path: Path) -> None:
    async with halo(clock, tmp_path) as run:
        served_plain_text = 0

        async def plain_text(request: web.Request, reply: Reply) -> Reply | None:
            nonlocal served_plain_text
            if request.path.endswith("/api/XeroDetails") and served_plain_text < 2:
                served_plain_text += 1  # the secrets, as a page the plugin refuses
                return Reply(200, reply.body, "text/plain")
            return None

        fake(run).intercept = plain_text
        logs: list[str] = []
        assert (await sync(run, logs)).ok
        run.harness.mutate()
        clock.advance(3600)
        assert (await sync(run, logs)).ok
        await run.assert_mirrors()
        assert any("XeroDetails" in line and "withheld" in line for line in logs)
        secrets = fake(run).secret_values(TENANT)
        assert len(secrets) >= 20
        data = _replica_bytes(run.directory)
        text = "\n".join(logs)
        for secret in secrets:
            assert secret.encode() not in data
            assert secret not in text
        with sqlite3.connect(run.directory / "replica.sqlite") as db:
            tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE name LIKE '%details'")]
            assert len(tables) == 5
            for table in tables:
                columns = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
                assert not columns & SECRET_FIELDS, table


async def test_secrets_are_mirrored_when_the_connection_opts_in(clock: VirtualClock, tmp_path: Path) -> None:
    async with halo(clock, tmp_path, include_secrets=True) as run:
        assert (await sync(run)).ok
        run.harness.mutate()  # secrets rotate at the source
        clock.advance(3600)
        assert (await sync(run)).ok
        await run.assert_mirrors()
        data = _replica_bytes(run.directory)
        assert all(secret.encode() in data for secret in fake(run).secret_values(TENANT))
        with sqlite3.connect(run.directory / "replica.sqlite") as db:
            columns = {row[1] for row in db.execute('PRAGMA table_info("halopsa__myob_details")')}
        assert {"new_password", "new_access_token", "new_client_secret"} <= columns


# -- bad and hostile answers ---------------------------------------------------------------------


def _replace(path: str, reply: Callable[[web.Request, Reply], Reply]) -> Any:
    async def intercept(request: web.Request, original: Reply) -> Reply | None:
        return reply(request, original) if request.path.endswith(path) else None
    return intercept


async def test_a_wrong_content_type_fails_the_stream_with_what_came(clock: VirtualClock, tmp_path: Path) -> None:
    async with halo(clock, tmp_path) as run:
        fake(run).intercept = _replace("/api/Invoice", lambda req, rep: Reply(200, b"Invoices: none", "text/plain"))
        summary = await sync(run, limits="max_attempts = 2\n")
        why = failure(run, summary)
        assert "expected a JSON list, got text/plain" in why and "Invoices: none" in why
        assert "resource=invoices" in why


async def test_a_truncated_body_is_retried(clock: VirtualClock, tmp_path: Path) -> None:
    async with halo(clock, tmp_path) as run:
        fake(run).faults.truncate_gzip(4, tenant=TENANT)
        summary = await sync(run)
        assert summary.ok, summary
        assert summary.snapshot.retries >= 4
        await run.assert_mirrors()


async def test_an_error_body_is_surfaced(clock: VirtualClock, tmp_path: Path) -> None:
    async with halo(clock, tmp_path) as run:
        message = "You do not have permission to view Invoices"
        fake(run).intercept = _replace("/api/Invoice", lambda req, rep: Reply.json(403, {"message": message}))
        summary = await sync(run)
        assert message in failure(run, summary)
        assert api_calls(run, "Invoice") == 1  # a 4xx is not retried blindly


async def test_a_wrong_base_url_says_so(clock: VirtualClock, tmp_path: Path) -> None:
    async with halo(clock, tmp_path) as run:
        fake(run).intercept = _replace("/api/authinfo", lambda req, rep: Reply(404, b"Not Found", "text/plain"))
        summary = await sync(run)
        assert "authinfo answered 404" in failure(run, summary)


def _same_page_forever(request: web.Request, reply: Reply) -> Reply:
    body = orjson.loads(reply.body)
    size = int(request.query["page_size"])
    return Reply.json(200, {"tickets": [dict(rec, id=i + 1) for i, rec in enumerate(body["tickets"][:1] * size)]})


async def test_paging_that_never_ends_is_cut_short(clock: VirtualClock, tmp_path: Path) -> None:
    async with halo(clock, tmp_path) as run:
        fake(run).intercept = _replace("/api/Tickets", _same_page_forever)  # no record_count, page_no ignored
        summary = await sync(run)
        assert "repeats page 1" in failure(run, summary)
        assert api_calls(run, "Tickets") == 2


async def test_an_impossible_record_count_is_refused(clock: VirtualClock, tmp_path: Path) -> None:
    def lie(request: web.Request, reply: Reply) -> Reply:
        return Reply.json(200, dict(orjson.loads(reply.body), record_count=10**12))

    async with halo(clock, tmp_path) as run:
        fake(run).intercept = _replace("/api/Site", lie)
        summary = await sync(run)
        assert "cannot be true" in failure(run, summary)
        assert api_calls(run, "Site") == 1


async def test_without_record_count_full_pages_are_followed(clock: VirtualClock, tmp_path: Path) -> None:
    def uncounted(request: web.Request, reply: Reply) -> Reply:
        body = orjson.loads(reply.body)
        return Reply.json(200, {"Users": body["Users"]})

    async with halo(clock, tmp_path) as run:
        fake(run).intercept = _replace("/api/Users", uncounted)
        summary = await sync(run)
        assert summary.ok, summary
        await run.assert_mirrors()
        assert api_calls(run, "Users") == 2 + 1  # 20 users at 10 a page, then an empty page


async def test_a_body_that_never_ends_times_out(clock: VirtualClock, tmp_path: Path) -> None:
    async def stall(request: web.Request, reply: Reply) -> web.StreamResponse | None:
        if not request.path.endswith("/api/Tickets"):
            return None
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.content_length = len(reply.body)
        await response.prepare(request)
        await response.write(reply.body[:10])
        await asyncio.sleep(30)  # real time: the transport's timeout is real too
        return response

    async with halo(clock, tmp_path) as run:
        fake(run).intercept = stall
        summary = await sync(run, limits="request_timeout = 0.3\nmax_attempts = 2\n")
        assert "timed out" in failure(run, summary)
        replica = await run.replica()
        assert len(replica[(harness(run).tenant, "halopsa__clients")]) == 30  # the other streams went on
