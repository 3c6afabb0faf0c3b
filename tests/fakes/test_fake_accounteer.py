"""The fake Accounteer server, exercised over real HTTP on loopback in virtual time."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from multidict import CIMultiDict

from replicator.testing.accounteer_data import RESOURCES, accounteer_datetime
from replicator.testing.clock import VirtualClock
from replicator.testing.fake_accounteer import Envelope, FakeAccounteerServer, Paging
from tests.fakes.conftest import Answer


@pytest_asyncio.fixture
async def server(clock: VirtualClock) -> AsyncIterator[FakeAccounteerServer]:
    async with FakeAccounteerServer(organisations=2, records=23, clock=clock, default_per_page=10) as srv:
        yield srv


async def token(session: aiohttp.ClientSession, server: FakeAccounteerServer, **params: str) -> Answer:
    """The seed's way: GET with everything in the query string."""
    query = {"client_id": server.client_id, "client_secret": server.client_secret, **params}
    async with session.get(f"{server.base_url}/oauth/v2/token", params=query) as resp:
        return Answer(resp.status, CIMultiDict(resp.headers), await resp.read())


async def refresh(session: aiohttp.ClientSession, server: FakeAccounteerServer, refresh_token: str) -> Answer:
    return await token(session, server, grant_type="refresh_token", refresh_token=refresh_token,
                       redirect_uri=server.redirect_uri)


async def login(session: aiohttp.ClientSession, server: FakeAccounteerServer, organisation: int) -> str:
    answer = await refresh(session, server, server.grant(organisation))
    assert answer.status == 200, answer.body
    return str(answer.json()["access_token"])


async def get(session: aiohttp.ClientSession, url: str, access: str, *, method: str = "GET",
              headers: dict[str, str] | None = None, **kwargs: Any) -> Answer:
    sent = {"Authorization": f"Bearer {access}", **(headers or {})}
    async with session.request(method, url, headers=sent, **kwargs) as resp:
        return Answer(resp.status, CIMultiDict(resp.headers), await resp.read())


def records(doc: Any) -> list[dict[str, Any]]:
    """A tolerant client: a bare array or a ``data`` envelope."""
    return list(doc["data"] if isinstance(doc, dict) else doc)


async def list_all(session: aiohttp.ClientSession, server: FakeAccounteerServer, access: str, resource: str,
                   per_page: int) -> tuple[dict[int, dict[str, Any]], int]:
    """Requests pages until one is empty or short; refuses duplicates."""
    found: dict[int, dict[str, Any]] = {}
    page = 0
    while True:
        page += 1
        answer = await get(session, server.url_for(resource), access, params={"page": page, "per_page": per_page})
        assert answer.status == 200, answer.body
        rows = records(answer.json())
        for row in rows:
            assert row["id"] not in found, "duplicate record"
            found[row["id"]] = row
        if len(rows) < per_page:
            return found, page
        if len(rows) > per_page:  # paging ignored: everything came at once
            return found, page


# -- OAuth ----------------------------------------------------------------------


async def test_code_exchange_and_rotating_refresh(
        server: FakeAccounteerServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    org = server.organisations[0]
    code = server.authorize(org)
    answer = await token(session, server, grant_type="authorization_code", code=code,
                         redirect_uri=server.redirect_uri)
    assert answer.status == 200, answer.body
    body = answer.json()
    assert body["expires_in"] == 3600 and body["token_type"] == "bearer" and body["scope"] is None
    assert body["refresh_token"].startswith("eyJ")
    again = await token(session, server, grant_type="authorization_code", code=code, redirect_uri=server.redirect_uri)
    assert again.json()["error"] == "invalid_grant"  # single use

    me = await get(session, server.url_for("organisations"), body["access_token"])
    assert records(me.json()) == [server.expected(org, "organisations")[org]]
    clock.advance(3600)
    expired = await get(session, server.url_for("organisations"), body["access_token"])
    assert expired.status == 401 and expired.json()["error"] == "invalid_grant"
    assert expired.headers["WWW-Authenticate"].startswith('Bearer realm="Service"')

    second = await refresh(session, server, body["refresh_token"])
    assert second.status == 200 and second.json()["refresh_token"] != body["refresh_token"]
    old = await refresh(session, server, body["refresh_token"])
    assert old.json() == {"error": "invalid_grant", "error_description": "Invalid refresh token"}
    # Without reuse_revokes the new chain survives the reuse.
    third = await refresh(session, server, second.json()["refresh_token"])
    assert third.status == 200
    server.reuse_revokes = True
    assert (await refresh(session, server, second.json()["refresh_token"])).status == 400
    assert (await refresh(session, server, third.json()["refresh_token"])).status == 400  # grant killed
    assert (await get(session, server.url_for("items"), third.json()["access_token"])).status == 401


async def test_non_rotating_refresh_and_refresh_expiry(
        clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    async with FakeAccounteerServer(organisations=1, records=1, clock=clock, rotating_refresh=False,
                                    refresh_lifetime=7200) as server:
        first = server.grant(server.organisations[0])
        one = await refresh(session, server, first)
        two = await refresh(session, server, first)
        assert one.json()["refresh_token"] == two.json()["refresh_token"] == first
        assert one.json()["access_token"] != two.json()["access_token"]
        clock.advance(7200)
        gone = await refresh(session, server, first)
        assert gone.json() == {"error": "invalid_grant", "error_description": "Refresh token has expired"}


async def test_token_request_variants_and_errors(
        server: FakeAccounteerServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    org = server.organisations[1]
    # The seed's curl -X GET -d puts the parameters in a form body of a GET; POST works too.
    form = {"client_id": server.client_id, "client_secret": server.client_secret, "grant_type": "refresh_token",
            "refresh_token": server.grant(org)}
    async with session.get(f"{server.base_url}/oauth/v2/token", data=form) as resp:
        assert resp.status == 200
        form["refresh_token"] = (await resp.json())["refresh_token"]
    async with session.post(f"{server.base_url}/oauth/v2/token", data=form) as resp:
        assert resp.status == 200
    bad_client = await token(session, server, client_secret="nope", grant_type="refresh_token", refresh_token="x")
    assert bad_client.json()["error"] == "invalid_client"
    no_grant = await token(session, server, code=server.authorize(org))
    assert no_grant.json()["error"] == "invalid_request"
    mismatch = await token(session, server, grant_type="authorization_code", code=server.authorize(org),
                           redirect_uri="https://evil.example")
    assert mismatch.json()["error"] == "redirect_uri_mismatch"
    late = server.authorize(org)
    clock.advance(3600)
    expired = await token(session, server, grant_type="authorization_code", code=late,
                          redirect_uri=server.redirect_uri)
    assert expired.json() == {"error": "invalid_grant", "error_description": "The authorization code has expired"}
    server.revoke(org)
    assert (await refresh(session, server, form["refresh_token"])).status == 400


# -- lists -----------------------------------------------------------------------


@pytest.mark.parametrize(("envelope", "paging"), [("bare", "page"), ("data", "page"), ("bare", "none"),
                                                  ("data", "none")])
async def test_every_list_shape_covers_exactly_the_expected_records(
        server: FakeAccounteerServer, session: aiohttp.ClientSession, envelope: Envelope, paging: Paging) -> None:
    server.envelope, server.paging = envelope, paging
    org = server.organisations[1]
    access = await login(session, server, org)
    for resource in RESOURCES:
        found, pages = await list_all(session, server, access, resource, 10)
        assert found == server.expected(org, resource), resource
        if resource != "organisations":
            assert pages == (3 if paging == "page" else 1)
    # An exact multiple of the page size ends with an empty page.
    if paging == "page":
        found, pages = await list_all(session, server, access, "items", 23)
        assert pages == 2 and len(found) == 23


async def test_paging_details_and_single_reads(server: FakeAccounteerServer, session: aiohttp.ClientSession) -> None:
    org = server.organisations[0]
    access = await login(session, server, org)
    url = server.url_for("invoices")
    first = (await get(session, url, access)).json()
    assert isinstance(first, list) and len(first) == 10  # default per_page
    assert [r["id"] for r in first] == sorted(server.expected(org, "invoices"))[:10]
    capped = (await get(session, url, access, params={"per_page": 1000})).json()
    assert len(capped) == 23  # capped at 100, which is more than there are
    assert (await get(session, url, access, params={"page": 9})).json() == []
    bad = await get(session, url, access, params={"page": "0"})
    assert bad.status == 400 and bad.json() == {"code": 400, "message": "page must be a positive integer"}
    invoice = first[3]
    single = await get(session, f"{url}/{invoice['id']}", access)
    assert single.json() == invoice and invoice["lines"] and invoice["organisation_id"] == org
    server.envelope = "data"
    assert (await get(session, f"{url}/{invoice['id']}", access)).json() == {"data": invoice}
    # Records of another organisation are invisible to this token.
    foreign = next(iter(server.expected(server.organisations[1], "invoices")))
    assert (await get(session, f"{url}/{foreign}", access)).status == 404
    assert (await get(session, f"{server.base_url}/api/v1/banks", access)).json()["code"] == 404
    assert (await get(session, url, access, method="POST")).status == 405
    with pytest.raises(ValueError, match="valid: bare, data"):
        server.envelope = "items"  # type: ignore[assignment]


async def test_mutations(server: FakeAccounteerServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    org = server.organisations[0]
    access = await login(session, server, org)
    before = server.expected(org, "contacts")
    clock.advance(5)
    server.mutate(org, "contacts", add=2, change=3, delete=4)
    after = server.expected(org, "contacts")
    assert len(before.keys() - after.keys()) == 4 and len(after.keys() - before.keys()) == 2
    touched = {k for k in after if after[k] != before.get(k)}
    assert len(touched) == 5
    assert all(after[k]["updated_at"] == accounteer_datetime(clock.time()) for k in touched)
    assert max(after) > max(before)  # new ids continue the sequence
    found, _ = await list_all(session, server, access, "contacts", 10)
    assert found == after
    server.mutate(org, "organisations", change=1)
    with pytest.raises(ValueError):
        server.mutate(org, "organisations", add=1)
    with pytest.raises(ValueError):
        server.mutate(org, "contacts", delete=100)


# -- the wire ------------------------------------------------------------------------


async def test_faults_gzip_and_rate_limit(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    async with FakeAccounteerServer(organisations=2, records=5, clock=clock, rate_limit=(4, 60)) as server:
        one, two = server.organisations
        access_one, access_two = await login(session, server, one), await login(session, server, two)
        url = server.url_for("taxes")
        server.faults.fail_5xx(1, 500, tenant=two)
        assert (await get(session, url, access_one)).status == 200
        failed = await get(session, url, access_two)
        assert failed.status == 500 and failed.json() == {"code": 500, "message": "Internal Server Error"}
        server.faults.fail_5xx(1, include_token=True)
        assert (await refresh(session, server, server.grant(one))).status == 503
        access_one = await login(session, server, one)
        server.faults.truncate_gzip(1, tenant=one)
        with pytest.raises(aiohttp.ClientPayloadError):
            await get(session, url, access_one, headers={"Accept-Encoding": "gzip"})
        async with aiohttp.ClientSession(auto_decompress=False) as raw:
            zipped = await get(raw, url, access_one, headers={"Accept-Encoding": "gzip"})
            assert zipped.headers["Content-Encoding"] == "gzip"
            assert orjson.loads(gzip.decompress(zipped.body)) == list(server.expected(one, "taxes").values())
        # Three calls of "one" so far in this window (the truncated one counts): one more, then 429.
        assert (await get(session, url, access_one)).status == 200
        limited = await get(session, url, access_one)
        assert limited.status == 429 and limited.json()["code"] == 429
        assert (await get(session, url, access_two)).status == 200  # per organisation
        clock.advance(int(limited.headers["Retry-After"]))
        assert (await get(session, url, access_one)).status == 200
        assert server.stats.max_calls_in_window(one, 60, aligned=True) == 4
        assert server.stats.rate_limited == 1


def test_data_is_deterministic() -> None:
    one = FakeAccounteerServer(records={"invoices": 3, "contacts": 2}, seed=5)
    two = FakeAccounteerServer(records={"invoices": 3, "contacts": 2}, seed=5)
    other = FakeAccounteerServer(records={"invoices": 3, "contacts": 2}, seed=6)
    org = one.organisations[0]
    assert one.expected(org, "invoices") == two.expected(org, "invoices")
    assert one.expected(org, "invoices") != other.expected(org, "invoices")
    assert one.expected(org, "journals") == {}
    ids = set(one.expected(org, "invoices")) & set(one.expected(one.organisations[1], "invoices"))
    assert not ids  # ids never collide between organisations
    with pytest.raises(ValueError, match="unknown resource"):
        FakeAccounteerServer(records={"banks": 1})
    with pytest.raises(ValueError, match="unknown organisation"):
        one.grant(1)
