"""The fake HORISEN Finance Documents API, exercised over real HTTP on loopback in virtual time."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from replicator.testing.clock import VirtualClock
from replicator.testing.fake_horisen import FakeHorisenServer
from replicator.testing.horisen_data import horisen_time
from tests.fakes.conftest import Answer, fetch


@pytest_asyncio.fixture
async def server(clock: VirtualClock) -> AsyncIterator[FakeHorisenServer]:
    async with FakeHorisenServer(tenants=["white", "label"], records=23, clock=clock) as srv:
        yield srv


async def login(session: aiohttp.ClientSession, server: FakeHorisenServer, tenant: str = "white", *,
                basic: bool = False) -> str:
    client_id, secret = server.credentials(tenant)
    form = {"grant_type": "client_credentials"}
    headers = {}
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    else:
        form |= {"client_id": client_id, "client_secret": secret}
    answer = await fetch(session, "POST", server.token_url(tenant), data=form, headers=headers)
    assert answer.status == 200, answer.body
    assert answer.json()["token_type"] == "Bearer" and answer.json()["expires_in"] == 3600
    return str(answer.json()["access_token"])


async def export(session: aiohttp.ClientSession, server: FakeHorisenServer, token: str, tenant: str = "white",
                 params: Any = None, **kwargs: Any) -> Answer:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return await fetch(session, "GET", server.url_for(tenant), params=params, headers=headers, **kwargs)


def ids(answer: Answer) -> list[int]:
    return [doc["id"] for doc in answer.json()["data"]]


# -- auth -------------------------------------------------------------------------


async def test_client_credentials_in_body_or_basic_and_expiry(
        server: FakeHorisenServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    token = await login(session, server)
    assert (await export(session, server, token)).status == 200
    assert (await export(session, server, await login(session, server, basic=True))).status == 200
    none = await fetch(session, "GET", server.url_for("white"))
    assert none.status == 401 and none.json() == {
        "errors": [{"code": "NOT_AUTHENTICATED", "message": "Not authenticated"}]}
    other = await export(session, server, token, "label")
    assert other.status == 401 and other.json()["errors"][0]["code"] == "NOT_AUTHORIZED"
    client_id, _ = server.credentials("white")
    wrong = await fetch(session, "POST", server.token_url("white"),
                        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "no"})
    assert wrong.status == 401 and wrong.json()["error"] == "invalid_client"
    clock.advance(3600)
    assert (await export(session, server, token)).json()["errors"][0]["code"] == "NOT_AUTHENTICATED"
    assert server.stats.token_refreshes == 2


# -- paging -------------------------------------------------------------------------


async def test_envelope_defaults_and_pages_cover_everything(
        server: FakeHorisenServer, session: aiohttp.ClientSession) -> None:
    token = await login(session, server)
    first = await export(session, server, token)
    assert first.json()["meta"] == {"pagination": {"total": 23, "totalPages": 3, "currentPage": 1, "perPage": 10,
                                                   "count": 10}}
    seen = first.json()["data"]
    for number in (2, 3):
        seen += (await export(session, server, token, params={"page_number": number})).json()["data"]
    expected = server.expected("white", "documents")
    assert seen == list(expected.values())  # items nested exactly as served
    assert all(doc["items"] and doc["items"][0]["documentId"] == doc["id"] for doc in seen)
    last = await export(session, server, token, params={"paging": "3,10"})
    assert last.json()["meta"]["pagination"]["count"] == 3 and ids(last) == list(expected)[20:]
    past = (await export(session, server, token, params={"page_number": 9})).json()
    assert past["data"] == [] and past["meta"]["pagination"]["currentPage"] == 9
    assert server.stats.records_served["documents"] == 10 + 10 + 3 + 3 and server.stats.pages_served == 5


async def test_bad_page_numbers_and_sizes(server: FakeHorisenServer, session: aiohttp.ClientSession) -> None:
    token = await login(session, server)
    cases = {("page_number", "0"): "BAD_PARAM_PAGE_NUMBER", ("page_number", "x"): "BAD_PARAM_PAGE_NUMBER",
             ("page_size", "0"): "BAD_PARAM_PAGE_SIZE", ("page_size", "101"): "BAD_PARAM_PAGE_SIZE",
             ("paging", "1,500"): "BAD_PARAM_PAGE_SIZE"}
    for (name, value), code in cases.items():
        answer = await export(session, server, token, params={name: value})
        assert answer.status == 400 and answer.json()["errors"][0]["code"] == code, (name, value)
    assert (await export(session, server, token, params={"page_size": "100"})).status == 200


async def test_switches_for_page_past_end_error_shape_and_max_size(
        clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    async with FakeHorisenServer(tenants=1, records=5, clock=clock, page_past_end="error", error_shape="list",
                                 max_page_size=3) as server:
        token = await login(session, server, "horisen1")
        past = await export(session, server, token, "horisen1", params={"page_number": 3, "page_size": 3})
        assert past.status == 400 and past.json()[0]["code"] == "BAD_PARAM_PAGE_NUMBER"
        big = await export(session, server, token, "horisen1", params={"page_size": 4})
        assert big.status == 400 and big.json()[0]["code"] == "BAD_PARAM_PAGE_SIZE"
        server.error_shape = "flat"
        assert (await export(session, server, "dead", "horisen1")).json()["code"] == "NOT_AUTHENTICATED"


async def test_empty_tenant_has_one_empty_page(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    async with FakeHorisenServer(tenants=["a"], records=0, clock=clock) as server:
        body = (await export(session, server, await login(session, server, "a"), "a")).json()
        assert body == {"data": [], "meta": {"pagination": {"total": 0, "totalPages": 1, "currentPage": 1,
                                                            "perPage": 10, "count": 0}}}


# -- filters and sorting ------------------------------------------------------------


async def test_filters_on_the_modification_field_find_changes(
        server: FakeHorisenServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    token = await login(session, server)
    clock.advance(10)
    since = horisen_time(clock.time())
    server.mutate("white", change=4, add=3, delete=2)
    changed = await export(session, server, token, params={"gte(statusDt)": since, "page_size": 100})
    assert changed.json()["meta"]["pagination"]["total"] == 7
    assert all(doc["statusDt"] == since for doc in changed.json()["data"])
    assert (await export(session, server, token, params={"gt(statusDt)": since})).json()["data"] == []
    assert len(server.expected("white")) == 23 + 3 - 2
    new_ids = sorted(server.expected("white"))[-3:]
    assert ids(await export(session, server, token, params={"between(id)": f"{new_ids[0]},{new_ids[-1]}"})) == new_ids
    assert ids(await export(session, server, token, params={"id": str(new_ids[0])})) == [new_ids[0]]


async def test_operators_search_and_sort(server: FakeHorisenServer, session: aiohttp.ClientSession) -> None:
    token = await login(session, server)
    docs = list(server.expected("white").values())
    first, second = docs[0]["id"], docs[1]["id"]

    async def matching(**params: str) -> list[int]:
        return ids(await export(session, server, token, params={"page_size": "100", **params}))

    assert await matching(**{"in(id)": f"{first},{second}"}) == [first, second]
    assert len(await matching(**{"notin(id)": f"{first},{second}"})) == 21
    assert await matching(**{"lte(id)": str(second)}) == [first, second]
    assert len(await matching(**{"neq(id)": str(first)})) == 22
    partner = docs[0]["bizPartner"]["name"]
    assert await matching(q=partner.upper()) == [d["id"] for d in docs if d["bizPartner"]["name"] == partner]
    prefix = docs[0]["documentNumber"][:4]
    assert set(await matching(**{"startswith(documentNumber)": prefix})) == {
        d["id"] for d in docs if d["documentNumber"].startswith(prefix)}
    assert len(await matching(**{"isnull(syncStatusDt)": ""})) == 23
    assert await matching(**{"isnotnull(syncStatusDt)": ""}) == []
    open_docs = [d["id"] for d in docs if d["paymentStatus"] == "open"]
    assert await matching(paymentStatus="OPEN") == open_docs
    by_total = sorted(docs, key=lambda d: (-d["total"], d["id"]))
    assert await matching(sort="-total,id") == [d["id"] for d in by_total]
    for bad in ({"nope": "1"}, {"foo(id)": "1"}, {"gt(id)": "abc"}, {"sort": "-nope"}, {"between(id)": "1"}):
        answer = await export(session, server, token, params=bad)
        assert answer.status == 404 and answer.json()["errors"][0]["code"] == "BAD_PARAM", bad


async def test_older_post_alias_reads_body_parameters(
        server: FakeHorisenServer, session: aiohttp.ClientSession) -> None:
    token = await login(session, server)
    url = f"{server.tenant_url('white')}/document-export"
    auth = {"Authorization": f"Bearer {token}"}
    form = await fetch(session, "POST", url, data={"page_size": "5", "page_number": "2"}, headers=auth)
    assert form.json()["meta"]["pagination"] == {"total": 23, "totalPages": 5, "currentPage": 2, "perPage": 5,
                                                 "count": 5}
    first = next(iter(server.expected("white")))
    body = await fetch(session, "POST", url, json={"in(id)": [first]}, headers=auth)
    assert ids(body) == [first]


# -- rate limit, data, faults -------------------------------------------------------------


async def test_optional_fixed_window_rate_limit(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    async with FakeHorisenServer(tenants=2, records=3, clock=clock, rate_limit=5, rate_window=60) as server:
        token = await login(session, server, "horisen1")
        clock.advance(60 - clock.time() % 60)  # the start of a window
        for _ in range(5):
            assert (await export(session, server, token, "horisen1")).status == 200
        limited = await export(session, server, token, "horisen1")
        assert limited.status == 429 and limited.json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"
        assert "Retry-After" not in limited.headers
        clock.advance(60)
        assert (await export(session, server, token, "horisen1")).status == 200
        assert server.stats.rate_limited == 1
        assert server.stats.max_calls_in_window("horisen1", 60, aligned=True) == 5
        assert server.stats.max_calls_in_window("horisen1", 61) == 6
        server.spend("horisen1", 5)
        assert (await export(session, server, token, "horisen1")).status == 429


async def test_data_is_deterministic_per_seed_and_tenant(clock: VirtualClock) -> None:
    one = FakeHorisenServer(tenants=["a", "b"], records=4, clock=clock, seed=3)
    two = FakeHorisenServer(tenants=["a", "b"], records=4, clock=clock, seed=3)
    assert one.expected("a") == two.expected("a") != one.expected("b")
    assert FakeHorisenServer(tenants=["a"], records=4, clock=clock, seed=4).expected("a") != one.expected("a")
    with pytest.raises(ValueError, match="unknown HORISEN resource"):
        one.expected("a", "invoices")
    with pytest.raises(ValueError, match="unknown tenant"):
        one.mutate("zzz", add=1)


async def test_modified_field_switch_adds_the_field(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    async with FakeHorisenServer(tenants=["a"], records=3, clock=clock, modified_field="updatedAt") as server:
        token = await login(session, server, "a")
        since = horisen_time(clock.time())
        server.mutate("a", change=1)
        changed = await export(session, server, token, "a", params={"gte(updatedAt)": since})
        assert [doc["updatedAt"] for doc in changed.json()["data"]] == [since]


async def test_faults_and_gzip(
        server: FakeHorisenServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    token = await login(session, server)
    plain = await export(session, server, token, headers={"Accept-Encoding": "identity"})
    zipped = await export(session, server, token, headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers and zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.json() == plain.json()
    server.faults.fail_5xx(1, 502, tenant="label")
    assert (await export(session, server, token)).status == 200
    assert (await export(session, server, await login(session, server, "label"), "label")).status == 502
    server.faults.truncate_gzip(1)
    with pytest.raises(aiohttp.ClientPayloadError):
        await export(session, server, token, headers={"Accept-Encoding": "gzip"})
    server.faults.reset(2)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await export(session, server, token)
    server.faults.slow(1, 20.0, tenant="white")
    server.faults.html_maintenance(1, tenant="white")
    started = clock.time()
    page = await export(session, server, token)
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert clock.time() - started >= 20
    assert server.faults.pending() == {}
    # The truncated answer was produced (budget spent) and cut on the wire; the others never reached the API.
    assert server.stats.calls("white") == 4
