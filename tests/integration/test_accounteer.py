"""Accounteer end to end over loopback in virtual time, beyond the conformance checks
that every provider passes (tests/integration/test_conformance.py): every list
shape the fake can take, refresh tokens rotating or not, one tenant per
connection, the minute window, and responses an unverified API might give."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import web

from replicator import config as cfg
from replicator.engine import Engine, RunSummary
from replicator.errors import ConfigError, DecodeError
from replicator.stores.sqlite import SQLiteStore
from replicator.testing.clock import VirtualClock
from replicator.testing.conformance import Run
from replicator.testing.fake_accounteer import ENVELOPES, PAGINGS
from replicator.types import Request, Response
from replicator_accounteer import AccounteerProvider
from tests.integration.harnesses.accounteer import AccounteerHarness, RedirectingAccounteerServer

# With pages of 10: a short last page (contacts, journals), an exact multiple
# (invoices), exactly one full page (items), a single short page (taxes), nothing
# at all (purchases).
SHAPES = {"contacts": 23, "taxes": 3, "items": 10, "invoices": 20, "purchases": 0, "journals": 11}
# Requests per list path for SHAPES, by paging mode of the fake.
CALLS = {
    # Pages until a short or empty one.
    "page": {"organisations": 1, "contacts": 3, "taxes": 1, "items": 2, "invoices": 3, "purchases": 1,
             "journals": 2},
    # Everything at once: one call, or two when the first page is exactly full
    # and the second repeats it.
    "none": {"organisations": 1, "contacts": 1, "taxes": 1, "items": 2, "invoices": 1, "purchases": 1,
             "journals": 1},
}

Answer = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ScriptedServer(RedirectingAccounteerServer):
    """The fake, plus scripted answers: each request of ``script[path]`` takes the
    next answer off the list (the fake answers once the list is empty)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.script: dict[str, list[Answer]] = {}
        self.token_methods: list[str] = []

    def add_routes(self, app: web.Application) -> None:
        super().add_routes(app)

        @web.middleware
        async def scripted(request: web.Request, handler: Any) -> web.StreamResponse:
            if request.path == "/oauth/v2/token":
                self.token_methods.append(f"{request.method} {'?' if request.query else ''}")
            answers = self.script.get(request.path)
            if answers:
                return await answers.pop(0)(request)
            response: web.StreamResponse = await handler(request)
            return response

        app.middlewares.append(scripted)

    def answer(self, resource: str, *answers: Answer) -> None:
        self.script[f"/api/v1/{resource}"] = list(answers)


def reply(body: bytes, content_type: str = "application/json", status: int = 200) -> Answer:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, body=body, headers={"Content-Type": content_type})
    return answer


async def hang(request: web.Request) -> web.StreamResponse:
    await asyncio.Event().wait()  # headers never come
    raise AssertionError("unreachable")


async def start(clock: VirtualClock, tmp_path: Path, **options: Any) -> Run:
    options.setdefault("records", SHAPES)
    options.setdefault("per_page", 10)
    options.setdefault("rate_limit", None)
    harness = AccounteerHarness(server_class=ScriptedServer, **options)
    await harness.start(clock)
    return Run(tmp_path, clock, harness)


@pytest_asyncio.fixture
async def run(virtual_clock: VirtualClock, tmp_path: Path) -> AsyncIterator[Run]:
    r = await start(virtual_clock, tmp_path)
    try:
        yield r
    finally:
        await r.harness.close()


def harness(run: Run) -> AccounteerHarness:
    assert isinstance(run.harness, AccounteerHarness)
    return run.harness


def fake(run: Run) -> ScriptedServer:
    server = harness(run).fake
    assert isinstance(server, ScriptedServer)
    return server


def failures(summary: RunSummary) -> str:
    """What failed, by tenant and connection (a tenant shows only its first failure)."""
    return " | ".join([*summary.failed_tenants.values(), *summary.failed_connections.values()])


async def stream_errors(run: Run) -> dict[str, str]:
    """Resource -> the last error its stream recorded."""
    store = SQLiteStore(run.directory / "replica.sqlite", clock=run.clock)
    await store.open()
    try:
        states = await store.load_states("conn")
    finally:
        await store.close()
    return {resource: state.last_error for (_, resource), state in states.items() if state.last_error}


# -- lists ---------------------------------------------------------------------------


@pytest.mark.parametrize("paging", PAGINGS)
@pytest.mark.parametrize("envelope", ENVELOPES)
async def test_every_envelope_and_paging_mirrors_the_source(run: Run, virtual_clock: VirtualClock, envelope: str,
                                                             paging: str) -> None:
    server = fake(run)
    server.envelope, server.paging = envelope, paging  # type: ignore[assignment]
    org = server.organisations[0]
    summary = await run.run()
    assert summary.ok, failures(summary)
    await run.assert_mirrors()
    calls = {path.rsplit("/", 1)[1]: n for (tenant, path), n in server.stats.requests.items()
             if tenant == org and path.startswith("/api/v1/")}
    # Discovery reads the organisations list once more.
    assert calls == {**CALLS[paging], "organisations": 2}, calls

    # Deletions at the source leave the replica too: every pass is a full scan with a sweep.
    server.mutate(org, "contacts", add=2, change=3, delete=4)
    server.mutate(org, "items", delete=10)
    server.mutate(org, "invoices", change=1, delete=1)
    virtual_clock.advance(3600)
    summary = await run.run()
    assert summary.ok, failures(summary)
    await run.assert_mirrors()


async def test_invoice_lines_are_one_json_column(run: Run) -> None:
    assert (await run.run()).ok
    org = fake(run).organisations[0]
    source = fake(run).expected(org, "invoices")
    replica = (await run.replica())[(str(org), "accounteer__invoices")]
    for key, invoice in source.items():
        assert replica[key]["lines"] == orjson.dumps(invoice["lines"]).decode()
        assert orjson.loads(replica[key]["lines"])[0].keys() >= {"item_id", "quantity", "unit_price", "amount"}
    first = replica[min(replica)]
    assert first["created_at"].endswith(".000Z") and len(first["date"]) == 10


async def test_the_token_is_fetched_with_get_and_query_parameters(run: Run) -> None:
    assert (await run.run()).ok
    assert fake(run).token_methods == ["GET ?"]


# -- tenants -------------------------------------------------------------------------


async def test_each_connection_is_its_own_organisation(virtual_clock: VirtualClock, tmp_path: Path) -> None:
    """Two connections, each authorised by one organisation: each replica tenant
    holds its own organisation's records and nothing of the other's."""
    run = await start(virtual_clock, tmp_path)
    server = fake(run)
    try:
        text = '[store]\nurl = "replica.sqlite"\n\n[limits]\nmax_in_flight = 16\n\n'
        for org in server.organisations:
            text += (f'[connections.org{org}]\nprovider = "accounteer"\nbase_url = "{server.base_url}"\n'
                     f'client_id = "{server.client_id}"\nclient_secret = "{server.client_secret}"\n'
                     f'refresh_token = "{server.grant(org)}"\noptions = {{ per_page = 10 }}\n\n')
        path = tmp_path / "two.toml"
        path.write_text(text)
        store = SQLiteStore(tmp_path / "replica.sqlite", clock=virtual_clock)
        await store.open()
        try:
            summary = await Engine(cfg.load(path), store, clock=virtual_clock).run()
            assert summary.ok, failures(summary)
            for org in server.organisations:
                rows = [row async for row in store.export("accounteer__contacts", connection=f"org{org}")]
                assert {row["_tenant"] for row in rows} == {str(org)}
                assert {row["id"] for row in rows} == set(server.expected(org, "contacts"))
                orgs = [row async for row in store.export("accounteer__organisations", connection=f"org{org}")]
                assert [(o["id"], o["name"]) for o in orgs] == [
                    (org, server.expected(org, "organisations")[org]["name"])]
        finally:
            await store.close()
    finally:
        await run.harness.close()


class Answers:
    """An :class:`~replicator.providers.Api` that answers every fetch with ``body``."""

    def __init__(self, body: Any) -> None:
        self.body = orjson.dumps(body)

    async def fetch(self, request: Request, *, tenant: str | None = None) -> Response:
        return Response(200, {"Content-Type": "application/json"}, self.body, request.url)


async def test_discovery_takes_the_one_organisation_in_either_envelope() -> None:
    provider = AccounteerProvider("https://app.example")
    org = {"id": 62, "name": "Okafor Foods Ltd", "country": "NG"}
    for body in ([org], {"data": [org]}):
        tenants = await provider.discover(Answers(body))
        assert [(t.id, t.name) for t in tenants] == [("62", "Okafor Foods Ltd")]
    for body in ([], [org, {**org, "id": 63}]):
        with pytest.raises(DecodeError, match=f"got {len(body)}"):
            await provider.discover(Answers(body))


def test_per_page_must_be_a_positive_integer() -> None:
    assert AccounteerProvider(options={"per_page": 25}).per_page == 25
    for bad in (0, "50", True, 2.5):
        with pytest.raises(ConfigError, match=r"options\.per_page must be a positive integer"):
            AccounteerProvider(options={"per_page": bad})


# -- tokens and limits ---------------------------------------------------------------


@pytest.mark.parametrize("rotating", [True, False])
async def test_the_newest_refresh_token_is_kept(virtual_clock: VirtualClock, tmp_path: Path, rotating: bool) -> None:
    """Access tokens that live a minute, so one run refreshes several times; with
    rotation, presenting an old refresh token would kill the grant."""
    run = await start(virtual_clock, tmp_path, records={"contacts": 1500}, rate_limit=(60, 60.0),
                      token_lifetime=60, rotating_refresh=rotating, reuse_revokes=True)
    server = fake(run)
    try:
        summary = await run.run()
        assert summary.ok, failures(summary)
        assert server.stats.token_refreshes >= 3  # calls in three minutes, tokens good for 30 s
        store = SQLiteStore(tmp_path / "replica.sqlite", clock=virtual_clock)
        await store.open()
        try:
            creds = await store.load_credentials("conn")
        finally:
            await store.close()
        assert creds is not None and creds.refresh_token is not None
        assert (creds.refresh_token == harness(run).token) is (not rotating)
        # The next run starts from the stored (newest) token, not the configured one.
        server.mutate(server.organisations[0], "contacts", delete=5)
        virtual_clock.advance(7200)
        summary = await run.run()
        assert summary.ok, failures(summary)
        await run.assert_mirrors()
    finally:
        await run.harness.close()


async def test_a_minute_never_holds_more_than_sixty_calls(virtual_clock: VirtualClock, tmp_path: Path) -> None:
    """About 160 calls against the fake's 60 per organisation per clock minute,
    discovery included: paced, never refused."""
    run = await start(virtual_clock, tmp_path, records={"contacts": 1000, "invoices": 500}, rate_limit=(60, 60.0))
    try:
        started = virtual_clock.time()
        summary = await run.run()
        assert summary.ok, failures(summary)
        await run.assert_mirrors()
        assert virtual_clock.time() - started >= 120  # three minutes' worth of calls
        assert run.harness.rate_limited() == 0
        assert run.harness.rate_limit_respected()
    finally:
        await run.harness.close()


async def test_a_stricter_limit_than_we_pace_for_is_waited_out(virtual_clock: VirtualClock, tmp_path: Path) -> None:
    """Should the real limit be lower, 429 (with Retry-After) parks the stream for
    a minute and the run still completes."""
    run = await start(virtual_clock, tmp_path, records={"contacts": 300}, rate_limit=(20, 60.0))
    try:
        summary = await run.run()
        assert summary.ok, failures(summary)
        await run.assert_mirrors()
        assert run.harness.rate_limited() > 0
    finally:
        await run.harness.close()


# -- hostile and broken responses ----------------------------------------------------


async def test_a_wrong_content_type_is_retried_then_named(run: Run) -> None:
    xml = reply(b"<?xml version='1.0'?><invoices/>", "application/xml")
    fake(run).answer("invoices", xml)
    summary = await run.run()
    assert summary.ok and summary.snapshot.retries == 1
    await run.assert_mirrors()

    fake(run).answer("invoices", *[xml] * 10)
    summary = await run.run()
    assert not summary.ok
    assert "gave up after 6 attempts: expected JSON, got application/xml" in failures(summary)


async def test_a_truncated_body_is_retried_then_named(run: Run) -> None:
    cut = reply(b'[{"id": 10000001, "organisation_id": 61, "na')
    fake(run).answer("contacts", cut)
    fake(run).faults.truncate_gzip(2)
    summary = await run.run()
    assert summary.ok and summary.snapshot.retries == 3
    await run.assert_mirrors()

    fake(run).answer("contacts", *[cut] * 10)
    summary = await run.run()
    assert not summary.ok
    assert "malformed Contact list: Input data was truncated" in failures(summary)


async def test_a_body_that_is_not_a_list_is_named(run: Run) -> None:
    odd = reply(orjson.dumps({"code": 200, "message": "use /api/v2"}))
    fake(run).answer("taxes", *[odd] * 10)
    summary = await run.run()
    assert not summary.ok
    message = failures(summary)
    assert "malformed Tax list" in message and "use /api/v2" in message


async def test_error_bodies_are_surfaced(run: Run) -> None:
    refused = reply(orjson.dumps({"code": 400, "message": "Invalid per_page value"}), status=400)
    broken = reply(orjson.dumps({"code": 500, "message": "Database is on fire"}), status=500)
    fake(run).answer("journals", refused)
    fake(run).answer("items", *[broken] * 10)
    assert not (await run.run()).ok
    errors = await stream_errors(run)
    assert errors.keys() == {"journals", "items"}
    # A 4xx fails the stream at once (never retried blindly), a 5xx after the retries.
    assert errors["journals"].startswith("400 refused: Invalid per_page value [connection=conn, tenant=61, "
                                         "resource=journals, url=http")
    assert errors["items"].startswith("gave up after 6 attempts: 500 server error: Database is on fire")


async def test_a_revoked_grant_needs_reauthorisation(run: Run) -> None:
    server = fake(run)
    server.revoke(server.organisations[0])
    summary = await run.run()
    assert not summary.ok
    assert "re-authorisation" in failures(summary) and "Invalid refresh token" in failures(summary)


async def test_a_redirect_is_refused_and_not_followed(run: Run) -> None:
    fake(run).answer("contacts", reply(b"", status=302))  # no Location at all
    fake(run).answer("taxes", lambda request: _redirect(f"{fake(run).base_url}/login"))
    assert not (await run.run()).ok
    errors = await stream_errors(run)
    assert errors["contacts"].startswith("302 redirect to (no Location) refused")
    assert errors["taxes"].startswith(f"302 redirect to {fake(run).base_url}/login refused")
    # (A redirect to another host: the conformance check of foreign next links.)


async def _redirect(location: str) -> web.StreamResponse:
    return web.Response(status=302, headers={"Location": location})


async def test_a_list_that_repeats_its_first_page_forever_ends(run: Run) -> None:
    """An API that ignores ``page`` and caps at our page size: every request of
    contacts answers the same ten records. The second page repeats the first, and
    the pass ends there instead of never."""
    server = fake(run)
    org = server.organisations[0]
    first_page = orjson.dumps(list(server.expected(org, "contacts").values())[:10])
    server.answer("contacts", *[reply(first_page)] * 1000)
    summary = await run.run()
    assert summary.ok, failures(summary)
    assert len(server.script["/api/v1/contacts"]) == 998  # two requests
    replica = await run.replica()
    assert len(replica[(str(org), "accounteer__contacts")]) == 10


async def test_a_page_that_never_arrives_times_out(run: Run) -> None:
    fake(run).answer("purchases", hang, hang)
    summary = await run.run(limits="request_timeout = 0.3\nmax_attempts = 2")
    assert not summary.ok
    assert "gave up after 2 attempts: timed out after 0.3s" in failures(summary)
    assert set(summary.failed_tenants) == {f"conn/{fake(run).organisations[0]}"}
