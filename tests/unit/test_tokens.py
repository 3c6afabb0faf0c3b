"""The token manager against a fake Exact-like token endpoint, in virtual time.

The fake endpoint behaves like Exact's: refresh tokens rotate and are single use
(reuse -> 401 "Old refresh token used."), a refresh within 570 s of the previous
one is refused, ``expires_in`` is a string.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import orjson
import pytest

from replicator.auth import OAuth2Refresh, TokenManager, fingerprint
from replicator.errors import AuthError, NeedsReauth, RetryableError
from replicator.stores.base import Credentials
from replicator.testing.clock import VirtualClock
from replicator.testing.memory_store import MemoryStore
from replicator.types import Request, Response
from replicator_exact import ExactOnlineProvider

START = 1_767_603_600.0
BASE = "https://start.exactonline.nl"
TOKEN_URL = BASE + "/api/oauth2/token"
CLIENT_ID = "0f1e2d3c-client-id"
CLIENT_SECRET = "cs-VERY-SECRET-4711"
SEED = "RT0-seed-refresh-token-aaaa"
EXACT_FLOW = OAuth2Refresh("/api/oauth2/token", client_auth="body", refresh_margin=30.0,
                           min_refresh_interval=570.0, default_lifetime=600.0)
LATENCY = 0.25


class CredentialStore(MemoryStore):
    """The testing kit's store, recording when credentials are saved."""

    def __init__(self, events: list[str] | None = None, save_delay: float = 0.0,
                 clock: VirtualClock | None = None) -> None:
        super().__init__(clock=clock)
        self.events = events if events is not None else []
        self.save_delay = save_delay
        self.delay_clock = clock
        self.saves = 0

    async def save_credentials(self, connection: str, credentials: Credentials) -> None:
        self.events.append(f"save-start:{credentials.refresh_token}")
        if self.save_delay and self.delay_clock is not None:
            await self.delay_clock.sleep(self.save_delay)
        await super().save_credentials(connection, credentials)
        self.saves += 1
        self.events.append(f"saved:{credentials.refresh_token}")


async def new_store(events: list[str] | None = None, save_delay: float = 0.0,
                    clock: VirtualClock | None = None) -> CredentialStore:
    store = CredentialStore(events, save_delay, clock)
    await store.open()
    return store


async def saved(store: CredentialStore) -> Credentials:
    creds = await store.load_credentials("acme")
    assert creds is not None
    return creds


class FakeTokenEndpoint:
    """Exact's token endpoint: rotating single-use refresh tokens, 570 s minimum."""

    def __init__(self, clock: VirtualClock, events: list[str] | None = None, *,
                 live_refresh_token: str = SEED, expires_in: Any = "600",
                 min_interval: float = 570.0) -> None:
        self.clock = clock
        self.events = events if events is not None else []
        self.live = live_refresh_token
        self.expires_in = expires_in
        self.min_interval = min_interval
        self.issued = 0
        self.last_refresh: float | None = None
        self.requests: list[tuple[float, Request]] = []
        self.override: Response | None = None

    def form(self, index: int = -1) -> dict[str, str]:
        form = self.requests[index][1].form
        assert form is not None
        return dict(form)

    async def send(self, request: Request) -> Response:
        self.requests.append((self.clock.time(), request))
        form = dict(request.form or {})
        self.events.append(f"send:{form.get('refresh_token')}")
        await self.clock.sleep(LATENCY)
        if self.override is not None:
            return self.override
        if form.get("refresh_token") != self.live:
            return reply(401, {"error": "unauthorized_client",
                               "error_description": "Old refresh token used."})
        now = self.clock.time()
        if self.last_refresh is not None and now - self.last_refresh < self.min_interval:
            return reply(400, {
                "error": "access_denied",
                "error_description": "Rate limit exceeded: access_token not expired"})
        self.issued += 1
        self.last_refresh = now
        self.live = f"RT{self.issued}-rotated-refresh-token"
        body: dict[str, Any] = {"access_token": f"AT{self.issued}-access-token",
                                "token_type": "bearer", "refresh_token": self.live}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return reply(200, body)


def reply(status: int, body: Any) -> Response:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(status, {"Content-Type": "application/json"}, raw, TOKEN_URL)


def manager(clock: VirtualClock, endpoint: FakeTokenEndpoint, store: CredentialStore, *,
            seed: str | None = SEED, flow: OAuth2Refresh = EXACT_FLOW,
            base_url: str = BASE) -> TokenManager:
    return TokenManager("acme", flow, base_url=base_url, client_id=CLIENT_ID,
                        client_secret=CLIENT_SECRET, seed_refresh_token=seed, store=store,
                        send=endpoint.send, clock=clock)


def assert_no_secret(text: str) -> None:
    for secret in (CLIENT_SECRET, SEED, "refresh-token", "access-token"):
        assert secret not in text, f"{secret!r} leaked into {text!r}"


# -----------------------------------------------------------------------------------------


def test_exact_declares_its_token_rules() -> None:
    assert ExactOnlineProvider().auth() == EXACT_FLOW


async def test_first_token_refreshes_once_and_stores_the_rotation(
        virtual_clock: VirtualClock) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock)
    store = await new_store()
    tokens = manager(virtual_clock, endpoint, store)
    await tokens.load()
    assert await tokens.token() == "AT1-access-token"
    assert tokens.refreshes == 1
    assert len(endpoint.requests) == 1
    sent_at, request = endpoint.requests[0]
    assert sent_at == START
    assert (request.method, request.url) == ("POST", TOKEN_URL)
    assert request.headers == {"Content-Type": "application/x-www-form-urlencoded"}
    assert endpoint.form() == {"grant_type": "refresh_token", "refresh_token": SEED,
                               "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    assert (await saved(store)) == Credentials(
        refresh_token="RT1-rotated-refresh-token", access_token="AT1-access-token",
        access_expires_at=START + LATENCY + 600, refreshed_at=START + LATENCY,
        seed_fingerprint=fingerprint(SEED))


async def test_token_is_reused_until_the_refresh_margin(virtual_clock: VirtualClock) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock)
    tokens = manager(virtual_clock, endpoint, await new_store())
    await tokens.load()
    assert await tokens.token() == "AT1-access-token"
    issued = START + LATENCY
    await virtual_clock.sleep(issued + 569.9 - virtual_clock.time())
    assert await tokens.token() == "AT1-access-token"
    assert len(endpoint.requests) == 1
    await virtual_clock.sleep(0.1)  # 30 s before expiry: refresh now
    assert await tokens.token() == "AT2-access-token"
    assert [t for t, _ in endpoint.requests] == [START, issued + 570]
    assert endpoint.form()["refresh_token"] == "RT1-rotated-refresh-token"
    assert tokens.refreshes == 2


async def test_a_refresh_never_comes_sooner_than_570_s_after_the_last(
        virtual_clock: VirtualClock) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock)
    tokens = manager(virtual_clock, endpoint, await new_store())
    await tokens.load()
    first = await tokens.token()
    await virtual_clock.sleep(100)
    tokens.invalidate(first)  # an API call got 401 for it
    assert await tokens.token() == "AT2-access-token"
    # It waited (in virtual time) instead of being refused as too early.
    assert [t for t, _ in endpoint.requests] == [START, START + LATENCY + 570]
    assert virtual_clock.time() == START + LATENCY + 570 + LATENCY


async def test_a_short_lived_token_still_waits_for_the_minimum_interval(
        virtual_clock: VirtualClock) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock, expires_in="300")
    tokens = manager(virtual_clock, endpoint, await new_store())
    await tokens.load()
    assert await tokens.token() == "AT1-access-token"
    await virtual_clock.sleep(280)  # past expiry minus margin (270 s)
    assert await tokens.token() == "AT2-access-token"
    assert [t for t, _ in endpoint.requests] == [START, START + LATENCY + 570]


async def test_invalidate_ignores_a_token_that_is_not_the_current_one(
        virtual_clock: VirtualClock) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock)
    tokens = manager(virtual_clock, endpoint, await new_store())
    await tokens.load()
    await tokens.token()
    tokens.invalidate("AT0-some-older-token")
    assert await tokens.token() == "AT1-access-token"
    assert len(endpoint.requests) == 1


async def test_fifty_concurrent_callers_cause_exactly_one_refresh(
        virtual_clock: VirtualClock) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock)
    store = await new_store()
    tokens = manager(virtual_clock, endpoint, store)
    await tokens.load()
    got = await asyncio.gather(*(tokens.token() for _ in range(50)))
    assert got == ["AT1-access-token"] * 50
    assert len(endpoint.requests) == 1
    assert tokens.refreshes == 1
    assert store.saves == 1
    # And again at expiry: 50 callers, one refresh with the rotated token.
    await virtual_clock.sleep(START + LATENCY + 570 - virtual_clock.time())
    got = await asyncio.gather(*(tokens.token() for _ in range(50)))
    assert got == ["AT2-access-token"] * 50
    assert len(endpoint.requests) == 2
    assert endpoint.form()["refresh_token"] == "RT1-rotated-refresh-token"


async def test_the_rotated_refresh_token_is_saved_before_the_new_access_token_is_handed_out(
        virtual_clock: VirtualClock) -> None:
    events: list[str] = []
    endpoint = FakeTokenEndpoint(virtual_clock, events)
    store = await new_store(events, save_delay=2.0, clock=virtual_clock)
    tokens = manager(virtual_clock, endpoint, store)
    await tokens.load()

    async def caller() -> None:
        token = await tokens.token()
        events.append(f"got:{token}")

    await asyncio.gather(caller(), caller(), caller())
    assert events == [
        f"send:{SEED}",
        "save-start:RT1-rotated-refresh-token",
        "saved:RT1-rotated-refresh-token",
        "got:AT1-access-token",
        "got:AT1-access-token",
        "got:AT1-access-token",
    ]


async def test_a_restart_reuses_the_stored_access_token(virtual_clock: VirtualClock) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock)
    store = await new_store()
    first = manager(virtual_clock, endpoint, store)
    await first.load()
    assert await first.token() == "AT1-access-token"
    await virtual_clock.sleep(100)
    # The process restarts: same store, same seed token in the configuration.
    second = manager(virtual_clock, endpoint, store)
    await second.load()
    assert await second.token() == "AT1-access-token"
    assert len(endpoint.requests) == 1
    assert second.refreshes == 0
    # When it does refresh, it uses the rotated token and honours the stored
    # time of the last refresh.
    second.invalidate("AT1-access-token")
    assert await second.token() == "AT2-access-token"
    assert endpoint.form()["refresh_token"] == "RT1-rotated-refresh-token"
    assert endpoint.requests[-1][0] == START + LATENCY + 570


async def test_without_load_a_restart_would_reuse_a_dead_refresh_token(
        virtual_clock: VirtualClock) -> None:
    """What ``load()`` is for: the seed token was rotated away by the first run."""
    endpoint = FakeTokenEndpoint(virtual_clock)
    store = await new_store()
    first = manager(virtual_clock, endpoint, store)
    await first.load()
    await first.token()
    await virtual_clock.sleep(600)
    second = manager(virtual_clock, endpoint, store)
    with pytest.raises(NeedsReauth, match="Old refresh token used"):
        await second.token()


async def test_a_new_seed_token_in_the_configuration_wins_over_the_stored_one(
        virtual_clock: VirtualClock) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock)
    store = await new_store()
    first = manager(virtual_clock, endpoint, store)
    await first.load()
    await first.token()
    # A person re-authorised: the provider now knows only the new grant.
    new_seed = "RT-new-seed-after-reauth"
    endpoint.live = new_seed
    endpoint.last_refresh = None
    second = manager(virtual_clock, endpoint, store, seed=new_seed)
    await second.load()
    assert await second.token() == "AT2-access-token"
    assert endpoint.form()["refresh_token"] == new_seed
    assert endpoint.requests[-1][0] == START + LATENCY  # no wait: a new grant
    assert (await saved(store)).seed_fingerprint == fingerprint(new_seed)
    assert (await saved(store)).refresh_token == "RT2-rotated-refresh-token"


async def test_no_seed_in_the_configuration_takes_the_stored_grant(
        virtual_clock: VirtualClock) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock)
    store = await new_store()
    first = manager(virtual_clock, endpoint, store)
    await first.load()
    await first.token()
    second = manager(virtual_clock, endpoint, store, seed=None)
    await second.load()
    assert await second.token() == "AT1-access-token"
    assert len(endpoint.requests) == 1


async def test_no_refresh_token_anywhere_needs_reauthorisation(
        virtual_clock: VirtualClock) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock)
    tokens = manager(virtual_clock, endpoint, await new_store(), seed=None)
    await tokens.load()
    with pytest.raises(NeedsReauth, match="no refresh token") as info:
        await tokens.token()
    assert endpoint.requests == []
    assert "connection=acme" in str(info.value)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"error": "unauthorized_client", "error_description": "Old refresh token used."},
         NeedsReauth),
        (400, {"error": "invalid_grant", "error_description": "grant revoked"}, NeedsReauth),
        (400, {"error": "invalid_client"}, NeedsReauth),
        (401, b"", NeedsReauth),
        (401, b"<html>Unauthorized</html>", NeedsReauth),
    ],
    ids=["old-refresh-token", "invalid-grant", "invalid-client", "401-empty", "401-html"],
)
async def test_a_refused_grant_needs_reauthorisation(
        virtual_clock: VirtualClock, status: int, body: Any, error: type[Exception]) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock)
    endpoint.override = reply(status, body)
    store = await new_store()
    tokens = manager(virtual_clock, endpoint, store)
    await tokens.load()
    with pytest.raises(error) as info:
        await tokens.token()
    assert type(info.value) is error
    assert str(status) in str(info.value)
    assert f"url={TOKEN_URL}" in str(info.value)
    assert await store.load_credentials("acme") is None
    assert tokens.refreshes == 0
    assert_no_secret(str(info.value))
    assert_no_secret(repr(info.value))
    assert_no_secret(repr(tokens))


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (400, {"error": "access_denied",
               "error_description": "Rate limit exceeded: access_token not expired"},
         AuthError, "too early"),
        (400, {"error": "invalid_request", "error_description": "missing grant_type"},
         AuthError, "token refresh failed: 400 invalid_request: missing grant_type"),
        (503, b"Service Unavailable", RetryableError, "token endpoint failed: 503"),
        (200, {"token_type": "bearer", "expires_in": "600"}, AuthError, "no access_token"),
        (200, b"<html>maintenance</html>", AuthError, "no access_token"),
    ],
    ids=["too-early", "invalid-request", "503", "no-access-token", "html-200"],
)
async def test_other_token_endpoint_failures_do_not_kill_the_grant(
        virtual_clock: VirtualClock, status: int, body: Any, error: type[Exception],
        text: str) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock)
    endpoint.override = reply(status, body)
    tokens = manager(virtual_clock, endpoint, await new_store())
    await tokens.load()
    with pytest.raises(error, match=text) as info:
        await tokens.token()
    assert not isinstance(info.value, NeedsReauth)
    assert_no_secret(str(info.value))


async def test_reusing_a_rotated_refresh_token_from_a_second_process_needs_reauth(
        virtual_clock: VirtualClock) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock)
    one = manager(virtual_clock, endpoint, await new_store())
    other = manager(virtual_clock, endpoint, await new_store())  # its own store: a mistake
    await one.load()
    await other.load()
    assert await one.token() == "AT1-access-token"
    with pytest.raises(NeedsReauth,
                       match=r"401 unauthorized_client: Old refresh token used\.") as info:
        await other.token()
    assert_no_secret(str(info.value))


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [("600", 600.0), ("3599", 3599.0), (3600, 3600.0), (None, 600.0), ("soon", 600.0)],
)
async def test_expires_in_as_string_number_or_missing(
        virtual_clock: VirtualClock, expires_in: Any, lifetime: float) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock, expires_in=expires_in)
    store = await new_store()
    tokens = manager(virtual_clock, endpoint, store)
    await tokens.load()
    await tokens.token()
    assert (await saved(store)).access_expires_at == START + LATENCY + lifetime


async def test_repr_shows_state_and_no_secret(virtual_clock: VirtualClock) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock)
    tokens = manager(virtual_clock, endpoint, await new_store())
    await tokens.load()
    assert repr(tokens) == "TokenManager('acme', valid=False, expires_at=0, refreshes=0)"
    await tokens.token()
    text = repr(tokens)
    assert text == "TokenManager('acme', valid=True, expires_at=1767604200, refreshes=1)"
    assert_no_secret(text)


async def test_a_token_endpoint_that_echoes_the_grant_does_not_leak_it(
        virtual_clock: VirtualClock) -> None:
    """Some servers quote the offending value in ``error_description``."""
    endpoint = FakeTokenEndpoint(virtual_clock)
    endpoint.override = reply(400, {
        "error": "invalid_grant",
        "error_description": f"refresh_token {SEED} for client_secret {CLIENT_SECRET} is invalid"})
    tokens = manager(virtual_clock, endpoint, await new_store())
    await tokens.load()
    with pytest.raises(NeedsReauth) as info:
        await tokens.token()
    assert_no_secret(str(info.value))


async def test_basic_client_auth_puts_the_client_in_the_header(
        virtual_clock: VirtualClock) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock)
    flow = OAuth2Refresh("/oauth2/token", client_auth="basic")
    tokens = manager(virtual_clock, endpoint, await new_store(), flow=flow,
                     base_url="https://halo.example.com/auth/")
    await tokens.load()
    await tokens.token()
    _, request = endpoint.requests[0]
    assert request.url == "https://halo.example.com/auth/oauth2/token"
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert request.headers == {"Content-Type": "application/x-www-form-urlencoded",
                               "Authorization": f"Basic {expected}"}
    assert endpoint.form() == {"grant_type": "refresh_token", "refresh_token": SEED}


async def test_body_client_auth_puts_the_client_in_the_form(virtual_clock: VirtualClock) -> None:
    endpoint = FakeTokenEndpoint(virtual_clock)
    tokens = manager(virtual_clock, endpoint, await new_store())
    await tokens.load()
    await tokens.token()
    _, request = endpoint.requests[0]
    assert "Authorization" not in request.headers
    assert endpoint.form()["client_id"] == CLIENT_ID
    assert endpoint.form()["client_secret"] == CLIENT_SECRET
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_fingerprint_is_stable_short_and_not_the_secret() -> None:
    assert fingerprint(SEED) == fingerprint(SEED)
    assert len(fingerprint(SEED)) == 16
    assert fingerprint(SEED) != fingerprint(SEED + "x")
    assert SEED not in fingerprint(SEED)
    assert fingerprint(None) == "" and fingerprint("") == ""
