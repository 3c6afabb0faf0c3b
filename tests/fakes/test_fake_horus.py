"""The fake Horus Office server, exercised over real HTTP on loopback in virtual time."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from multidict import CIMultiDict

from replicator.testing.clock import VirtualClock
from replicator.testing.fake_horus import FakeHorusServer, PagingMode
from replicator.testing.horus_data import horus_datetime, parse_horus_datetime
from tests.fakes.conftest import Answer

BOOK = "book-entries"
EVERYTHING = "CompanyDetail.Company,Daybook,Folder"


@pytest_asyncio.fixture
async def server(clock: VirtualClock) -> AsyncIterator[FakeHorusServer]:
    async with FakeHorusServer(licences=2, folders=3, records=23, clock=clock, default_page_size=10) as srv:
        yield srv


async def token(session: aiohttp.ClientSession, server: FakeHorusServer, api_url: str, **form: str) -> Answer:
    data = {"client_id": server.client_id, "client_secret": server.client_secret, **form}
    async with session.post(f"{api_url}/oauth2/access_token", data=data) as resp:
        return Answer(resp.status, CIMultiDict(resp.headers), await resp.read())


async def login(session: aiohttp.ClientSession, server: FakeHorusServer, licence: str) -> tuple[str, str]:
    api_url, refresh = server.grant(licence)
    answer = await token(session, server, api_url, grant_type="refresh_token", refresh_token=refresh)
    assert answer.status == 200, answer.body
    return api_url, str(answer.json()["access_token"])


async def call(session: aiohttp.ClientSession, url: str, access: str, body: Any = None, *,
               method: str = "POST", headers: dict[str, str] | None = None, **kwargs: Any) -> Answer:
    sent = {"Authorization": f"Bearer {access}", **(headers or {})}
    if body is not None:
        kwargs["json"] = body
    async with session.request(method, url, headers=sent, **kwargs) as resp:
        return Answer(resp.status, CIMultiDict(resp.headers), await resp.read())


async def list_all(session: aiohttp.ClientSession, url: str, access: str, body: dict[str, Any],
                   page_size: int) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], int]:
    """A tolerant client: follows a paging object, else stops on a short page."""
    rows: list[dict[str, Any]] = []
    included: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        answer = await call(session, url, access, {**body, "Page": page, "PageSize": page_size})
        assert answer.status == 200, answer.body
        doc = answer.json()
        rows += doc["Data"]
        for name, entities in doc.get("Included", {}).items():
            ids = [e["Id"] for e in entities]
            assert len(ids) == len(set(ids)), f"{name} sideloaded twice in one response"
            included.update((f"{name}/{e['Id']}", e) for e in entities)
        paging = doc.get("Paging")
        if paging is not None:
            if page >= paging["TotalPages"]:
                return rows, included, page
        elif len(doc["Data"]) != page_size:  # short page, or paging ignored altogether
            return rows, included, page
        page += 1


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {r["Id"]: r for r in rows}
    assert len(found) == len(rows), "duplicate rows"
    return found


# -- OAuth ----------------------------------------------------------------------


async def test_code_exchange_refresh_rotation_and_reuse(
        server: FakeHorusServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    licence = server.licences[0]
    callback = server.authorize(licence, state="xyz")
    assert callback["api_url"] == server.licence_url(licence) == f"{server.base_url}/licences/{licence}"
    assert callback["state"] == "xyz"
    api = callback["api_url"]
    first = await token(session, server, api, grant_type="auth_code", code=callback["code"],
                        redirect_uri=server.redirect_uri)
    assert first.status == 200, first.body
    body = first.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    again = await token(session, server, api, grant_type="auth_code", code=callback["code"])
    assert again.status == 400 and again.json()["error"] == "invalid_grant"  # single use

    me = await call(session, f"{api}/users.me", body["access_token"], method="GET")
    assert me.status == 200 and me.json()["Data"]["Id"]
    clock.advance(3600)
    expired = await call(session, f"{api}/users.me", body["access_token"], method="GET")
    assert expired.status == 401 and expired.json()["ErrorType"] == "unauthorized"
    assert expired.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'

    second = await token(session, server, api, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert second.status == 200
    new = second.json()
    assert new["refresh_token"] != body["refresh_token"]
    reused = await token(session, server, api, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert reused.status == 400 and reused.json()["error"] == "invalid_grant"
    # Reuse killed the grant: the newest refresh token and access token die with it.
    dead = await token(session, server, api, grant_type="refresh_token", refresh_token=new["refresh_token"])
    assert dead.status == 400
    assert (await call(session, f"{api}/users.me", new["access_token"], method="GET")).status == 401
    assert server.stats.token_refreshes == 2


async def test_code_expiry_redirect_client_and_licence_checks(
        server: FakeHorusServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    one, two = server.licences
    api_one, api_two = server.licence_url(one), server.licence_url(two)
    late = server.authorize(one)
    clock.advance(120)
    expired = await token(session, server, api_one, grant_type="auth_code", code=late["code"])
    assert expired.json() == {"error": "invalid_grant", "error_description": "The authorization code has expired"}
    elsewhere = await token(session, server, api_two, grant_type="auth_code", code=server.authorize(one)["code"])
    assert elsewhere.status == 400
    mismatch = await token(session, server, api_one, grant_type="auth_code", code=server.authorize(one)["code"],
                           redirect_uri="https://evil.example/cb")
    assert mismatch.status == 400
    wrong = await token(session, server, api_one, grant_type="auth_code", code=server.authorize(one)["code"],
                        client_secret="nope")
    assert wrong.status == 401 and wrong.json()["error"] == "invalid_client"
    rfc = await token(session, server, api_one, grant_type="authorization_code", code=server.authorize(one)["code"])
    assert rfc.json()["error"] == "unsupported_grant_type"  # the seed's value is auth_code
    # A token of one licence is useless on another licence's URL.
    _, access = await login(session, server, one)
    assert (await call(session, f"{api_two}/users.me", access, method="GET")).status == 401
    me = await call(session, f"{api_one}/licenses.me", access, method="GET")
    assert me.json()["Data"]["ApiUrl"] == api_one
    server.revoke(one)
    assert (await call(session, f"{api_one}/users.me", access, method="GET")).status == 401


# -- lists and paging -------------------------------------------------------------


@pytest.mark.parametrize("mode", ["object", "full_pages", "all_at_once"])
async def test_every_paging_mode_covers_exactly_the_expected_records(
        server: FakeHorusServer, session: aiohttp.ClientSession, mode: PagingMode) -> None:
    server.paging_mode = mode
    licence = server.licences[1]
    api, access = await login(session, server, licence)
    folder = server.folder_ids(licence)[2]
    for resource in ("companies", BOOK, "account-histories", "invoices.sales.outstanding"):
        rows, _, pages = await list_all(session, f"{api}/{resource}.list", access, {"FolderId": folder}, 10)
        assert by_id(rows) == server.expected(licence, folder, resource), resource
        assert pages == (1 if mode == "all_at_once" else 3)
    folders, _, _ = await list_all(session, f"{api}/folders.list", access, {"Mode": 0}, 2)
    assert by_id(folders) == server.expected(licence, None, "folders")


async def test_paging_object_and_its_edges(server: FakeHorusServer, session: aiohttp.ClientSession) -> None:
    licence = server.licences[0]
    api, access = await login(session, server, licence)
    url = f"{api}/{BOOK}.list"
    body = {"FolderId": server.folder_ids(licence)[0]}
    doc = (await call(session, url, access, body)).json()
    assert doc["Paging"] == {"Page": 1, "PageSize": 10, "TotalPages": 3, "TotalCount": 23}
    assert len(doc["Data"]) == 10 and "Included" not in doc
    capped = (await call(session, url, access, {**body, "PageSize": 10_000})).json()["Paging"]
    assert capped["PageSize"] == server.max_page_size
    beyond = (await call(session, url, access, {**body, "Page": 9})).json()
    assert beyond["Data"] == [] and beyond["Paging"]["Page"] == 9

    server.paging_mode = "full_pages"
    rows, _, pages = await list_all(session, url, access, body, 23)  # an exact multiple: one empty page
    assert pages == 2 and len(rows) == 23
    assert "Paging" not in (await call(session, url, access, body)).json()
    server.paging_mode = "all_at_once"
    again = (await call(session, url, access, {**body, "Page": 2, "PageSize": 5})).json()
    assert len(again["Data"]) == 23  # paging ignored: page 2 repeats everything
    with pytest.raises(ValueError, match="valid: object"):
        server.paging_mode = "cursor"  # type: ignore[assignment]


async def test_folders_mode_and_info(server: FakeHorusServer, session: aiohttp.ClientSession) -> None:
    licence = server.licences[0]
    api, access = await login(session, server, licence)
    everyone = (await call(session, f"{api}/folders.list", access, {"Mode": 0})).json()["Data"]
    mine = (await call(session, f"{api}/folders.list", access, {"Mode": 1})).json()["Data"]
    assert [f["Id"] for f in everyone] == server.folder_ids(licence)
    assert [f["Id"] for f in mine] == server.folder_ids(licence, mine=True)
    assert 1 <= len(mine) <= len(everyone)
    folder = everyone[1]["Id"]
    info = await call(session, f"{api}/folders.info", access, method="GET", params={"Id": folder})
    assert info.json() == {"Data": everyone[1]}
    company = next(iter(server.expected(licence, folder, "companies")))
    found = await call(session, f"{api}/companies.info", access, method="GET",
                       params={"Id": company, "FolderId": folder})
    assert found.json()["Data"] == server.expected(licence, folder, "companies")[company]


async def test_sideloading_dedups_and_resolves_references(
        server: FakeHorusServer, session: aiohttp.ClientSession) -> None:
    licence = server.licences[0]
    api, access = await login(session, server, licence)
    folder = server.folder_ids(licence)[0]
    body = {"FolderId": folder, "Include": EVERYTHING}
    doc = (await call(session, f"{api}/{BOOK}.list", access, {**body, "PageSize": 23})).json()
    included = doc["Included"]
    assert set(included) == {"Company", "Daybook", "Folder"}
    assert [f["Id"] for f in included["Folder"]] == [folder]  # 23 references, one entity
    companies = {e["Id"] for e in included["Company"]}
    referenced = {r["CompanyId"] for r in doc["Data"]} - {None}
    assert companies == referenced and len(companies) < 23
    assert {r["DaybookId"] for r in doc["Data"]} == {d["Id"] for d in included["Daybook"]}

    rows, merged, _ = await list_all(session, f"{api}/{BOOK}.list", access, body, 10)
    assert by_id(rows) == server.expected(licence, folder, BOOK)
    for name in ("Company", "Daybook", "Folder"):
        assert {k.split("/")[1]: v for k, v in merged.items() if k.startswith(name + "/")} == \
            server.expected_included(licence, folder, BOOK, name), name
    histories = (await call(session, f"{api}/account-histories.list", access,
                            {"FolderId": folder, "Include": "BookEntry,Company"})).json()
    assert set(histories["Included"]) == {"BookEntry", "Company"}
    assert {e["Id"] for e in histories["Included"]["BookEntry"]} <= set(server.expected(licence, folder, BOOK))
    # Unsupported paths are refused with a Horus error.
    bad = await call(session, f"{api}/companies.list", access, {"FolderId": folder, "Include": "Daybook"})
    assert bad.status == 400 and bad.json()["ErrorType"] == "invalid_request"
    assert (await call(session, f"{api}/folders.list", access, {"Include": "Folder"})).status == 400
    with pytest.raises(ValueError):
        server.expected_included(licence, folder, "companies", "Company")


async def test_modified_after_and_mutations(
        server: FakeHorusServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    licence = server.licences[0]
    api, access = await login(session, server, licence)
    folder = server.folder_ids(licence)[1]
    before = server.expected(licence, folder, "companies")
    watermark = max(r["Modified"] for r in before.values())
    clock.advance(10)
    server.mutate(licence, folder, "companies", add=2, change=3, delete=4)
    with pytest.raises(ValueError, match="only 21 records"):
        server.mutate(licence, folder, "companies", change=20, delete=2)
    after = server.expected(licence, folder, "companies")
    assert len(after) == 23 + 2 - 4 and len(before.keys() - after.keys()) == 4
    changed = {k for k in after if k not in before or after[k] != before[k]}
    assert len(changed) == 5
    assert all(after[k]["Modified"] == horus_datetime(clock.time()) for k in changed)
    rows, _, _ = await list_all(session, f"{api}/companies.list", access,
                                {"FolderId": folder, "ModifiedAfter": watermark}, 10)
    assert by_id(rows) == {k: after[k] for k in changed}
    # Any ISO form works; without an offset it is UTC.
    naive = parse_horus_datetime(watermark).removesuffix("Z")
    same = (await call(session, f"{api}/companies.list", access,
                       {"FolderId": folder, "ModifiedAfter": naive})).json()["Data"]
    assert by_id(same) == by_id(rows)
    bad = await call(session, f"{api}/companies.list", access, {"FolderId": folder, "ModifiedAfter": "yesterday"})
    assert bad.status == 400
    # Deleting a folder removes it and everything in it.
    old_folders = set(server.folder_ids(licence))
    server.mutate(licence, None, "folders", delete=1, add=1)
    folders = set(server.folder_ids(licence))
    (gone,), (added,) = old_folders - folders, folders - old_folders
    listed = await call(session, f"{api}/companies.list", access, {"FolderId": gone})
    assert listed.status == 404
    fresh = await call(session, f"{api}/companies.list", access, {"FolderId": added})
    assert len(fresh.json()["Data"]) == 10


async def test_errors_have_the_horus_shape(server: FakeHorusServer, session: aiohttp.ClientSession) -> None:
    licence = server.licences[0]
    api, access = await login(session, server, licence)
    unknown = await call(session, f"{api}/companies.list", access, {"FolderId": "00000000-0000-4000-8000-000000000000"})
    assert unknown.status == 404
    assert unknown.json() == {"ErrorType": "not_found", "Details": {"FolderId": "00000000-0000-4000-8000-000000000000"},
                              "Message": "Folder 00000000-0000-4000-8000-000000000000 not found"}
    missing = await call(session, f"{api}/companies.list", access, {})
    assert missing.status == 400 and missing.json()["Message"] == "FolderId is required"
    garbage = await call(session, f"{api}/companies.list", access, data=b"{nope", headers={
        "Content-Type": "application/json"})
    assert garbage.status == 400 and garbage.json()["ErrorType"] == "invalid_request"
    page = await call(session, f"{api}/companies.list", access, {"FolderId": "x", "Page": 0})
    assert page.status == 400
    assert (await call(session, f"{api}/companies.list", access, method="GET")).status == 405
    assert (await call(session, f"{api}/nothing.list", access, {})).json()["ErrorType"] == "not_found"
    nowhere = await call(session, f"{server.base_url}/licences/lic999/users.me", access, method="GET")
    assert nowhere.status == 404 and nowhere.json()["ErrorType"] == "not_found"
    info = await call(session, f"{api}/folders.info", access, method="GET", params={"Id": "nope"})
    assert info.status == 404


# -- the wire -------------------------------------------------------------------------


async def test_gzip_either_header_and_gzipped_bodies(
        server: FakeHorusServer, session: aiohttp.ClientSession) -> None:
    licence = server.licences[0]
    folder = server.folder_ids(licence)[0]
    api, access = await login(session, server, licence)
    async with aiohttp.ClientSession(auto_decompress=False) as raw:
        url = f"{api}/companies.list"
        plain = await call(raw, url, access, {"FolderId": folder}, headers={"Accept-Encoding": "identity"})
        assert "Content-Encoding" not in plain.headers and len(plain.json()["Data"]) == 10
        accepted = await call(raw, url, access, {"FolderId": folder}, headers={"Accept-Encoding": "gzip"})
        assert accepted.headers["Content-Encoding"] == "gzip"
        assert orjson.loads(gzip.decompress(accepted.body)) == plain.json()
        # The seed's advice: Content-Encoding on the request, here with a gzipped body.
        seed_way = await call(raw, url, access, data=gzip.compress(orjson.dumps({"FolderId": folder})),
                              headers={"Accept-Encoding": "identity", "Content-Encoding": "gzip",
                                       "Content-Type": "application/json"})
        assert seed_way.status == 200 and seed_way.headers["Content-Encoding"] == "gzip"
        assert orjson.loads(gzip.decompress(seed_way.body)) == plain.json()


async def test_faults(server: FakeHorusServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    one, two = server.licences
    api_one, access_one = await login(session, server, one)
    api_two, access_two = await login(session, server, two)
    server.faults.fail_5xx(1, 500, tenant=two)
    assert (await call(session, f"{api_one}/users.me", access_one, method="GET")).status == 200
    failed = await call(session, f"{api_two}/users.me", access_two, method="GET")
    assert failed.status == 500 and failed.json()["ErrorType"] == "internal_error"
    server.faults.fail_5xx(1, 503, include_token=True)
    _, refresh = server.grant(one)
    assert (await token(session, server, api_one, grant_type="refresh_token", refresh_token=refresh)).status == 503
    server.faults.reset(2)  # aiohttp retries an idempotent request once
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await call(session, f"{api_two}/users.me", access_two, method="GET")
    server.faults.truncate_gzip(1)
    with pytest.raises(aiohttp.ClientPayloadError):
        await call(session, f"{api_two}/users.me", access_two, method="GET", headers={"Accept-Encoding": "gzip"})
    server.faults.slow(1, 40.0)
    started = clock.time()
    assert (await call(session, f"{api_two}/users.me", access_two, method="GET")).status == 200
    assert clock.time() - started >= 40
    assert server.faults.pending() == {}


async def test_optional_rate_limit(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    async with FakeHorusServer(licences=1, folders=1, records=1, clock=clock, rate_limit=(3, 60)) as server:
        licence = server.licences[0]
        api, access = await login(session, server, licence)
        answers = [await call(session, f"{api}/users.me", access, method="GET") for _ in range(4)]
        assert [a.status for a in answers] == [200, 200, 200, 429]
        assert answers[3].json()["ErrorType"] == "too_many_requests"
        wait = int(answers[3].headers["Retry-After"])
        assert 1 <= wait <= 60
        clock.advance(wait)
        assert (await call(session, f"{api}/users.me", access, method="GET")).status == 200
        assert server.stats.max_calls_in_window(licence, 60, aligned=True) == 3
        assert server.stats.rate_limited == 1


def test_data_is_deterministic() -> None:
    one = FakeHorusServer(records={"companies": 4, BOOK: 6}, seed=3)
    two = FakeHorusServer(records={"companies": 4, BOOK: 6}, seed=3)
    other = FakeHorusServer(records={"companies": 4, BOOK: 6}, seed=4)
    licence = one.licences[0]
    folder = one.folder_ids(licence)[0]
    assert one.expected(licence, folder, BOOK) == two.expected(licence, folder, BOOK)
    assert one.folder_ids(licence) != other.folder_ids(licence)
    assert one.expected(licence, folder, "account-histories") == {}
    with pytest.raises(ValueError, match="unknown resource"):
        FakeHorusServer(records={"invoices": 1})
    with pytest.raises(ValueError, match="unknown licence"):
        one.grant("lic999")
