"""A connection at run time: its provider, token manager, bound resources and the
budgets of its tenants, plus :meth:`ConnectionRuntime.exchange`, the single path
every request of the connection takes to the network."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from replicator.auth import TokenManager
from replicator.clock import Clock, sleep_until
from replicator.config import Secrets
from replicator.engine.stats import RunStats
from replicator.errors import (
    DecodeError,
    NeedsReauth,
    RateLimited,
    RetryableError,
    Unauthorized,
    Where,
)
from replicator.http import Backoff, Transport, check_status
from replicator.limits import TenantBudget
from replicator.providers import BoundResource, Provider
from replicator.stores.base import Store
from replicator.types import Request, Response, origin_of


class ConnectionRuntime:
    """Everything the engine keeps for one configured connection."""

    __slots__ = (
        "_budgets",
        "_clock",
        "_transport",
        "auth",
        "bound",
        "dead",
        "dead_reason",
        "name",
        "needs_reauth",
        "origin",
        "provider",
        "sideloads",
        "stats",
        "tenant_filter",
    )

    def __init__(self, name: str, provider: Provider, secrets: Secrets,
                 bound: Sequence[BoundResource], *, store: Store, transport: Transport,
                 clock: Clock, stats: RunStats, tenant_filter: Sequence[str] | None = None) -> None:
        self.name = name
        self.provider = provider
        self.auth = TokenManager(name, provider.auth(), base_url=provider.base_url,
                                 client_id=secrets.client_id, client_secret=secrets.client_secret,
                                 seed_refresh_token=secrets.refresh_token, store=store,
                                 send=self.send_unauthenticated, clock=clock)
        self.bound = tuple(bound)
        self.sideloads = {r.name: BoundResource(provider.name, r) for r in provider.sideloads}
        self.origin = origin_of(provider.base_url)
        self._transport = transport
        self._clock = clock
        self.stats = stats
        self._budgets: dict[str, TenantBudget] = {}
        self.tenant_filter = set(tenant_filter) if tenant_filter else None
        self.dead = False
        self.dead_reason: str | None = None
        self.needs_reauth = False

    def budget(self, tenant: str) -> TenantBudget:
        budget = self._budgets.get(tenant)
        if budget is None:
            budget = self.provider.limits.budget(self._clock.time())
            self._budgets[tenant] = budget
        return budget

    async def send_unauthenticated(self, request: Request) -> Response:
        """For the token endpoint: same origin rule, no bearer token."""
        self.stats.requests += 1
        return await self._transport.send(request, allowed_origin=self.origin,
                                          where=Where(connection=self.name, url=request.url))

    async def exchange(self, request: Request, tenant: str | None, where: Where) -> Response:
        """Send one request whose budget call is already taken; returns a 2xx response.

        The tenant's budget is released and calibrated here, whatever happens.

        Raises:
            RateLimited: 429 (the budget already knows until when).
            Unauthorized: 401 (the token is invalidated; the next call refreshes).
            ClientError, RetryableError, UnsafeURL, NeedsReauth: as their names say.
        """
        budget = self.budget(tenant) if tenant is not None else None
        try:
            token = await self.auth.token()
        except BaseException:
            if budget is not None:
                budget.release()  # nothing was sent
            raise
        self.stats.requests += 1
        self.stats.in_flight += 1
        sent_at = self._clock.time()
        try:
            response = await self._transport.send(request, allowed_origin=self.origin, token=token,
                                                   where=where)
        finally:
            self.stats.in_flight -= 1
            if budget is not None:
                budget.release(self._clock.time(), sent_at)
        now = self._clock.time()
        observations = self.provider.rate_limit_observations(response)
        if budget is not None and observations:
            budget.observe(observations, now)
        if response.status == 429:
            self.stats.rate_limited += 1
            retry_at = self.provider.retry_at(response) or retry_after(response, now)
            if budget is not None:
                retry_at = budget.rate_limited(observations, now, retry_at)
            check_status(response, where, retry_at=retry_at or now + 60.0)
        if response.status == 401:
            self.auth.invalidate(token)
        check_status(response, where)
        if response.content_type in _HTML:
            # Maintenance pages come as HTML, even with status 200: transient, retried.
            raise DecodeError(f"expected JSON, got an HTML page ({len(response.body)} bytes, "
                              f"status {response.status}): {_title(response.body)}", where)
        return response

    def kill(self, reason: str, *, needs_reauth: bool = False) -> None:
        """Stop every stream of this connection (the others go on)."""
        self.dead = True
        self.dead_reason = reason
        self.needs_reauth = needs_reauth


_HTML = frozenset({"text/html", "application/xhtml+xml"})


def retry_after(response: Response, now: float) -> float | None:
    """The epoch second a standard ``Retry-After`` header (seconds or HTTP date) names."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return now + max(0.0, float(value))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _title(body: bytes) -> str:
    text = body[:2000].decode(errors="replace")
    start = text.lower().find("<title>")
    end = text.lower().find("</title>")
    if start >= 0 and end > start:
        return repr(text[start + 7:end].strip()[:120])
    return repr(text[:120])


class ConnectionApi:
    """The :class:`~replicator.providers.Api` given to ``discover``: waits for the
    tenant's budget and the global cap inline, and retries transient failures."""

    __slots__ = ("_backoff", "_clock", "_conn", "_slots")

    def __init__(self, conn: ConnectionRuntime, slots: asyncio.Semaphore, clock: Clock,
                 backoff: Backoff) -> None:
        self._conn = conn
        self._slots = slots
        self._clock = clock
        self._backoff = backoff

    async def fetch(self, request: Request, *, tenant: str | None = None) -> Response:
        where = Where(connection=self._conn.name, tenant=tenant, url=request.url)
        attempt = 0
        while True:
            if tenant is not None:
                budget = self._conn.budget(tenant)
                while (free_at := budget.acquire(self._clock.time())):
                    await sleep_until(self._clock, free_at)
            try:
                async with self._slots:
                    return await self._conn.exchange(request, tenant, where)
            except NeedsReauth:
                raise
            except RateLimited as exc:
                await sleep_until(self._clock, exc.retry_at or self._clock.time() + 60.0)
            except (RetryableError, Unauthorized, DecodeError):
                attempt += 1
                if self._backoff.exhausted(attempt):
                    raise
                self._conn.stats.retries += 1
                await self._clock.sleep(self._backoff.delay(attempt))
