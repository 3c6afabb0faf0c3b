"""The fake HaloPSA server, exercised over real HTTP on loopback in virtual time."""

from __future__ import annotations

import base64
import math
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from replicator.testing.clock import VirtualClock
from replicator.testing.fake_halo import FakeHaloServer
from replicator.testing.halo_data import halo_time
from tests.fakes.conftest import Answer, fetch


@pytest_asyncio.fixture
async def server(clock: VirtualClock) -> AsyncIterator[FakeHaloServer]:
    async with FakeHaloServer(tenants=["acme", "globex"], records=23, clock=clock) as srv:
        yield srv


async def token_url(session: aiohttp.ClientSession, server: FakeHaloServer, tenant: str) -> str:
    """The token endpoint found the way a client must find it: through authinfo."""
    info = (await fetch(session, "GET", f"{server.tenant_url(tenant)}/api/authinfo")).json()
    query = f"?tenant={info['tenant_id']}" if "tenant_id" in info else ""
    return f"{info['auth_url']}/token{query}"


async def request_token(session: aiohttp.ClientSession, server: FakeHaloServer, tenant: str, *,
                        scope: str | None = "all", basic: bool = False, url: str | None = None) -> Answer:
    client_id, secret = server.credentials(tenant)
    form = {"grant_type": "client_credentials"}
    headers = {}
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    else:
        form |= {"client_id": client_id, "client_secret": secret}
    if scope is not None:
        form["scope"] = scope
    return await fetch(session, "POST", url or await token_url(session, server, tenant), data=form, headers=headers)


async def login(session: aiohttp.ClientSession, server: FakeHaloServer, tenant: str = "acme", **kw: Any) -> str:
    answer = await request_token(session, server, tenant, **kw)
    assert answer.status == 200, answer.body
    return str(answer.json()["access_token"])


async def get(session: aiohttp.ClientSession, url: str, token: str, **kwargs: Any) -> Answer:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return await fetch(session, "GET", url, headers=headers, **kwargs)


# -- auth -------------------------------------------------------------------------


async def test_token_found_through_authinfo_and_scope_all_is_required(
        server: FakeHaloServer, session: aiohttp.ClientSession) -> None:
    info = (await fetch(session, "GET", f"{server.tenant_url('acme')}/api/authinfo")).json()
    assert info == {"auth_url": f"{server.tenant_url('acme')}/auth", "tenant_id": server.tenant_id("acme")}
    assert info["tenant_id"] != "acme"  # clients must use what authinfo says
    url = server.url_for("acme", "Client")
    unscoped = await request_token(session, server, "acme", scope=None)
    assert unscoped.status == 200 and unscoped.json()["token_type"] == "Bearer"
    assert unscoped.json()["expires_in"] == 3600
    assert (await get(session, url, unscoped.json()["access_token"])).status == 401
    scoped = await login(session, server)
    assert (await get(session, url, scoped)).status == 200
    assert server.stats.token_refreshes == 2
    assert server.stats.calls("acme") == 1  # a 401 uses no budget


async def test_credentials_in_basic_and_the_rules_of_the_token_call(
        server: FakeHaloServer, session: aiohttp.ClientSession) -> None:
    token = await login(session, server, basic=True)
    assert (await get(session, server.url_for("acme", "Site"), token)).status == 200
    # The other tenant's URL refuses acme's token.
    assert (await get(session, server.url_for("globex", "Site"), token)).status == 401
    good = await token_url(session, server, "acme")
    without_tenant = good.split("?")[0]
    assert (await request_token(session, server, "acme", url=without_tenant)).json()["error"] == "invalid_request"
    wrong = await request_token(session, server, "globex", url=good)  # globex's credentials at acme
    assert wrong.status == 401 and wrong.json() == {"error": "invalid_client"}
    client_id, secret = server.credentials("acme")
    refresh = await fetch(session, "POST", good, data={"grant_type": "refresh_token", "client_id": client_id,
                                                        "client_secret": secret, "scope": "all"})
    assert refresh.json()["error"] == "unsupported_grant_type"


async def test_token_at_root_switch(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    async with FakeHaloServer(tenants=["a", "b"], records=1, clock=clock, token_at_root=["b"]) as server:
        info = (await fetch(session, "GET", f"{server.tenant_url('b')}/api/authinfo")).json()
        assert info["auth_url"] == server.tenant_url("b")
        assert await token_url(session, server, "b") == server.token_url("b")
        hard_coded = f"{server.tenant_url('b')}/auth/token?tenant={server.tenant_id('b')}"
        assert (await request_token(session, server, "b", url=hard_coded)).status == 404
        assert (await get(session, server.url_for("b", "Client"), await login(session, server, "b"))).status == 200
        assert server.token_url("a").endswith("/a/auth/token?tenant=" + server.tenant_id("a"))


async def test_self_hosted_has_no_tenant_id(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    async with FakeHaloServer(tenants=1, records=1, clock=clock, hosted=False) as server:
        info = (await fetch(session, "GET", f"{server.tenant_url('halo1')}/api/authinfo")).json()
        assert set(info) == {"auth_url"}
        await login(session, server, "halo1")


async def test_tokens_expire_in_clock_time(
        server: FakeHaloServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    token = await login(session, server)
    url = server.url_for("acme", "Users")
    clock.advance(3599)
    assert (await get(session, url, token)).status == 200
    clock.advance(1)
    answer = await get(session, url, token)
    assert answer.status == 401 and "Bearer" in answer.headers["WWW-Authenticate"]


# -- lists --------------------------------------------------------------------------


async def test_pages_have_record_count_and_cover_everything(
        server: FakeHaloServer, session: aiohttp.ClientSession) -> None:
    token = await login(session, server)
    url = server.url_for("acme", "Tickets")
    first = (await get(session, url, token, params={"pageinate": "true", "page_size": "5", "page_no": "1"})).json()
    assert set(first) == {"record_count", "tickets"} and first["record_count"] == 23
    pages = math.ceil(first["record_count"] / 5)
    seen = list(first["tickets"])
    for page_no in range(2, pages + 1):
        seen += (await get(session, url, token, params={"pageinate": "true", "page_size": "5",
                                                         "page_no": str(page_no)})).json()["tickets"]
    expected = server.expected("acme", "Tickets")
    assert [rec["id"] for rec in seen] == list(expected) == list(range(1, 24))
    assert seen == list(expected.values())
    past = await get(session, url, token, params={"pageinate": "true", "page_size": "5", "page_no": "99"})
    assert past.json() == {"record_count": 23, "tickets": []}
    everything = (await get(session, url, token)).json()
    assert everything["record_count"] == 23 and len(everything["tickets"]) == 23
    bad = await get(session, url, token, params={"pageinate": "true", "page_size": "0"})
    assert bad.status == 400 and "page_size" in bad.json()["message"]
    assert server.stats.records_served["Tickets"] == 46


async def test_keys_per_endpoint_case_insensitive_paths_and_nested_lines(
        server: FakeHaloServer, session: aiohttp.ClientSession) -> None:
    token = await login(session, server)
    base = f"{server.tenant_url('acme')}/api"
    keys = {"Client": "clients", "site": "sites", "USERS": "Users", "Invoice": "invoices", "Actions": "actions"}
    for path, key in keys.items():
        body = (await get(session, f"{base}/{path}", token, params={"pageinate": "true", "page_size": "3"})).json()
        assert set(body) == {"record_count", key}, path
    invoice = server.expected("acme", "Invoice")[1]
    assert invoice["lines"] and {"id", "qty", "unit_price", "net_amount"} <= set(invoice["lines"][0])
    assert (await get(session, f"{base}/Nonsense", token)).status == 404


async def test_accounting_details_are_bare_arrays_with_secrets(
        server: FakeHaloServer, session: aiohttp.ClientSession) -> None:
    token = await login(session, server)
    base = f"{server.tenant_url('acme')}/api"
    secrets = server.secret_values("acme")
    for path in ("XeroDetails", "QuickBooksDetails", "SageBusinessCloudDetails", "MYOBdetails", "KashflowDetails"):
        body = (await get(session, f"{base}/{path}", token, params={"pageinate": "true", "page_size": "1"})).json()
        assert isinstance(body, list) and len(body) == 2, path
        assert any(rec.get(f) in secrets for rec in body for f in ("new_access_token", "new_password")), path
    assert (await get(session, f"{base}/XeroDetails", token)).json()[0]["new_refresh_token"] in secrets
    assert server.secret_values("acme").isdisjoint(server.secret_values("globex"))


async def test_lastupdatefromdate_filters_four_endpoints_only(
        server: FakeHaloServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    token = await login(session, server)
    since = halo_time(clock.time())
    server.mutate("acme", "Client", change=3, add=2, delete=1)
    server.mutate("acme", "Invoice", change=3)
    client = (await get(session, server.url_for("acme", "Client"), token,
                        params={"lastupdatefromdate": since, "pageinate": "true", "page_size": "50"})).json()
    assert client["record_count"] == 5
    assert {rec["id"] for rec in client["clients"]} >= {24, 25}
    assert all(rec["last_update"] >= since for rec in client["clients"])
    assert len(server.expected("acme", "Client")) == 23 + 2 - 1
    invoices = (await get(session, server.url_for("acme", "Invoice"), token,
                          params={"lastupdatefromdate": since})).json()
    assert invoices["record_count"] == 23  # ignored: Invoice needs full scans
    bad = await get(session, server.url_for("acme", "Site"), token, params={"lastupdatefromdate": "yesterday"})
    assert bad.status == 400


async def test_max_page_size_switch_clamps_silently(clock: VirtualClock, session: aiohttp.ClientSession) -> None:
    async with FakeHaloServer(tenants=1, records=30, clock=clock, max_page_size=10) as server:
        token = await login(session, server, "halo1")
        body = (await get(session, server.url_for("halo1", "Client"), token,
                          params={"pageinate": "true", "page_size": "25"})).json()
        assert body["record_count"] == 30 and len(body["clients"]) == 10


async def test_data_is_deterministic_and_mutations_delete_for_good(clock: VirtualClock) -> None:
    one = FakeHaloServer(tenants=["x"], records=10, clock=clock, seed=7)
    two = FakeHaloServer(tenants=["x"], records=10, clock=clock, seed=7)
    other = FakeHaloServer(tenants=["x"], records=10, clock=clock, seed=8)
    assert one.expected("x", "Tickets") == two.expected("x", "Tickets") != other.expected("x", "Tickets")
    one.mutate("x", "Tickets", delete=4)
    assert len(one.expected("x", "Tickets")) == 6
    with pytest.raises(ValueError, match="unknown Halo resource"):
        one.expected("x", "Nope")
    with pytest.raises(ValueError, match="unknown tenant"):
        one.expected("y", "Client")


# -- rate limit -------------------------------------------------------------------


async def test_rolling_window_429_has_no_headers_and_recovers(
        server: FakeHaloServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    token = await login(session, server)
    url = server.url_for("acme", "Site")
    start = clock.time()
    for _ in range(150):
        assert (await get(session, url, token)).status == 200
    clock.advance(200)
    for _ in range(150):
        assert (await get(session, url, token)).status == 200
    # A clock-aligned minute or a fixed window would have reset by now; a rolling one has not.
    limited = await get(session, url, token)
    assert limited.status == 429
    assert not [h for h in limited.headers if "ratelimit" in h.lower() or h.lower() == "retry-after"]
    other = await login(session, server, "globex")
    assert (await get(session, server.url_for("globex", "Site"), other)).status == 200
    clock.advance(start + 300 - clock.time())  # the first 150 calls leave the window
    for _ in range(150):
        assert (await get(session, url, token)).status == 200
    assert (await get(session, url, token)).status == 429
    assert server.stats.rate_limited == 2
    assert server.stats.max_calls_in_window("acme", 300) == 300
    assert server.stats.max_calls_in_window("acme", 600) == 450
    assert server.stats.max_calls_in_window("globex", 300) == 1


async def test_spend_uses_budget_of_one_tenant(
        server: FakeHaloServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    token = await login(session, server)
    server.spend("acme", 300)
    assert (await get(session, server.url_for("acme", "Site"), token)).status == 429
    assert server.limiter.free_at("acme", clock.time()) == clock.time() + 300


# -- faults and the wire ------------------------------------------------------------


async def test_faults_filtered_by_tenant(server: FakeHaloServer, session: aiohttp.ClientSession) -> None:
    acme, globex = await login(session, server), await login(session, server, "globex")
    server.faults.fail_5xx(1, tenant="globex")
    assert (await get(session, server.url_for("acme", "Client"), acme)).status == 200
    failed = await get(session, server.url_for("globex", "Client"), globex)
    assert failed.status == 503 and failed.headers["Content-Type"].startswith("text/html")
    server.faults.html_maintenance(1, tenant="acme")
    page = await get(session, server.url_for("acme", "Client"), acme)
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    server.faults.fail_5xx(1, include_token=True)  # authinfo would take it too: go straight to the token
    assert (await request_token(session, server, "acme", url=server.token_url("acme"))).status == 503
    assert server.stats.calls("globex") == 0  # faulted calls use no budget


async def test_reset_truncated_gzip_and_slow(
        server: FakeHaloServer, session: aiohttp.ClientSession, clock: VirtualClock) -> None:
    token = await login(session, server)
    url = server.url_for("acme", "Tickets")
    plain = await get(session, url, token, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    zipped = await get(session, url, token, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.json() == plain.json()
    server.faults.reset(2)  # aiohttp retries an idempotent request once by itself
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await get(session, url, token)
    server.faults.truncate_gzip(1, tenant="acme")
    with pytest.raises(aiohttp.ClientPayloadError):
        await get(session, url, token, headers={"Accept-Encoding": "gzip"})
    server.faults.slow(1, 45.0)
    started = clock.time()
    assert (await get(session, url, token)).status == 200
    assert clock.time() - started >= 45
    assert server.faults.pending() == {}
    assert server.faults.fired == {"reset": 2, "truncate_gzip": 1, "slow": 1}


async def test_unknown_tenant_is_404(server: FakeHaloServer, session: aiohttp.ClientSession) -> None:
    assert (await fetch(session, "GET", f"{server.base_url}/nobody/api/authinfo")).status == 404
    assert server.stats.requests[(None, "/nobody/api/authinfo")] == 1
