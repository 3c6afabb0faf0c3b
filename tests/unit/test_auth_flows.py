"""The two OAuth2 grants as the token manager carries them out."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import orjson

from replicator.auth import OAuth2ClientCredentials, OAuth2Refresh, TokenManager
from replicator.testing.clock import VirtualClock
from replicator.testing.memory_store import MemoryStore
from replicator.types import Request, Response

BASE = "https://api.example.test"


class Recorder:
    def __init__(self, payload: dict[str, object], status: int = 200) -> None:
        self.payload = payload
        self.status = status
        self.sent: list[Request] = []

    async def __call__(self, request: Request) -> Response:
        self.sent.append(request)
        return Response(self.status, {"Content-Type": "application/json"},
                        orjson.dumps(self.payload), request.url)


async def test_client_credentials_send_scope_and_store_nothing() -> None:
    clock = VirtualClock(autojump_threshold=0)
    store = MemoryStore()
    await store.open()
    send = Recorder({"access_token": "at-1", "expires_in": 3600, "token_type": "Bearer"})
    flow = OAuth2ClientCredentials(token_path="/auth/token", scope="all", params={"tenant": "t1"})
    manager = TokenManager("halo", flow, base_url=BASE, client_id="id", client_secret="s3cret",
                           seed_refresh_token=None, store=store, send=send, clock=clock)
    try:
        assert await manager.token() == "at-1"
        assert await manager.token() == "at-1"  # cached until it nears expiry
        assert len(send.sent) == 1
        request = send.sent[0]
        assert request.method == "POST" and request.url == BASE + "/auth/token"
        assert request.form == {"grant_type": "client_credentials", "tenant": "t1", "scope": "all",
                                "client_id": "id", "client_secret": "s3cret"}
        assert await store.load_credentials("halo") is None  # nothing to keep between runs
        clock.advance(3600 - 59)
        assert await manager.token() == "at-1" and len(send.sent) == 2  # refreshed within the margin
    finally:
        await clock.aclose()


async def test_the_token_url_can_be_found_at_run_time() -> None:
    clock = VirtualClock(autojump_threshold=0)
    send = Recorder({"access_token": "at", "expires_in": "60"})

    async def discover(send_: object, base_url: str) -> str:
        return f"{base_url}/auth/token?tenant=abc"

    flow = OAuth2ClientCredentials(token_url=discover, scope="all", client_auth="basic")
    store = MemoryStore()
    await store.open()
    manager = TokenManager("halo", flow, base_url=BASE, client_id="id", client_secret="pw",
                           seed_refresh_token=None, store=store, send=send, clock=clock)
    try:
        await manager.token()
        request = send.sent[0]
        assert request.url == BASE + "/auth/token?tenant=abc"
        assert request.headers["Authorization"] == "Basic aWQ6cHc="
        assert "client_secret" not in (request.form or {})
    finally:
        await clock.aclose()


async def test_a_refresh_can_be_a_get_with_query_parameters() -> None:
    clock = VirtualClock(autojump_threshold=0)
    send = Recorder({"access_token": "at", "refresh_token": "rt-2", "expires_in": 3600})
    flow = OAuth2Refresh(token_path="/oauth/v2/token", method="GET")
    store = MemoryStore()
    await store.open()
    manager = TokenManager("acc", flow, base_url=BASE, client_id="id", client_secret="cs",
                           seed_refresh_token="rt-1", store=store, send=send, clock=clock)
    try:
        await manager.token()
        request = send.sent[0]
        assert request.method == "GET" and request.form is None
        query = parse_qs(urlsplit(request.url).query)
        assert query == {"grant_type": ["refresh_token"], "refresh_token": ["rt-1"],
                         "client_id": ["id"], "client_secret": ["cs"]}
        saved = await store.load_credentials("acc")
        assert saved is not None and saved.refresh_token == "rt-2"
    finally:
        await clock.aclose()


async def test_a_failed_get_token_call_does_not_leak_its_query() -> None:
    from replicator.errors import RetryableError, Where

    clock = VirtualClock(autojump_threshold=0)
    store = MemoryStore()
    await store.open()

    async def reset(request: Request) -> Response:
        raise RetryableError(f"connection failed: reset while reading {request.url}", Where(url=request.url))

    manager = TokenManager("acc", OAuth2Refresh(token_path="/oauth/v2/token", method="GET"), base_url=BASE,
                           client_id="id", client_secret="cs-very-secret", seed_refresh_token="rt-very-secret",
                           store=store, send=reset, clock=clock)
    try:
        try:
            await manager.token()
        except RetryableError as exc:
            text = f"{exc} {exc.message} {exc.where}"
            assert "cs-very-secret" not in text and "rt-very-secret" not in text, text
            assert exc.where.url == BASE + "/oauth/v2/token"
        else:
            raise AssertionError("the reset was not raised")
    finally:
        await clock.aclose()
