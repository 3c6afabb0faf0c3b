"""The token manager: one per connection, one refresh in flight at a time.

Rules it enforces, each learnt from integrations that died:

- Refresh *before* expiry (``refresh_margin``), never sooner than the provider
  allows after the previous refresh (``min_refresh_interval``).
- One refresh at a time per connection (a lock, double-checked): concurrent
  refreshes of a single-use refresh token kill the grant.
- The rotated refresh token is written durably to the store *before* the new
  access token is used; the access token and its expiry are stored too, so a
  process restarted within the refresh interval does not need to refresh.
- A refused grant (revoked, expired, old token reused) raises :class:`NeedsReauth`
  and marks only this connection.
- Secrets go only to the connection's own origin and never into messages.
"""

from __future__ import annotations

import asyncio
import hashlib
from urllib.parse import urlencode

import orjson

from replicator.auth.flows import AuthFlow, OAuth2ClientCredentials, OAuth2Refresh, Send
from replicator.clock import Clock
from replicator.errors import AuthError, NeedsReauth, ReplicatorError, RetryableError, Where
from replicator.stores.base import Credentials, Store
from replicator.types import Request, Response

_DEAD_GRANT_ERRORS = frozenset({"invalid_grant", "unauthorized_client", "invalid_client"})


def fingerprint(secret: str | None) -> str:
    """A stable, non-reversible name for a secret (to notice a re-authorisation)."""
    if not secret:
        return ""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class TokenManager:
    """Hands out valid access tokens for one connection."""

    __slots__ = ("_base_url", "_client_id", "_client_secret", "_clock", "_creds", "_flow", "_lock", "_send",
                 "_store", "_token_url", "connection", "refreshes")

    def __init__(self, connection: str, flow: AuthFlow, *, base_url: str, client_id: str,
                 client_secret: str, seed_refresh_token: str | None, store: Store,
                 send: Send, clock: Clock) -> None:
        self.connection = connection
        self._flow = flow
        self._base_url = base_url.rstrip("/")
        self._token_url = self._base_url + (flow.token_path or "")
        self._client_id = client_id
        self._client_secret = client_secret
        self._store = store
        self._send = send
        self._clock = clock
        self._lock = asyncio.Lock()
        self._creds = Credentials(refresh_token=seed_refresh_token,
                                  seed_fingerprint=fingerprint(seed_refresh_token))
        self.refreshes = 0

    async def load(self) -> None:
        """Take the stored (rotated) credentials unless the configuration gives a new grant."""
        stored = await self._store.load_credentials(self.connection)
        if stored is not None and (
            stored.seed_fingerprint == self._creds.seed_fingerprint or not self._creds.refresh_token
        ):
            self._creds = stored

    def _valid(self) -> bool:
        creds = self._creds
        return bool(creds.access_token) and self._clock.time() < (
            creds.access_expires_at - self._flow.refresh_margin
        )

    async def token(self) -> str:
        """A valid access token, refreshing it first if needed."""
        if self._valid():
            assert self._creds.access_token is not None
            return self._creds.access_token
        async with self._lock:
            if not self._valid():
                await self._refresh()
            assert self._creds.access_token is not None
            return self._creds.access_token

    def invalidate(self, token: str) -> None:
        """An API call refused ``token`` (401): do not hand it out again."""
        if self._creds.access_token == token:
            self._creds.access_expires_at = 0.0

    @property
    def client_credentials(self) -> bool:
        return isinstance(self._flow, OAuth2ClientCredentials)

    async def _refresh(self) -> None:
        flow = self._flow
        if isinstance(flow, OAuth2ClientCredentials) and flow.token_url is not None:
            self._token_url = await flow.token_url(self._send, self._base_url)
        where = Where(connection=self.connection, url=self._token_url)
        refresh_token = self._creds.refresh_token
        if not refresh_token and not self.client_credentials:
            raise NeedsReauth("no refresh token: authorise the connection and set refresh_token", where)
        allowed = self._creds.refreshed_at + self._flow.min_refresh_interval
        if self._clock.time() < allowed:
            # The provider would refuse (and some count it against us): wait.
            await self._clock.sleep(allowed - self._clock.time())
        try:
            response = await self._send(self._request(refresh_token or ""))
        except ReplicatorError as exc:
            # A GET token call carries the secrets in its URL, and transport errors
            # name the URL: scrub before the error travels to a log.
            raise self._scrubbed(exc, where) from None
        payload = _json(response)
        if response.status != 200:
            raise self._refusal(response, payload, where)
        access = payload.get("access_token")
        rotated = payload.get("refresh_token") or refresh_token
        if not isinstance(access, str) or not access:
            raise AuthError("token response has no access_token", where)
        try:
            lifetime = float(str(payload.get("expires_in") or self._flow.default_lifetime))
        except (TypeError, ValueError):
            lifetime = self._flow.default_lifetime
        now = self._clock.time()
        creds = Credentials(refresh_token=str(rotated), access_token=access,
                            access_expires_at=now + lifetime, refreshed_at=now,
                            seed_fingerprint=self._creds.seed_fingerprint)
        if not self.client_credentials:
            # Durable first: if we die after this line, the next run has the new token.
            await self._store.save_credentials(self.connection, creds)
        self._creds = creds
        self.refreshes += 1

    def _request(self, refresh_token: str) -> Request:
        flow = self._flow
        if isinstance(flow, OAuth2ClientCredentials):
            form = {"grant_type": "client_credentials", **flow.params}
            if flow.scope:
                form["scope"] = flow.scope
        else:
            form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        headers: dict[str, str] = {"Content-Type": "application/x-www-form-urlencoded"}
        if flow.client_auth == "basic":
            import base64

            pair = f"{self._client_id}:{self._client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        else:
            form["client_id"] = self._client_id
            form["client_secret"] = self._client_secret
        if isinstance(flow, OAuth2Refresh) and flow.method == "GET":
            separator = "&" if "?" in self._token_url else "?"
            return Request("GET", f"{self._token_url}{separator}{urlencode(form)}",
                           headers={k: v for k, v in headers.items() if k != "Content-Type"})
        return Request("POST", self._token_url, headers=headers, form=form)

    def _redact(self, text: str) -> str:
        # A provider may echo what it was sent; none of it may reach a message.
        for secret in (self._client_secret, self._creds.refresh_token, self._creds.access_token):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _scrubbed(self, exc: ReplicatorError, where: Where) -> ReplicatorError:
        clean = self._redact(exc.message)
        exc.message = clean
        exc.where = where
        exc.args = (f"{clean} [{where}]",)
        return exc

    def _refusal(self, response: Response, payload: dict[str, object], where: Where) -> Exception:
        error = self._redact(str(payload.get("error") or ""))[:100]
        description = self._redact(str(payload.get("error_description") or ""))[:200]
        detail = f"{response.status} {error}: {description}".strip(": ")
        if response.status >= 500:
            return RetryableError(f"token endpoint failed: {detail}", where, status=response.status)
        if error == "access_denied" and "not expired" in description:
            return AuthError(f"token refresh refused as too early: {detail}", where)
        if error in _DEAD_GRANT_ERRORS or response.status == 401:
            return NeedsReauth(f"grant refused, re-authorisation needed: {detail}", where)
        return AuthError(f"token refresh failed: {detail}", where)

    def __repr__(self) -> str:
        return (f"TokenManager({self.connection!r}, valid={self._valid()}, "
                f"expires_at={self._creds.access_expires_at:.0f}, refreshes={self.refreshes})")


def _json(response: Response) -> dict[str, object]:
    try:
        value = orjson.loads(response.body) if response.body else {}
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
