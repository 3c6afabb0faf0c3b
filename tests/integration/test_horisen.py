"""HORISEN Finance Documents end to end over loopback in virtual time, beyond the
conformance checks that every provider passes (tests/integration/test_conformance.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import web

from replicator import config as cfg
from replicator.engine import Engine, RunSummary
from replicator.errors import ConfigError
from replicator.stores.sqlite import SQLiteStore
from replicator.testing.clock import VirtualClock
from replicator.testing.fake_horisen import FakeHorisenServer
from replicator.testing.fakebase import Reply
from replicator_horisen import HorisenProvider
from tests.integration.harnesses.horisen import TIMES, as_stored

Rows = dict[Any, dict[str, Any]]


class RecordingServer(FakeHorisenServer):
    """The fake, remembering the parameters of every export call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[tuple[str, dict[str, str]]] = []

    def _export(self, request: web.Request, tenant: str, params: list[tuple[str, str]]) -> Reply:
        self.calls.append((tenant, dict(params)))
        return super()._export(request, tenant, params)


def _toml(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else json.dumps(value)


@dataclass
class Env:
    clock: VirtualClock
    tmp: Path
    base_urls: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, tuple[str, str]] = field(default_factory=dict)

    def add(self, tenant: str, base_url: str, credentials: tuple[str, str]) -> None:
        self.base_urls[tenant] = base_url
        self.credentials[tenant] = credentials

    def config(self, options: dict[str, dict[str, Any]] | None = None, limits: str = "",
               extra: str = "") -> cfg.Config:
        parts = ['[store]\nurl = "replica.sqlite"\n', f"[limits]\nmax_in_flight = 16\n{limits}\n"]
        for tenant, base_url in self.base_urls.items():
            client_id, secret = self.credentials[tenant]
            merged = {"tenant": tenant, **(options or {}).get(tenant, {})}
            inline = ", ".join(f"{k} = {_toml(v)}" for k, v in merged.items())
            parts.append(f'[connections.{tenant}]\nprovider = "horisen"\nbase_url = "{base_url}"\n'
                         f'client_id = "{client_id}"\nclient_secret = "{secret}"\noptions = {{ {inline} }}\n{extra}')
        path = self.tmp / "replicator.toml"
        path.write_text("\n".join(parts))
        return cfg.load(path)

    async def run(self, options: dict[str, dict[str, Any]] | None = None, limits: str = "",
                  extra: str = "") -> RunSummary:
        config = self.config(options, limits, extra)
        store = SQLiteStore(self.tmp / "replica.sqlite", clock=self.clock)
        await store.open()
        try:
            return await Engine(config, store, clock=self.clock).run()
        finally:
            await store.close()

    async def rows(self, table: str, tenant: str) -> Rows:
        store = SQLiteStore(self.tmp / "replica.sqlite", clock=self.clock)
        await store.open()
        try:
            key = await store.key_of(table)
            out: Rows = {}
            async for row in store.export(table, tenant=tenant):
                clean = {k: v for k, v in row.items() if not k.startswith("_")}
                out[clean[key]] = clean
            return out
        finally:
            await store.close()


def source(server: FakeHorisenServer, tenant: str, times: frozenset[str] = TIMES) -> tuple[Rows, Rows]:
    documents: Rows = {}
    items: Rows = {}
    for key, document in server.expected(tenant).items():
        documents[key], rows = as_stored(document, times)
        items.update(rows)
    return documents, items


async def assert_mirrors(env: Env, server: FakeHorisenServer, tenant: str,
                         times: frozenset[str] = TIMES) -> None:
    documents, items = source(server, tenant, times)
    assert await env.rows("horisen__documents", tenant) == documents
    assert await env.rows("horisen__items", tenant) == items


ServerFactory = Callable[..., Awaitable[RecordingServer]]


@pytest_asyncio.fixture
async def env(virtual_clock: VirtualClock, tmp_path: Path) -> Env:
    return Env(virtual_clock, tmp_path)


@pytest_asyncio.fixture
async def fake(env: Env) -> AsyncIterator[ServerFactory]:
    """Starts a RecordingServer with the given switches; its tenants join ``env``."""
    servers: list[RecordingServer] = []

    async def start(**kwargs: Any) -> RecordingServer:
        kwargs.setdefault("tenants", ["white"])
        server = RecordingServer(clock=env.clock, **kwargs)
        await server.start()
        servers.append(server)
        for tenant in server.tenants:
            env.add(tenant, server.tenant_url(tenant), server.credentials(tenant))
        return server

    try:
        yield start
    finally:
        for server in servers:
            await server.close()


# -- paging -------------------------------------------------------------------------------


async def test_pages_after_the_first_are_fetched_in_parallel(env: Env, fake: ServerFactory) -> None:
    server = await fake(records=230)
    server.faults.slow(3, 10.0)
    started = env.clock.time()
    summary = await env.run()
    assert summary.ok, summary
    # Page 1 (10 s), then pages 2 and 3 at once (10 s), not one after the other (20 s).
    assert env.clock.time() - started < 25
    assert server.calls[0][1] == {"page_number": "1", "page_size": "100", "sort": "id"}
    assert sorted(c["page_number"] for _, c in server.calls) == ["1", "2", "3"]
    assert {(c["page_size"], c["sort"]) for _, c in server.calls} == {("100", "id")}
    await assert_mirrors(env, server, "white")


async def test_items_are_linked_to_their_document_and_keyed_by_position(env: Env, fake: ServerFactory) -> None:
    await fake(records=12)
    assert (await env.run()).ok
    documents = await env.rows("horisen__documents", "white")
    items = await env.rows("horisen__items", "white")
    assert sum(d["itemCount"] for d in documents.values()) == len(items) > len(documents)
    for key, item in items.items():
        assert key == f"{item['parentId']}:{item['position']}"
        assert item["parentId"] == item["documentId"] and item["parentId"] in documents
        assert 1 <= item["position"] <= documents[item["parentId"]]["itemCount"]
    assert "items" not in next(iter(documents.values()))


async def test_a_page_size_above_the_server_maximum_fails_with_its_code(env: Env, fake: ServerFactory) -> None:
    server = await fake(records=60, max_page_size=50)
    summary = await env.run()
    assert not summary.ok
    why = summary.failed_tenants["white/white"]
    assert "BAD_PARAM_PAGE_SIZE" in why and "page_size=100" in why
    assert len(server.calls) == 1  # a 4xx is never retried blindly
    summary = await env.run({"white": {"page_size": 50}})
    assert summary.ok, summary
    await assert_mirrors(env, server, "white")


@pytest.mark.parametrize("shape", ["list", "flat"])
async def test_error_shapes_reach_the_failure_message(env: Env, fake: ServerFactory, shape: str) -> None:
    await fake(records=5, max_page_size=50, error_shape=shape)
    summary = await env.run()
    why = summary.failed_tenants["white/white"]
    assert "Bad parameter 'page_size'" in why
    if shape == "list":
        assert "BAD_PARAM_PAGE_SIZE" in why
    # "flat": the engine's error_detail() keeps only the message of {"code", "message"}.


async def test_page_past_the_end_as_an_error_is_never_asked_for(env: Env, fake: ServerFactory) -> None:
    server = await fake(records=200, page_past_end="error")
    summary = await env.run({"white": {"page_size": 50}})
    assert summary.ok, summary
    assert sorted(c["page_number"] for _, c in server.calls) == ["1", "2", "3", "4"]


async def test_an_empty_tenant_is_one_request(env: Env, fake: ServerFactory) -> None:
    server = await fake(records=0)
    assert (await env.run()).ok
    assert len(server.calls) == 1
    assert await env.rows("horisen__documents", "white") == {}


# -- increments and deletions ---------------------------------------------------------------


async def test_increments_filter_with_gte_on_status_dt(env: Env, fake: ServerFactory) -> None:
    server = await fake(records=300)
    assert (await env.run()).ok
    full = len(server.calls)
    assert all(not any(k.startswith("gte(") for k in c) for _, c in server.calls)
    top = max(d["statusDt"] for d in server.expected("white").values())
    server.mutate("white", add=4, change=6)
    env.clock.advance(3600)
    assert (await env.run()).ok
    increment = [c for _, c in server.calls[full:]]
    assert len(increment) == 1  # 4 new + 6 changed + those at the old top: one page
    assert increment[0]["gte(statusDt)"] == top  # inclusive, at the API's second resolution
    await assert_mirrors(env, server, "white")


async def test_the_modified_field_is_an_option(env: Env, fake: ServerFactory) -> None:
    server = await fake(records=80, modified_field="modifiedDt")
    options = {"white": {"modified_field": "modifiedDt"}}
    times = TIMES | {"modifiedDt"}
    assert (await env.run(options)).ok
    await assert_mirrors(env, server, "white", times)
    server.mutate("white", add=2, change=3)
    env.clock.advance(3600)
    assert (await env.run(options)).ok
    assert "gte(modifiedDt)" in server.calls[-1][1]
    await assert_mirrors(env, server, "white", times)


async def test_a_modified_field_no_document_has_is_reported(env: Env, fake: ServerFactory) -> None:
    await fake(records=20)
    summary = await env.run({"white": {"modified_field": "changedAt"}})
    assert not summary.ok
    assert "changedAt" in summary.failed_tenants["white/white"]


async def test_increments_keep_documents_deleted_at_the_source(env: Env, fake: ServerFactory) -> None:
    server = await fake(records=40)
    assert (await env.run()).ok
    before = set(server.expected("white"))
    server.mutate("white", delete=3)
    env.clock.advance(3600)
    assert (await env.run()).ok
    # No deletion feed: what increments cannot see stays (full_scan is the remedy).
    assert set(await env.rows("horisen__documents", "white")) == before


async def test_full_scan_sweeps_deleted_documents_and_their_items(env: Env, fake: ServerFactory) -> None:
    server = await fake(records=150)
    options = {"white": {"full_scan": True}}
    assert (await env.run(options)).ok
    await assert_mirrors(env, server, "white")
    server.mutate("white", add=3, change=5, delete=9)
    env.clock.advance(3600)
    summary = await env.run(options)
    assert summary.ok, summary
    await assert_mirrors(env, server, "white")
    assert not any(k.startswith("gte(") for _, c in server.calls for k in c)


async def test_items_a_document_lost_are_swept_by_a_full_scan(env: Env, fake: ServerFactory) -> None:
    server = await fake(records=30)
    assert (await env.run()).ok
    # The fake never drops an item on its own: take one away behind its back.
    document = next(d for d in server._data["white"].documents.values() if len(d["items"]) > 1)
    lost = f"{document['id']}:{len(document['items'])}"
    document["items"].pop()
    document["statusDt"] = "2026-01-05T10:30:00Z"
    env.clock.advance(3600)
    assert (await env.run()).ok
    # Increments update the document and its remaining items; the lost one is
    # recognisable (position above itemCount) but stays: the engine cannot
    # delete sideloaded rows.
    items = await env.rows("horisen__items", "white")
    stored = (await env.rows("horisen__documents", "white"))[document["id"]]
    assert items[lost]["position"] > stored["itemCount"] == len(document["items"])
    live = {k for k, v in items.items()
            if v["position"] <= (await env.rows("horisen__documents", "white"))[v["parentId"]]["itemCount"]}
    assert live == set(source(server, "white")[1])
    assert (await env.run({"white": {"full_scan": True}})).ok
    await assert_mirrors(env, server, "white")


async def test_narrowed_fields_narrow_both_tables(env: Env, fake: ServerFactory) -> None:
    server = await fake(records=40)
    fields = 'fields = { documents = ["total"], items = ["name", "parentId"] }\n'
    assert (await env.run({"white": {"full_scan": True}}, extra=fields)).ok
    documents, items = source(server, "white")
    # No cursor in full_scan mode, so nothing but the key is added to the fields asked for.
    assert await env.rows("horisen__documents", "white") == {
        k: {"id": k, "total": d["total"]} for k, d in documents.items()}
    assert await env.rows("horisen__items", "white") == {
        k: {"key": k, "name": i["name"], "parentId": i["parentId"]} for k, i in items.items()}


# -- auth and limits --------------------------------------------------------------------------


async def test_tokens_are_renewed_across_a_long_rate_limited_sync(env: Env, fake: ServerFactory) -> None:
    server = await fake(records=3_000, rate_limit=60, token_lifetime=120)
    started = env.clock.time()
    summary = await env.run({"white": {"page_size": 25}})
    assert summary.ok, summary
    assert env.clock.time() - started > 60  # 120 pages at 60 a minute
    assert server.stats.token_refreshes >= 2
    assert server.stats.rate_limited == 0
    assert server.stats.max_calls_in_window("white", 60, aligned=True) <= 60
    await assert_mirrors(env, server, "white")


async def test_a_429_from_another_client_is_waited_out(env: Env, fake: ServerFactory) -> None:
    server = await fake(records=50, rate_limit=10)
    server.spend("white", 10)
    summary = await env.run({"white": {"page_size": 10}})
    assert summary.ok, summary
    assert server.stats.rate_limited >= 1
    await assert_mirrors(env, server, "white")


async def test_tenants_are_connections_with_their_own_host_and_client(env: Env, fake: ServerFactory) -> None:
    server = await fake(tenants=["white", "label"], records={"white": 30, "label": 45})
    assert (await env.run()).ok
    for tenant in ("white", "label"):
        await assert_mirrors(env, server, tenant)


def test_options_are_checked_before_anything_is_sent() -> None:
    for bad in ({"page_sise": 10}, {"page_size": 0}, {"page_size": True}, {"full_scan": "yes"},
                {"modified_field": "status"}, {"modified_field": "gte(x)"}, {"max_concurrency": -1}):
        with pytest.raises(ConfigError, match="horisen"):
            HorisenProvider("https://example.test/finance/v1", bad)
    provider = HorisenProvider("https://white.example/finance/sit/v1/", {})
    assert provider.settings.tenant == "white.example/finance/sit/v1"
    assert [r.name for r in provider.resources] == ["documents"]
    full = HorisenProvider(None, {"full_scan": True, "requests_per_minute": 30})
    assert [(r.name, r.sweep, r.cursor) for r in full.resources] == [("documents", True, None),
                                                                      ("items", True, None)]
    assert full.limits.windows[0].limit == 30


# -- bad and hostile responses ----------------------------------------------------------------


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest_asyncio.fixture
async def hostile(env: Env) -> AsyncIterator[Callable[[Handler], Awaitable[list[dict[str, str]]]]]:
    """A server that grants any token and answers the export with ``handler``."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> list[dict[str, str]]:
        seen: list[dict[str, str]] = []

        async def token(request: web.Request) -> web.Response:
            return web.json_response({"access_token": "t", "token_type": "Bearer", "expires_in": 3600})

        async def export(request: web.Request) -> web.StreamResponse:
            seen.append(dict(request.query))
            return await handler(request)

        app = web.Application()
        app.router.add_post("/h/oauth2/access-token", token)
        app.router.add_get("/h/documents-export", export)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        env.add("h", f"http://127.0.0.1:{port}/h", ("id", "secret"))
        return seen

    try:
        yield start
    finally:
        for runner in runners:
            await runner.cleanup()


def _doc(i: int) -> dict[str, Any]:
    return {"id": i, "statusDt": "2025-01-01T00:00:00Z", "items": [{"id": i * 10, "name": "x"}]}


def _page(docs: list[dict[str, Any]], **pagination: Any) -> web.Response:
    meta = {"pagination": pagination} if pagination else None
    return web.json_response({"data": docs, **({"meta": meta} if meta else {})})


async def test_wrong_content_type_is_named_in_the_failure(env: Env, hostile: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text='{"data": []}', content_type="text/plain")

    seen = await hostile(handler)
    summary = await env.run()
    assert not summary.ok
    assert "expected JSON, got text/plain" in summary.failed_tenants["h/h"]
    assert len(seen) == 6  # decode errors are retried, up to max_attempts


async def test_a_truncated_body_is_retried_then_reported(env: Env, hostile: Any) -> None:
    body = orjson.dumps({"data": [_doc(1), _doc(2)], "meta": {"pagination": {"totalPages": 1}}})

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body[: len(body) // 2], content_type="application/json")

    seen = await hostile(handler)
    summary = await env.run()
    assert "malformed documents page" in summary.failed_tenants["h/h"]
    assert len(seen) == 6


async def test_a_200_error_envelope_is_quoted(env: Env, hostile: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response({"errors": [{"code": "INT_APP_ERROR", "message": "FINANCE instance not found"}]})

    await hostile(handler)
    summary = await env.run()
    assert "INT_APP_ERROR" in summary.failed_tenants["h/h"]


@pytest.mark.parametrize(("status", "code"), [(400, "BAD_PARAM_PAGE_NUMBER"), (404, "INVOICE_NOTFOUND"),
                                              (500, "INT_APP_ERROR")])
async def test_error_codes_reach_the_failure_message(env: Env, hostile: Any, status: int, code: str) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response({"errors": [{"code": code, "message": "no"}]}, status=status)

    seen = await hostile(handler)
    summary = await env.run()
    assert code in summary.failed_tenants["h/h"]
    assert len(seen) == (6 if status >= 500 else 1)


async def test_a_server_that_ignores_page_number_is_stopped(env: Env, hostile: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return _page([_doc(1), _doc(2)], total=6, totalPages=3, currentPage=1, perPage=2, count=2)

    seen = await hostile(handler)
    summary = await env.run()
    assert "ignores page_number" in summary.failed_tenants["h/h"]
    assert len(seen) == 3  # page 1, then pages 2 and 3 answered as page 1: refused


async def test_an_absurd_page_count_is_refused_before_any_fan_out(env: Env, hostile: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return _page([_doc(1)], total=1, totalPages=10**9, currentPage=1, perPage=100, count=1)

    seen = await hostile(handler)
    summary = await env.run()
    assert "totalPages 1000000000" in summary.failed_tenants["h/h"]
    assert len(seen) == 1


async def test_a_page_count_that_disagrees_with_the_total_is_refused(env: Env, hostile: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return _page([_doc(1)], total=1, totalPages=50, currentPage=1, perPage=100, count=1)

    await hostile(handler)
    summary = await env.run()
    assert "disagrees with total 1" in summary.failed_tenants["h/h"]


async def test_without_a_page_count_pages_follow_the_last_id(env: Env, hostile: Any) -> None:
    documents = [_doc(i) for i in range(1, 8)]

    async def handler(request: web.Request) -> web.StreamResponse:
        after = int(request.query.get("gt(id)", "0"))
        size = int(request.query["page_size"])
        return _page([d for d in documents if d["id"] > after][:size])

    seen = await hostile(handler)
    summary = await env.run({"h": {"page_size": 3}})
    assert summary.ok, summary
    assert [q.get("gt(id)") for q in seen] == [None, "3", "6"]
    assert set(await env.rows("horisen__documents", "h")) == set(range(1, 8))
    assert len(await env.rows("horisen__items", "h")) == 7


async def test_a_page_that_never_ends_is_stopped(env: Env, hostile: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return _page([_doc(1), _doc(2)])  # always full, whatever is asked

    seen = await hostile(handler)
    summary = await env.run({"h": {"page_size": 2}})
    assert "repeats the page before" in summary.failed_tenants["h/h"]
    assert len(seen) == 2


async def test_a_next_link_to_another_host_stops_the_pass(env: Env, hostile: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        links = {"next": "https://evil.example/h/documents-export?page_number=2"}
        return _page([_doc(1)], total=2, totalPages=2, currentPage=1, perPage=1, count=1, links=links)

    seen = await hostile(handler)
    summary = await env.run()
    assert "https://evil.example" in summary.failed_tenants["h/h"]
    assert len(seen) == 1
