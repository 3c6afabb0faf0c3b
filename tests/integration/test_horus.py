"""Horus Office end to end over loopback in virtual time, beyond the conformance checks
that every provider passes (tests/integration/test_conformance.py)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import web

from replicator.engine import RunSummary
from replicator.errors import ConfigError
from replicator.http import Transport
from replicator.stores.sqlite import SQLiteStore
from replicator.testing.clock import VirtualClock
from replicator.testing.conformance import Run
from replicator.testing.fake_horus import PagingMode
from replicator.testing.fakebase import Reply, Tenant
from replicator.types import Request, origin_of
from replicator_horus import HorusOptions, HorusProvider, code_exchange
from replicator_horus.records import modified_after
from tests.integration.harnesses.horus import HorusHarness, LinkedPagesServer

BOOK = "book-entries.list"
Call = tuple[str, dict[str, Any] | None]  # (path, JSON body)


class Recorder(LinkedPagesServer):
    """The fake, recording every API call's body, and misbehaving on demand.

    ``hostile`` names a misbehaviour of the next ``hostile_left`` answers of
    ``target`` (a ``.list`` path suffix); ``links`` switches ``Paging.Next`` off.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[Call] = []
        self.links = False
        self.hostile: str | None = None
        self.hostile_left = 0
        self.target = BOOK
        self._seen: dict[str, Any] = {}
        self._fresh = 0

    def link(self, path_qs: str, tenant: Tenant | None) -> str:
        if self.hostile == "other_licence":
            return super().link(path_qs.replace(f"/{self.licences[0]}/", f"/{self.licences[1]}/"), tenant)
        return super().link(path_qs, tenant)

    async def send(self, request: web.Request, reply: Reply, tenant: Tenant | None, *,
                   api: bool = True) -> web.StreamResponse:
        if api and request.path.endswith((".list", ".info")):
            raw = await request.read()
            self.calls.append((request.path, orjson.loads(raw) if raw else None))
        if (api and self.hostile and self.hostile_left > 0 and reply.status == 200
                and request.path.endswith(self.target)):
            self.hostile_left -= 1
            reply = self._misbehave(self.hostile, reply, self.calls[-1][1] or {})
        if not self.links:
            return await super(LinkedPagesServer, self).send(request, reply, tenant, api=api)
        return await super().send(request, reply, tenant, api=api)

    def _misbehave(self, how: str, reply: Reply, body: dict[str, Any]) -> Reply:
        doc = orjson.loads(reply.body)
        if how == "xml":
            return Reply(200, b"<?xml version='1.0'?><Data/>", "application/xml; charset=utf-8")
        if how == "truncated":
            return Reply(200, reply.body[: len(reply.body) // 2])
        if how == "error200":
            return Reply.json(200, {"ErrorType": "internal_error", "Details": {"Trace": "ab12"},
                                    "Message": "Database unavailable"})
        if how == "stuck":  # Page ignored: always the first page, "of 99"
            doc["Paging"].update(Page=1, TotalPages=99)
        elif how == "repeat":  # the page number echoed, the first page's rows served again
            first = self._seen.setdefault(reply_key(body), doc["Data"])
            doc["Data"] = first
            doc["Paging"]["TotalPages"] = 99
        elif how == "endless":  # no paging object and always a full page of new rows
            self._fresh += 1
            template = self._seen["template"] = self._seen.get("template") or doc["Data"][0]
            doc["Data"] = [dict(template, Id=f"gen-{self._fresh}-{i}") for i in range(body["PageSize"])]
            doc.pop("Paging", None)
        elif how == "mystery":
            doc.setdefault("Included", {})["Mystery"] = [{"Id": "m1", "Anything": True}]
        return Reply.json(200, doc)

    def bodies(self, suffix: str) -> list[dict[str, Any]]:
        return [body or {} for path, body in self.calls if path.endswith(suffix)]


def reply_key(body: dict[str, Any]) -> str:
    return str(body.get("FolderId"))


Start = Callable[..., Awaitable[Run]]


@pytest_asyncio.fixture
async def clock() -> AsyncIterator[VirtualClock]:
    c = VirtualClock()
    yield c
    await c.aclose()


@pytest_asyncio.fixture
async def start(tmp_path: Any, clock: VirtualClock) -> AsyncIterator[Start]:
    harnesses: list[HorusHarness] = []

    async def _start(**kwargs: Any) -> Run:
        harness = HorusHarness(server=Recorder, **kwargs)
        await harness.start(clock)
        harnesses.append(harness)
        return Run(tmp_path, clock, harness)

    yield _start
    for harness in harnesses:
        await harness.close()


def fake(run: Run) -> Recorder:
    assert isinstance(run.harness, HorusHarness) and isinstance(run.harness.server, Recorder)
    return run.harness.server


def failures(summary: RunSummary) -> str:
    return "\n".join(summary.failed_tenants.values())


# -- the API URL, checked before any credential is sent --------------------------------


@pytest.mark.parametrize(("api_url", "options", "why"), [
    ("https://evil.example/licences/lic001", {"api_host_pattern": "*.horus.example"},
     "host 'evil.example' does not match api_host_pattern"),
    ("https://horus.example.evil.com", {"api_host_pattern": "*.horus.example"}, "does not match"),
    ("{fake}", {"allow_insecure_loopback": False}, "needs the option allow_insecure_loopback = true"),
    ("http://10.1.2.3/licences/lic001", {"api_host_pattern": "*"}, "must use https"),
    ("{fake}", {"api_host_pattern": ""}, "api_host_pattern: required"),
    ("https://me:pw@a.horus.example", {"api_host_pattern": "*.horus.example"}, "without user or password"),
    ("https://a.horus.example/?next=1", {"api_host_pattern": "*.horus.example"}, "no query or fragment"),
])
async def test_a_bad_api_url_is_refused_before_any_request(start: Start, api_url: str, options: dict[str, Any],
                                                           why: str) -> None:
    run = await start(options=options)
    harness = run.harness
    assert isinstance(harness, HorusHarness)
    harness.api_url = api_url.replace("{fake}", harness.api_url)
    with pytest.raises(ConfigError, match=why) as refused:
        await run.run()
    assert "no credential was sent there" in str(refused.value) or "required" in str(refused.value)
    assert fake(run).stats.requests_total == 0


def test_options_are_validated_with_clear_messages() -> None:
    ok = HorusOptions.parse({"api_host_pattern": "*.horus.example, api.fidu.be",
                             "include_invoices_sales_outstanding": "Daybook", "include_companies": "Folder",
                             "full_scan": "book_entries, companies"})
    assert ok.check_api_url("https://x.horus.example/") == "https://x.horus.example"
    assert ok.check_api_url("https://API.fidu.be:8443/v1") == "https://API.fidu.be:8443/v1"
    assert ok.includes["invoices.sales.outstanding"] == "Daybook"
    assert ok.includes["book-entries"] == "CompanyDetail.Company,Daybook,Folder"  # the default stays
    assert ok.full_scan == {"book-entries", "companies"}
    none = HorusOptions.parse({"api_host_pattern": "*", "include_book-entries": ""})
    assert "book-entries" not in none.includes
    refused: list[tuple[dict[str, Any], str]] = [
        ({"api_host_pattern": "*", "include_book_entry": "Daybook"}, "'book_entry' is not one of"),
        ({"api_host_pattern": "*", "include_companies": "CompanyDetail.Person"}, "does not end in a type"),
        ({"api_host_pattern": "*", "full_scan": "invoices.sales.outstanding"}, "is not one of companies"),
        ({"api_host_pattern": "*", "page_sise": 10}, "options.page_sise: unknown option"),
        ({"api_host_pattern": "*", "page_size": True}, "expected an integer"),
        ({"api_host_pattern": "*", "allow_insecure_loopback": "yes"}, "expected true or false"),
    ]
    for options, message in refused:
        with pytest.raises(ConfigError, match=message):
            HorusOptions.parse(options)
    with pytest.raises(ConfigError, match="base_url is required"):
        HorusProvider(None, {"api_host_pattern": "*"})


# -- OAuth at the licence's own URL ----------------------------------------------------


async def test_code_exchange_at_the_callback_url_then_a_sync_that_refreshes_there(start: Start) -> None:
    run = await start(records={"companies": 30})
    harness = run.harness
    assert isinstance(harness, HorusHarness)
    server = fake(run)
    lic, other = server.licences
    callback = server.authorize(lic, state="s1")
    options = harness.connection_options()
    with pytest.raises(ConfigError):
        code_exchange(callback["api_url"].replace("127.0.0.1", "evil.example"), callback["code"],
                      client_id=server.client_id, client_secret=server.client_secret,
                      redirect_uri=server.redirect_uri, options=options)
    request = code_exchange(callback["api_url"], callback["code"], client_id=server.client_id,
                            client_secret=server.client_secret, redirect_uri=server.redirect_uri, options=options)
    async with Transport() as transport:
        answer = await transport.send(request, allowed_origin=origin_of(callback["api_url"]))
    assert answer.status == 200, answer.body
    harness.token = orjson.loads(answer.body)["refresh_token"]
    summary = await run.run()
    assert summary.ok, summary
    await run.assert_mirrors()
    tokens = {path for (_, path), n in server.stats.requests.items() if path.endswith("access_token")}
    assert tokens == {f"/licences/{lic}/oauth2/access_token"}
    assert not any(other in path for (_, path) in server.stats.requests)


async def test_only_my_folders_with_mode_1(start: Start) -> None:
    run = await start(folders=6, records={"companies": 3}, options={"folders_mode": 1})
    summary = await run.run()
    assert summary.ok, summary
    server = fake(run)
    mine = server.folder_ids(server.licences[0], mine=True)
    assert summary.snapshot.tenants_total == len(mine) < 6
    assert server.bodies("folders.list")[0]["Mode"] == 1


# -- paging: three shapes, end to end -----------------------------------------------------

# Page size 50: an exact multiple, a short last page, exactly one full page, one short page.
EDGES = {"companies": 100, "book-entries": 73, "account-histories": 50, "invoices.sales.outstanding": 7}
CALLS = {  # calls per folder for a full listing, by paging mode
    "object": {"companies": 2, "book-entries": 2, "account-histories": 1, "invoices.sales.outstanding": 1},
    "full_pages": {"companies": 3, "book-entries": 2, "account-histories": 2, "invoices.sales.outstanding": 1},
    # Everything at once: one call, or two when the whole list is exactly one full page
    # (the second answer repeats the first and is recognised as such).
    "all_at_once": {"companies": 1, "book-entries": 1, "account-histories": 2, "invoices.sales.outstanding": 1},
}


@pytest.mark.parametrize("mode", ["object", "full_pages", "all_at_once"])
async def test_every_paging_shape_full_then_incremental(start: Start, mode: PagingMode) -> None:
    run = await start(records=EDGES, paging_mode=mode)
    server = fake(run)
    summary = await run.run()
    assert summary.ok, summary
    await run.assert_mirrors()
    for resource, calls in CALLS[mode].items():
        assert len(server.bodies(f"/{resource}.list")) == calls * 3, resource
    pages = [b["Page"] for b in server.bodies("/companies.list")]
    assert sorted(pages) == sorted(list(range(1, CALLS[mode]["companies"] + 1)) * 3)
    run.harness.mutate()
    assert isinstance(run.clock, VirtualClock)
    run.clock.advance(3600)
    summary = await run.run()
    assert summary.ok, summary
    await run.assert_mirrors()
    assert server.stats.rate_limited == 0


async def test_next_links_are_followed_only_within_the_licence(start: Start) -> None:
    run = await start(records={"book-entries": 120})
    server = fake(run)
    server.links = True
    summary = await run.run()
    assert summary.ok, summary
    await run.assert_mirrors()
    assert [b["Page"] for b in server.bodies(BOOK)].count(3) == 3

    # Same origin, another licence's path: refused before anything is sent there.
    server.hostile, server.hostile_left = "other_licence", 1
    for folder in server.folder_ids(server.licences[0]):
        server.mutate(server.licences[0], folder, "book-entries", add=60)
    summary = await run.run()
    assert "leaves the licence's API URL" in failures(summary), summary
    assert not any(path.startswith(f"/licences/{server.licences[1]}/") for path, _ in server.calls)


# -- sideloading --------------------------------------------------------------------------


def _replica(run: Run) -> contextlib.closing[sqlite3.Connection]:
    return contextlib.closing(sqlite3.connect(run.directory / "replica.sqlite"))


def _least_rows(run: Run, table: str, *, tenants: int) -> int:
    """The fewest rows a tenant has in ``table`` (0 until every tenant has some)."""
    try:
        with _replica(run) as db:
            counts = [n for (n,) in db.execute(f'SELECT COUNT(*) FROM "{table}" GROUP BY _tenant')]
    except sqlite3.Error:
        return 0
    return min(counts) if len(counts) == tenants else 0


async def test_sideloads_land_once_per_type_and_join(start: Start) -> None:
    run = await start(records={"companies": 40, "book-entries": 90, "account-histories": 30,
                               "invoices.sales.outstanding": 10})
    summary = await run.run()
    assert summary.ok, summary
    await run.assert_mirrors()
    server = fake(run)
    assert {b["Include"] for b in server.bodies(BOOK)} == {"CompanyDetail.Company,Daybook,Folder"}
    assert all("Include" not in b for b in server.bodies("/companies.list"))
    with _replica(run) as db:
        orphans = db.execute(
            'SELECT COUNT(*) FROM "horus__book-entries" b '
            'LEFT JOIN "horus__included.Company" c ON c._tenant = b._tenant AND c.Id = b.CompanyId '
            'JOIN "horus__included.Daybook" d ON d._tenant = b._tenant AND d.Id = b.DaybookId '
            'JOIN "horus__included.Folder" f ON f._tenant = b._tenant AND f.Id = b.FolderId '
            "WHERE b.CompanyId IS NOT NULL AND c.Id IS NULL").fetchone()[0]
        joined = db.execute(
            'SELECT COUNT(*) FROM "horus__book-entries" b '
            'JOIN "horus__included.Daybook" d ON d._tenant = b._tenant AND d.Id = b.DaybookId '
            'JOIN "horus__included.Folder" f ON f._tenant = b._tenant AND f.Id = b.FolderId').fetchone()[0]
        folders = db.execute('SELECT COUNT(*), COUNT(DISTINCT _tenant) FROM "horus__included.Folder"').fetchone()
    assert orphans == 0 and joined == 90 * 3
    assert folders == (3, 3)  # 90 references each, one entity per folder


async def test_includes_follow_the_options(start: Start) -> None:
    run = await start(records={"companies": 10, "book-entries": 20, "account-histories": 10,
                               "invoices.sales.outstanding": 5},
                      options={"include_book_entries": "Daybook", "include_account_histories": "",
                               "include_invoices.sales.outstanding": ""})
    summary = await run.run()
    assert summary.ok, summary
    await run.assert_mirrors()
    server = fake(run)
    assert {b.get("Include") for b in server.bodies(BOOK)} == {"Daybook"}
    assert all("Include" not in b for b in server.bodies("/account-histories.list"))
    with _replica(run) as db:
        counts = {name: db.execute(f'SELECT COUNT(*) FROM "horus__included.{name}"').fetchone()[0]
                  for name in ("Company", "Daybook", "Folder", "BookEntry")}
    assert counts["Daybook"] > 0 and counts["Company"] == counts["Folder"] == counts["BookEntry"] == 0


async def test_unknown_included_types_are_ignored(start: Start) -> None:
    run = await start(records={"book-entries": 20})
    server = fake(run)
    server.hostile, server.hostile_left = "mystery", 100
    summary = await run.run()
    assert summary.ok, summary
    await run.assert_mirrors()


# -- increments and resume points -------------------------------------------------------


async def test_increments_ask_modified_after_the_cursor_less_a_margin(start: Start) -> None:
    run = await start(records={"companies": 20, "book-entries": 40}, options={"full_scan": ""})
    server = fake(run)
    lic = server.licences[0]
    assert (await run.run()).ok
    folder = server.folder_ids(lic)[1]
    top = max(r["Modified"] for r in server.expected(lic, folder, "book-entries").values())
    server.mutate(lic, folder, "book-entries", add=2, change=3)
    assert isinstance(run.clock, VirtualClock)
    run.clock.advance(3600)
    server.calls.clear()
    summary = await run.run()
    assert summary.ok, summary
    await run.assert_mirrors()
    sent = {b["FolderId"]: b for b in server.bodies(BOOK)}
    assert sent[folder]["ModifiedAfter"] == modified_after(top, 1.0)
    assert all("ModifiedAfter" in b for b in server.bodies("/companies.list"))
    assert all("ModifiedAfter" not in b for b in server.bodies("/invoices.sales.outstanding.list"))
    # A folder with no change costs one call per stream.
    assert len(server.bodies(BOOK)) == 3


async def test_a_killed_pass_resumes_at_the_page_it_reached(start: Start) -> None:
    run = await start(records={"book-entries": 1000}, options={"full_scan": ""})
    server = fake(run)
    task = asyncio.ensure_future(run.run(limits="batch_pages = 1\nmax_in_flight = 2\n"))
    # Killed mid-pass, once every folder has committed a few pages.
    while _least_rows(run, "horus__book-entries", tenants=3) < 200:
        assert not task.done(), task
        await asyncio.sleep(0.001)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    store = SQLiteStore(run.directory / "replica.sqlite", clock=run.clock)
    await store.open()
    try:
        states = await store.load_states("conn")
    finally:
        await store.close()
    resume = {tenant: Request.decode(s.resume_url) for (tenant, name), s in states.items()
              if name == "book-entries" and s.resume_url}
    assert resume, states
    assert all(r.method == "POST" and r.json["Page"] > 1 and r.json["FolderId"] == t for t, r in resume.items())
    server.calls.clear()
    summary = await run.run()
    assert summary.ok, summary
    await run.assert_mirrors()
    first: dict[str, dict[str, Any]] = {}
    for body in server.bodies(BOOK):
        first.setdefault(body["FolderId"], body)
    for tenant, request in resume.items():
        assert first[tenant] == request.json  # the stored body, page number included


# -- limits ---------------------------------------------------------------------------------


async def test_one_budget_for_all_folders_of_a_licence(start: Start) -> None:
    run = await start(folders=8, records={"companies": 120, "book-entries": 120})
    server = fake(run)
    started = run.clock.time()
    summary = await run.run()
    assert summary.ok, summary
    lic = server.licences[0]
    assert server.stats.calls(lic) > 60
    assert server.stats.max_calls_in_window(lic, 60, aligned=True) <= 30
    assert server.stats.rate_limited == 0
    assert run.clock.time() - started > 60


async def test_a_429_is_waited_out(start: Start) -> None:
    run = await start(folders=8, records={"companies": 150}, options={"rate_limit_calls": 1000})
    summary = await run.run()
    assert summary.ok, summary
    await run.assert_mirrors()
    assert fake(run).stats.rate_limited > 0


# -- bad and hostile answers ----------------------------------------------------------------


async def test_a_truncated_body_is_retried(start: Start) -> None:
    run = await start(records={"book-entries": 30})
    server = fake(run)
    server.hostile, server.hostile_left = "truncated", 2
    summary = await run.run()
    assert summary.ok, summary
    assert summary.snapshot.retries >= 2
    await run.assert_mirrors()


async def test_a_wrong_content_type_is_named(start: Start) -> None:
    run = await start(records={"book-entries": 30})
    server = fake(run)
    server.hostile, server.hostile_left = "xml", 1000
    summary = await run.run()
    assert not summary.ok
    assert "expected JSON, got application/xml" in failures(summary)
    assert len(summary.failed_tenants) == 3  # book entries failed; each folder's other streams went on


@pytest.mark.parametrize(("how", "options", "message"), [
    ("stuck", {}, "asked for page 2, the server answered page 1"),
    ("repeat", {}, "page 2 repeats page 1 although the paging object announces more"),
    ("endless", {"max_pages": 5}, "more than 5 pages in one pass"),
])
async def test_a_page_that_never_ends_is_stopped(start: Start, how: str, options: dict[str, Any],
                                                 message: str) -> None:
    run = await start(folders=1, records={"book-entries": 120}, options=options)
    server = fake(run)
    server.hostile, server.hostile_left = how, 1000
    summary = await run.run()
    assert message in failures(summary), summary
    assert len(server.bodies(BOOK)) <= 5


async def test_an_error_body_with_status_200_is_surfaced(start: Start) -> None:
    run = await start(folders=1, records={"book-entries": 10})
    server = fake(run)
    server.hostile, server.hostile_left = "error200", 1000
    summary = await run.run()
    text = failures(summary)
    assert "Horus error internal_error: Database unavailable" in text
    assert '{"Trace":"ab12"}' in text


async def test_an_error_status_surfaces_error_type_message_and_details(start: Start) -> None:
    run = await start(folders=1, records={"companies": 10}, options={"include_companies": "Daybook"})
    summary = await run.run()
    text = failures(summary)
    assert "400 refused: invalid_request: Unknown include 'Daybook' on companies.list" in text, text
    assert '(details: {"Include":"Daybook"})' in text, text
