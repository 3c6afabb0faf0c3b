"""The fake Exact Online server, exercised over real HTTP on loopback in virtual time."""

from __future__ import annotations

import base64
import gzip
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from multidict import CIMultiDict

from replicator.testing.clock import VirtualClock
from replicator.testing.exact_data import RESOURCES, exact_date_from_epoch
from replicator.testing.fake_exact import FakeExactServer, exact_date, parse_exact_date
from tests.fakes.conftest import Answer

TX = "sync/Financial/TransactionLines"
TX_FIELDS = ",".join(RESOURCES["transaction_lines"].fields)


@pytest_asyncio.fixture
async def server(clock: VirtualClock) -> AsyncIterator[FakeExactServer]:
    async with FakeExactServer(divisions=2, records=50, clock=clock, sync_page_size=20,
                               regular_page_size=7) as srv:
        yield srv


async def refresh(session: aiohttp.ClientSession, server: FakeExactServer, token: str,
                  **form: str) -> Answer:
    data = {"grant_type": "refresh_token", "refresh_token": token,
            "client_id": server.client_id, "client_secret": server.client_secret, **form}
    async with session.post(f"{server.base_url}/api/oauth2/token", data=data) as resp:
        return Answer(resp.status, CIMultiDict(resp.headers), await resp.read())


async def login(session: aiohttp.ClientSession, server: FakeExactServer,
                name: str = "default", divisions: list[int] | None = None) -> str:
    answer = await refresh(session, server, server.add_grant(name, divisions))
    assert answer.status == 200, answer.body
    return str(answer.json()["access_token"])


async def get(session: aiohttp.ClientSession, url: str, token: str, *,
              headers: dict[str, str] | None = None, **kwargs: Any) -> Answer:
    sent = {"Authorization": f"Bearer {token}", "Accept": "application/json", **(headers or {})}
    async with session.get(url, headers=sent, **kwargs) as resp:
        return Answer(resp.status, CIMultiDict(resp.headers), await resp.read())


async def sync_all(session: aiohttp.ClientSession, server: FakeExactServer, token: str,
                   division: int, path: str, params: dict[str, str]) -> tuple[list[Any], int]:
    url: str | None = f"{server.base_url}/api/v1/{division}/{path}"
    rows: list[Any] = []
    pages = 0
    query: dict[str, str] | None = params
    while url is not None:
        answer = await get(session, url, token, params=query)
        assert answer.status == 200, answer.body
        d = answer.json()["d"]
        rows += d["results"]
        pages += 1
        url, query = d.get("__next"), None
    return rows, pages


def strip(rows: list[dict[str, Any]], key: str = "ID") -> dict[str, dict[str, Any]]:
    return {r[key]: {k: v for k, v in r.items() if k != "__metadata"} for r in rows}


# -- OAuth ------------------------------------------------------------------


async def test_refresh_rotates_and_reusing_an_old_token_kills_the_grant(
        server: FakeExactServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    first = server.add_grant()
    answer = await refresh(session, server, first)
    assert answer.status == 200
    body = answer.json()
    assert body["expires_in"] == "600" and body["token_type"] == "bearer"
    second, access = body["refresh_token"], body["access_token"]
    assert second != first and "!" in second
    me = await get(session, f"{server.base_url}/api/v1/current/Me", access)
    assert me.status == 200
    assert me.json()["d"]["results"][0]["CurrentDivision"] == server.division_codes()[0]

    clock.advance(600)  # the access token dies at its own expiry
    expired = await get(session, f"{server.base_url}/api/v1/current/Me", access)
    assert expired.status == 401
    assert expired.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert expired.json()["error"]["message"]["value"] == "Access token is expired or invalid"

    answer = await refresh(session, server, second)
    assert answer.status == 200
    third, access = answer.json()["refresh_token"], answer.json()["access_token"]
    old = await refresh(session, server, first)
    assert old.status == 401
    assert old.json() == {"error": "unauthorized_client",
                          "error_description": "Old refresh token used."}
    # The connection is dead now: even the newest refresh token and access token fail.
    clock.advance(600)
    dead = await refresh(session, server, third)
    assert dead.status == 400 and dead.json()["error"] == "invalid_grant"
    assert (await get(session, f"{server.base_url}/api/v1/current/Me", access)).status == 401
    assert server.stats.token_refreshes == 2


async def test_too_early_refresh_is_refused_and_keeps_the_token(
        server: FakeExactServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    answer = await refresh(session, server, server.add_grant())
    token, access = answer.json()["refresh_token"], answer.json()["access_token"]
    clock.advance(569)
    early = await refresh(session, server, token)
    assert early.status == 400
    assert early.json() == {"error": "access_denied",
                            "error_description": "Rate limit exceeded: access_token not expired"}
    assert early.headers["Reason"] == "TooEarlyToRefreshTokens"
    clock.advance(1)
    later = await refresh(session, server, token)
    assert later.status == 200
    # The previous access token lives until its own expiry, then dies.
    me = f"{server.base_url}/api/v1/current/Me"
    assert (await get(session, me, access)).status == 200
    clock.advance(30)
    assert (await get(session, me, access)).status == 401
    assert (await get(session, me, later.json()["access_token"])).status == 200


async def test_client_credentials_unknown_tokens_and_revocation(
        server: FakeExactServer, session: aiohttp.ClientSession) -> None:
    token = server.add_grant("acme")
    wrong = await refresh(session, server, token, client_secret="nope")
    assert wrong.status == 400 and wrong.json() == {"error": "invalid_client"}
    unknown = await refresh(session, server, "Fk!unknown")
    assert unknown.status == 400 and unknown.json()["error"] == "invalid_grant"
    # HTTP Basic for the client credentials works too.
    basic = base64.b64encode(f"{server.client_id}:{server.client_secret}".encode()).decode()
    async with session.post(f"{server.base_url}/api/oauth2/token",
                            data={"grant_type": "refresh_token", "refresh_token": token},
                            headers={"Authorization": f"Basic {basic}"}) as resp:
        assert resp.status == 200
        body = await resp.json()
    server.revoke_grant("acme")
    revoked = await refresh(session, server, body["refresh_token"])
    assert revoked.status == 400 and revoked.json()["error"] == "invalid_grant"
    division = server.division_codes("acme")[0]
    answer = await get(session, f"{server.base_url}/api/v1/{division}/{TX}", body["access_token"],
                       params={"$select": "ID"})
    assert answer.status == 401


async def test_reauthorising_starts_a_new_chain(
        server: FakeExactServer, session: aiohttp.ClientSession) -> None:
    old = server.add_grant("acme")
    assert (await refresh(session, server, old)).status == 200
    assert (await refresh(session, server, old)).status == 401  # the grant dies
    fresh = server.add_grant("acme")  # a person authorises the app again
    assert (await refresh(session, server, fresh)).status == 200
    assert (await refresh(session, server, old)).json()["error"] == "invalid_grant"
    with pytest.raises(ValueError):
        server.add_grant("x", [1])
    assert server.stats.requests_total == server.stats.requests[(None, "/api/oauth2/token")] == 4


# -- sync endpoints -----------------------------------------------------------


async def test_paging_with_next_covers_exactly_the_expected_rows(
        server: FakeExactServer, session: aiohttp.ClientSession) -> None:
    access = await login(session, server)
    division = server.division_codes()[1]
    url = f"{server.base_url}/api/v1/{division}/{TX}"
    first = await get(session, url, access, params={"$select": TX_FIELDS})
    d = first.json()["d"]
    assert len(d["results"]) == 20
    assert d["__next"].startswith(f"{url}?$select=ID,Timestamp,")
    assert "$skiptoken=" in d["__next"]
    row = d["results"][0]
    assert row["__metadata"]["uri"].startswith(f"{url}(guid'")
    assert row["__metadata"]["type"].startswith("Exact.Web.Api.Models")

    rows, pages = await sync_all(session, server, access, division, TX, {"$select": TX_FIELDS})
    assert pages == math.ceil(50 / 20)
    stamps = [r["Timestamp"] for r in rows]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert max(stamps) > 2**32  # an Int64 rowversion
    assert strip(rows) == server.expected(division, "transaction_lines")
    assert server.stats.records_served["transaction_lines"] == 50 + 20


async def test_every_sync_resource_pages_to_its_expected_rows(
        server: FakeExactServer, session: aiohttp.ClientSession) -> None:
    access = await login(session, server)
    division = server.division_codes()[0]
    for name, spec in RESOURCES.items():
        if not spec.sync:
            continue
        rows, _ = await sync_all(session, server, access, division, spec.path,
                                 {"$select": ",".join(spec.fields)})
        assert strip(rows, spec.key) == server.expected(division, name), name


async def test_select_is_mandatory_and_honoured(
        server: FakeExactServer, session: aiohttp.ClientSession) -> None:
    access = await login(session, server)
    url = f"{server.base_url}/api/v1/{server.division_codes()[0]}/{TX}"
    missing = await get(session, url, access)
    assert missing.status == 400
    assert missing.json() == {"error": {"code": "", "message": {
        "lang": "", "value": "$select is mandatory"}}}
    assert missing.headers["X-RateLimit-Minutely-Remaining"] == "59"
    unknown = await get(session, url, access, params={"$select": "ID,Nope"})
    assert unknown.status == 400 and "Nope" in unknown.json()["error"]["message"]["value"]
    narrow = await get(session, url, access, params={"$select": "AmountDC,ID"})
    assert all(set(r) == {"__metadata", "ID", "AmountDC"} for r in narrow.json()["d"]["results"])
    assert "$select=AmountDC,ID" in narrow.json()["d"]["__next"]


async def test_timestamp_filter_with_and_without_suffix(
        server: FakeExactServer, session: aiohttp.ClientSession) -> None:
    access = await login(session, server)
    division = server.division_codes()[0]
    stamps = sorted(r["Timestamp"] for r in server.expected(division, "accounts").values())
    cut = stamps[9]
    for literal in (f"{cut}L", str(cut)):
        rows, pages = await sync_all(session, server, access, division, "sync/CRM/Accounts",
                                     {"$select": "ID,Timestamp",
                                      "$filter": f"Timestamp gt {literal}"})
        assert [r["Timestamp"] for r in rows] == stamps[10:] and pages == 2
    # Percent-encoded by hand, as a client that builds its own URL would.
    url = (f"{server.base_url}/api/v1/{division}/sync/CRM/Accounts?$select=ID"
           f"&$filter=Timestamp%20gt%20{stamps[-2]}L")
    answer = await get(session, url, access)
    assert len(answer.json()["d"]["results"]) == 1 and "__next" not in answer.json()["d"]
    bad = await get(session, url.replace("Timestamp%20gt", "Name%20eq"), access)
    assert bad.status == 400


async def test_gzip_and_atom(server: FakeExactServer, session: aiohttp.ClientSession) -> None:
    access = await login(session, server)
    async with aiohttp.ClientSession(auto_decompress=False) as raw:
        url = f"{server.base_url}/api/v1/{server.division_codes()[0]}/{TX}?$select=ID"
        zipped = await get(raw, url, access, headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert len(orjson.loads(gzip.decompress(zipped.body))["d"]["results"]) == 20
        plain = await get(raw, url, access, headers={"Accept-Encoding": "identity"})
        assert "Content-Encoding" not in plain.headers
        assert len(plain.json()["d"]["results"]) == 20
        atom = await get(raw, url, access, headers={"Accept": "*/*",
                                                    "Accept-Encoding": "identity"})
        assert atom.status == 200
        assert atom.headers["Content-Type"].startswith("application/atom+xml")
        assert atom.body.startswith(b"<?xml") and b"<feed" in atom.body


# -- limits -------------------------------------------------------------------


async def test_minutely_limit_and_its_headers(
        server: FakeExactServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    access = await login(session, server)
    division = server.division_codes()[0]
    url = f"{server.base_url}/api/v1/{division}/system/Divisions"
    minute = math.floor(clock.time() / 60) * 60
    answers = [await get(session, url, access) for _ in range(61)]
    assert [a.status for a in answers[:60]] == [200] * 60
    ok = answers[59].headers
    assert ok["X-RateLimit-Minutely-Limit"] == "60"
    assert ok["X-RateLimit-Minutely-Remaining"] == "0"
    assert ok["X-RateLimit-Minutely-Reset"] == str((minute + 60) * 1000)
    assert ok["X-RateLimit-Limit"] == "5000" and ok["X-RateLimit-Remaining"] == "4940"
    # 2026-01-05 10:00 CET: the day ends at 23:00 UTC.
    midnight = datetime(2026, 1, 5, 23, tzinfo=UTC).timestamp()
    assert ok["X-RateLimit-Reset"] == str(int(midnight * 1000))
    limited = answers[60]
    assert limited.status == 429 and limited.body == b""
    assert {h for h in limited.headers if h.lower().startswith("x-ratelimit")} == {
        "X-RateLimit-Minutely-Limit", "X-RateLimit-Minutely-Remaining",
        "X-RateLimit-Minutely-Reset"}
    # Another division has its own budget; current/Me has none.
    other = f"{server.base_url}/api/v1/{server.division_codes()[1]}/system/Divisions"
    assert (await get(session, other, access)).status == 200
    assert (await get(session, f"{server.base_url}/api/v1/current/Me", access)).status == 200
    clock.advance(minute + 60 - clock.time())
    again = await get(session, url, access)
    assert again.status == 200 and again.headers["X-RateLimit-Minutely-Remaining"] == "59"
    assert server.stats.rate_limited == 1
    assert server.stats.max_calls_in_any_minute(division) == 60
    assert server.stats.calls(division) == 61


async def test_daily_limit(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    async with FakeExactServer(divisions=1, records=5, clock=clock, daily_limit=3) as server:
        access = await login(session, server)
        url = f"{server.base_url}/api/v1/{server.division_codes()[0]}/vat/VATCodes"
        statuses = [(await get(session, url, access)).status for _ in range(3)]
        limited = await get(session, url, access)
        assert statuses == [200] * 3 and limited.status == 429
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert "X-RateLimit-Minutely-Limit" not in limited.headers
        assert limited.json()["error"]["message"]["value"]
        clock.advance(14 * 3600)  # past Amsterdam midnight
        assert (await get(session, url, await login(session, server, "later"))).status == 200


async def test_repeated_errors_block_the_endpoint_for_an_hour(
        server: FakeExactServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    access = await login(session, server)
    division = server.division_codes()[0]
    url = f"{server.base_url}/api/v1/{division}/{TX}"
    statuses = [(await get(session, url, access)).status for _ in range(12)]
    assert statuses == [400] * 11 + [403]
    assert server.stats.blocked[0][:2] == (division, f"/api/v1/{division}/{TX}")
    ok_elsewhere = await get(session, f"{server.base_url}/api/v1/{division}/vat/VATCodes", access)
    assert ok_elsewhere.status == 200
    clock.advance(3600)
    access = await login(session, server, "later")
    assert (await get(session, url, access, params={"$select": "ID"})).status == 200


async def test_division_access(server: FakeExactServer, session: aiohttp.ClientSession) -> None:
    first, second = server.division_codes()
    access = await login(session, server, "narrow", [second])
    assert server.division_codes("narrow") == [second]
    me = await get(session, f"{server.base_url}/api/v1/current/Me", access)
    assert me.json()["d"]["results"][0]["CurrentDivision"] == second
    denied = await get(session, f"{server.base_url}/api/v1/{first}/vat/VATCodes", access)
    assert denied.status == 403 and denied.json()["error"]["message"]["value"]
    missing = await get(session, f"{server.base_url}/api/v1/999/vat/VATCodes", access)
    assert missing.status == 404
    listed = await get(session, f"{server.base_url}/api/v1/{second}/system/Divisions", access)
    assert [r["Code"] for r in listed.json()["d"]["results"]] == [second]


async def test_divisions_and_vat_codes_page_by_sixty_style_pages(
        clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    async with FakeExactServer(divisions=10, records=16, clock=clock,
                               regular_page_size=4) as server:
        access = await login(session, server)
        division = server.division_codes()[0]
        rows, pages = await sync_all(session, server, access, division, "system/Divisions", {})
        assert [r["Code"] for r in rows] == server.division_codes() and pages == 3
        assert set(rows[0]) - {"__metadata"} == {
            "Code", "Description", "HID", "Customer", "Country", "Currency", "Main",
            "Created", "Modified"}
        rows, pages = await sync_all(session, server, access, division, "vat/VATCodes", {})
        assert strip(rows) == server.expected(division, "vat_codes") and pages == 4
        url = server.url_for(division, "vat_codes")
        assert "$skiptoken=guid'" in (await get(session, url, access)).json()["d"]["__next"]
        # $top caps the total, paging included; $select narrows like on sync endpoints.
        rows, pages = await sync_all(session, server, access, division, "vat/VATCodes",
                                     {"$top": "6", "$select": "ID,Percentage"})
        assert len(rows) == 6 and pages == 2
        assert set(rows[0]) == {"__metadata", "ID", "Percentage"}


# -- faults ---------------------------------------------------------------------


async def test_fail_5xx_with_division_filter_and_token_endpoint(
        server: FakeExactServer, session: aiohttp.ClientSession) -> None:
    access = await login(session, server)
    first, second = server.division_codes()
    server.faults.fail_5xx(2, division=second)
    url = f"{server.base_url}/api/v1/{{}}/vat/VATCodes"
    assert (await get(session, url.format(first), access)).status == 200
    failed = [await get(session, url.format(second), access) for _ in range(2)]
    assert [f.status for f in failed] == [503, 503]
    assert failed[0].headers["Content-Type"].startswith("text/html")
    assert (await get(session, url.format(second), access)).status == 200
    server.faults.fail_5xx(1, 500)
    broken = await get(session, url.format(first), access)
    assert broken.status == 500 and broken.json()["error"]
    server.faults.fail_5xx(1, include_token=True)
    assert (await refresh(session, server, server.add_grant("t"))).status == 503


async def test_reset_truncate_and_maintenance(server: FakeExactServer) -> None:
    async with aiohttp.ClientSession() as session:
        access = await login(session, server)
        url = f"{server.base_url}/api/v1/{server.division_codes()[0]}/{TX}?$select={TX_FIELDS}"
        # aiohttp retries an idempotent request once when the connection drops,
        # so it takes two resets for the caller to see one.
        server.faults.reset(2)
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await get(session, url, access)
        server.faults.truncate_gzip(1)
        with pytest.raises(aiohttp.ClientPayloadError):
            await get(session, url, access, headers={"Accept-Encoding": "gzip"})
        server.faults.html_maintenance(1)
        page = await get(session, url, access)
        assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
        assert (await get(session, url, access)).status == 200
        assert server.faults.fired == {"reset": 2, "truncate_gzip": 1, "html_maintenance": 1}
        assert server.faults.pending() == {}


async def test_slow_answers_take_clock_time(
        server: FakeExactServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    access = await login(session, server)
    url = f"{server.base_url}/api/v1/{server.division_codes()[0]}/vat/VATCodes"
    server.faults.slow(2, 30.0)
    started = clock.time()
    assert (await get(session, url, access)).status == 200
    assert clock.time() - started >= 30
    server.faults.slow(0, 0)  # n=0 switches it off
    started = clock.time()
    assert (await get(session, url, access)).status == 200
    assert clock.time() - started < 1


async def test_relative_and_foreign_next_links(
        server: FakeExactServer, session: aiohttp.ClientSession) -> None:
    access = await login(session, server)
    url = f"{server.base_url}/api/v1/{server.division_codes()[0]}/{TX}?$select=ID"
    server.faults.relative_next = True
    relative = (await get(session, url, access)).json()["d"]["__next"]
    assert relative.startswith("/api/v1/") and "$skiptoken=" in relative
    server.faults.relative_next = False
    server.faults.foreign_next("http://evil.example")
    foreign = (await get(session, url, access)).json()["d"]["__next"]
    assert foreign.startswith("http://evil.example/api/v1/")
    assert (await get(session, url, access)).json()["d"]["__next"].startswith(server.base_url)


# -- mutations --------------------------------------------------------------------


async def test_mutations_show_up_in_an_incremental_sync_and_in_deleted(
        server: FakeExactServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    access = await login(session, server)
    division = server.division_codes()[0]
    before = server.expected(division, "accounts")
    high = max(r["Timestamp"] for r in before.values())
    high_deleted = max(r["Timestamp"] for r in server.expected(division, "deleted").values())
    server.mutate(division, "accounts", add=3, change=4, delete=2)
    after = server.expected(division, "accounts")
    gone = before.keys() - after.keys()
    added = after.keys() - before.keys()
    changed = {k for k in before.keys() & after.keys() if before[k] != after[k]}
    assert (len(gone), len(added), len(changed)) == (2, 3, 4)
    now = exact_date_from_epoch(clock.time())
    assert all(after[k]["Modified"] == now for k in added | changed)

    rows, _ = await sync_all(session, server, access, division, "sync/CRM/Accounts",
                             {"$select": ",".join(RESOURCES["accounts"].fields),
                              "$filter": f"Timestamp gt {high}L"})
    assert strip(rows) == {k: after[k] for k in added | changed}
    tombs, _ = await sync_all(session, server, access, division, "sync/Deleted",
                              {"$select": "ID,Timestamp,EntityKey,EntityType,DeletedDate",
                               "$filter": f"Timestamp gt {high_deleted}L"})
    assert {t["EntityKey"] for t in tombs} == gone
    assert {t["EntityType"] for t in tombs} == {2}
    assert all(t["Timestamp"] > high for t in tombs)
    # Full resync equals the new state.
    full, _ = await sync_all(session, server, access, division, "sync/CRM/Accounts",
                             {"$select": ",".join(RESOURCES["accounts"].fields)})
    assert strip(full) == after


async def test_vat_code_changes_and_the_modified_filter(
        server: FakeExactServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    access = await login(session, server)
    division = server.division_codes()[0]
    with pytest.raises(ValueError, match="deletion"):
        server.mutate(division, "vat_codes", delete=1)
    server.mutate(division, "vat_codes", change=3, add=1)
    local = parse_exact_date(exact_date_from_epoch(clock.time()))
    since = local.strftime("%Y-%m-%dT%H:%M:%S")
    rows, _ = await sync_all(session, server, access, division, "vat/VATCodes",
                             {"$filter": f"Modified ge datetime'{since}'"})
    expected = {k: v for k, v in server.expected(division, "vat_codes").items()
                if parse_exact_date(v["Modified"]) >= local}
    assert len(rows) == 4 and strip(rows) == expected
    assert all("Timestamp" not in r for r in rows)


# -- data model -------------------------------------------------------------------


def test_exact_dates_are_amsterdam_wall_clock() -> None:
    summer = datetime(2024, 7, 1, 12, tzinfo=UTC)  # 14:00 CEST
    assert exact_date(summer) == "/Date(1719842400000)/"
    winter = datetime(2024, 1, 1, 12, tzinfo=UTC)  # 13:00 CET
    assert exact_date(winter) == "/Date(1704114000000)/"
    assert parse_exact_date(exact_date(summer)) == summer
    assert exact_date_from_epoch(summer.timestamp()) == exact_date(summer)
    with pytest.raises(ValueError):
        parse_exact_date("2024-01-01")


def test_data_is_deterministic_and_lazy() -> None:
    one = FakeExactServer(divisions=300, records={"accounts": 5, "vat_codes": 2}, seed=7)
    two = FakeExactServer(divisions=300, records={"accounts": 5, "vat_codes": 2}, seed=7)
    other = FakeExactServer(divisions=300, records={"accounts": 5, "vat_codes": 2}, seed=8)
    division = one.division_codes()[299]
    assert one.expected(division, "accounts") == two.expected(division, "accounts")
    assert one.expected(division, "accounts") != other.expected(division, "accounts")
    assert one.expected(division, "transaction_lines") == {}
    with pytest.raises(ValueError, match="unknown resource"):
        one.expected(division, "invoices")
    with pytest.raises(ValueError, match="unknown resource"):
        FakeExactServer(records={"invoices": 1})
