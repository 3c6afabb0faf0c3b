"""What every fake provider server shares: lifecycle, the wire, faults, statistics.

A fake provider is a subclass of :class:`FakeServerBase` that adds its routes in
:meth:`FakeServerBase.add_routes` and answers each request with a :class:`Reply`
passed to :meth:`FakeServerBase.send`. Everything else is here, once:

* **Lifecycle**: ``await start(port=0) -> base_url`` binds 127.0.0.1 only;
  ``await close()``; ``async with Fake(...) as server``.
* **The wire** (:meth:`FakeServerBase.send`): counts the status in
  :attr:`ServerStats.responses`, gzips the body when ``Accept-Encoding`` allows
  it, and applies the ``truncate_gzip`` fault.
* **Infrastructure faults** (:meth:`FakeServerBase.infrastructure_faults`, call it
  first in every API handler): ``slow`` (sleeps on the injected clock), ``reset``,
  ``fail_5xx`` and ``html_maintenance``. Override :meth:`FakeServerBase.error_reply`
  and :attr:`FakeServerBase.maintenance_page` for the provider's own look.
* **Links**: :meth:`FakeServerBase.link` applies ``foreign_next``/``relative_next``.
* **Faults** (:class:`FaultSwitches`) are armed for the next ``n`` matching
  requests, optionally only for one ``tenant=`` (``division=`` is the same filter
  under Exact's name); :meth:`FaultSwitches.arm` takes provider-specific kinds.
* **Statistics** (:class:`ServerStats`): requests by ``(tenant, path)``, responses
  by status, 429s, tokens issued, pages and records served, and every call that
  consumed rate-limit budget, so tests can ask
  ``max_calls_in_window(tenant, 300)`` (rolling) or
  ``max_calls_in_window(tenant, 60, aligned=True)`` (clock-aligned).
* **Rate limiters for fakes**: :class:`RollingWindowLimiter` (N calls in any
  period) and :class:`FixedWindowLimiter` (N calls per clock-aligned period),
  both keyed by tenant and fed the clock's ``now`` by the caller.
* **Tokens**: :func:`client_credentials` (form body or HTTP Basic),
  :class:`AccessTokens` (opaque bearer tokens with an expiry and an owner of any
  type) and :class:`RefreshTokenChains` (one chain of single-use rotating refresh
  tokens per grant; reusing an old one raises :class:`RefreshTokenError` and, by
  default, kills the grant as Exact does).

All time comes from the injected :class:`~replicator.clock.Clock`, so tests run in
virtual time. A minimal provider::

    class FakeAcme(FakeServerBase):
        def __init__(self, *, clock: Clock | None = None) -> None:
            super().__init__(clock=clock)
            self.tokens: AccessTokens[str] = AccessTokens()
            self.limiter = RollingWindowLimiter(300, 300.0)

        def add_routes(self, app: web.Application) -> None:
            app.router.add_get("/{tenant}/things", self._things)

        async def _things(self, request: web.Request) -> web.StreamResponse:
            tenant = request.match_info["tenant"]
            self.stats.requests[(tenant, request.path)] += 1
            early = await self.infrastructure_faults(request, tenant)
            if early is not None:
                return early
            now = self.clock.time()
            if self.tokens.bearer(request.headers.get("Authorization", ""), now) != tenant:
                return await self.send(request, Reply(401), tenant)
            if not self.limiter.try_acquire(tenant, now):
                self.stats.rate_limited += 1
                return await self.send(request, Reply(429), tenant)
            self.stats.accepted(tenant, now)
            return await self.send(request, Reply.json(200, {"data": []}), tenant)

Used by :mod:`~replicator.testing.fake_exact`, :mod:`~replicator.testing.fake_halo`
and :mod:`~replicator.testing.fake_horisen`.
"""

from __future__ import annotations

import abc
import base64
import binascii
import gzip
import math
import secrets
import socket
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Literal, Self, TypeVar
from urllib.parse import unquote

import orjson
from aiohttp import web

from replicator.clock import Clock, SystemClock

Tenant = str | int
"""A tenant key: an Exact division code, a Halo tenant name, a HORISEN host name."""

T = TypeVar("T")
JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"
_GENERIC_MAINTENANCE = (
    b"<!DOCTYPE html><html><head><title>Maintenance</title></head>"
    b"<body><h1>Down for maintenance</h1><p>Please try again later.</p></body></html>"
)


@dataclass(slots=True)
class Reply:
    """A response before it is put on the wire (gzip and faults are applied later)."""

    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, value: Any, headers: dict[str, str] | None = None) -> Reply:
        """A JSON reply of ``value`` (encoded with orjson)."""
        return cls(status, orjson.dumps(value), JSON, dict(headers or {}))


# ---------------------------------------------------------------------------
# Faults


@dataclass(slots=True)
class Fault:
    """One armed switch: ``kind`` fires for the next ``remaining`` matching requests."""

    kind: str
    remaining: int
    tenant: Tenant | None = None
    status: int = 503
    seconds: float = 0.0
    include_token: bool = False
    target: str = ""


def _pick(tenant: Tenant | None, division: int | None) -> Tenant | None:
    if tenant is not None and division is not None:
        raise ValueError("give tenant= or division=, not both")
    return tenant if tenant is not None else division


class FaultSwitches:
    """Misbehaviours armed for the next ``n`` matching requests, all off by default.

    Each switch counts down once per request it affects; arming one with ``n=0``
    switches that kind off again (for that tenant filter). ``tenant`` (or its alias
    ``division``) limits a switch to calls for that tenant; such a switch never
    affects calls that belong to no tenant (discovery, the token endpoint). Faults
    model the infrastructure in front of the provider, so a faulted call consumes
    no rate-limit budget.

    Attributes:
        relative_next: serve next links as path and query only (seen in the wild).
        fired: how often each switch has fired.
    """

    __slots__ = ("_armed", "fired", "relative_next")

    def __init__(self) -> None:
        self._armed: list[Fault] = []
        self.relative_next = False
        self.fired: Counter[str] = Counter()

    def fail_5xx(self, n: int, status: int = 503, *, tenant: Tenant | None = None,
                 division: int | None = None, include_token: bool = False) -> None:
        """Answer the next ``n`` API calls with ``status`` (HTML for 502-504, else JSON).

        The token endpoint is affected only with ``include_token=True``.
        """
        if not 500 <= status <= 599:
            raise ValueError(f"not a 5xx status: {status}")
        self.arm(Fault("fail_5xx", n, _pick(tenant, division), status=status, include_token=include_token))

    def reset(self, n: int, *, tenant: Tenant | None = None, division: int | None = None) -> None:
        """Drop the connection of the next ``n`` API calls without any response."""
        self.arm(Fault("reset", n, _pick(tenant, division)))

    def truncate_gzip(self, n: int, *, tenant: Tenant | None = None, division: int | None = None) -> None:
        """Cut the next ``n`` gzip bodies in half (Content-Length promises the whole)."""
        self.arm(Fault("truncate_gzip", n, _pick(tenant, division)))

    def slow(self, n: int, seconds: float, *, tenant: Tenant | None = None, division: int | None = None) -> None:
        """Delay the next ``n`` API responses by ``seconds`` of clock time."""
        self.arm(Fault("slow", n, _pick(tenant, division), seconds=seconds))

    def html_maintenance(self, n: int, *, tenant: Tenant | None = None, division: int | None = None) -> None:
        """Answer the next ``n`` API calls 200 with an HTML maintenance page."""
        self.arm(Fault("html_maintenance", n, _pick(tenant, division)))

    def foreign_next(self, host_url: str, n: int = 1, *, tenant: Tenant | None = None,
                     division: int | None = None) -> None:
        """Point the next link of the next ``n`` pages that have one at ``host_url``."""
        self.arm(Fault("foreign_next", n, _pick(tenant, division), target=host_url.rstrip("/")))

    def arm(self, fault: Fault) -> None:
        """Arm any switch, provider-specific kinds included (``n=0`` disarms that kind)."""
        if fault.remaining < 0:
            raise ValueError(f"{fault.kind}: n must not be negative")
        if fault.remaining == 0:
            self._armed = [f for f in self._armed if (f.kind, f.tenant) != (fault.kind, fault.tenant)]
        else:
            self._armed.append(fault)

    def take(self, kind: str, tenant: Tenant | None, *, token: bool = False) -> Fault | None:
        """Fire the first armed ``kind`` switch matching this request, if any."""
        for fault in self._armed:
            if fault.kind != kind or (token and not fault.include_token):
                continue
            if fault.tenant is not None and fault.tenant != tenant:
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._armed.remove(fault)
            self.fired[kind] += 1
            return fault
        return None

    def clear(self) -> None:
        """Disarm every switch (``relative_next`` included)."""
        self._armed.clear()
        self.relative_next = False

    def pending(self) -> dict[str, int]:
        """Requests still to be affected, by switch name."""
        left: Counter[str] = Counter()
        for fault in self._armed:
            left[fault.kind] += fault.remaining
        return dict(left)

    def __repr__(self) -> str:
        return f"FaultSwitches(pending={self.pending()}, relative_next={self.relative_next})"


# ---------------------------------------------------------------------------
# Statistics and rate limiters


class ServerStats:
    """What clients did to a fake server.

    Attributes:
        requests: requests by ``(tenant or None, path)``.
        responses: responses by status (connection resets are not responses).
        rate_limited: 429 answers.
        token_refreshes: access tokens issued (refreshes and client-credential grants).
        records_served: records served by resource name.
        pages_served: list pages served.
    """

    __slots__ = ("_accepted", "pages_served", "rate_limited", "records_served", "requests", "responses",
                 "token_refreshes")

    def __init__(self) -> None:
        self.requests: Counter[tuple[Tenant | None, str]] = Counter()
        self.responses: Counter[int] = Counter()
        self.rate_limited = 0
        self.token_refreshes = 0
        self.records_served: Counter[str] = Counter()
        self.pages_served = 0
        self._accepted: dict[Tenant, list[float]] = {}

    @property
    def requests_total(self) -> int:
        """All requests, token endpoints included."""
        return self.requests.total()

    def accepted(self, tenant: Tenant, when: float) -> None:
        """Count a call of ``tenant`` at clock time ``when`` that consumed rate-limit budget."""
        self._accepted.setdefault(tenant, []).append(when)

    def accepted_times(self) -> dict[Tenant, list[float]]:
        """Clock times of every budget-consuming call, by tenant."""
        return self._accepted

    def calls(self, tenant: Tenant) -> int:
        """Calls of ``tenant`` that consumed budget."""
        return len(self._accepted.get(tenant, ()))

    def max_calls_in_window(self, tenant: Tenant, seconds: float, *, aligned: bool = False) -> int:
        """The most budget-consuming calls ``tenant`` made within ``seconds``.

        Args:
            tenant: the tenant.
            seconds: the window length.
            aligned: count per clock-aligned window (``[k*seconds, (k+1)*seconds)``)
                instead of in any rolling window ``[t, t + seconds)``.
        """
        times = sorted(self._accepted.get(tenant, ()))
        if aligned:
            return max(Counter(math.floor(t / seconds) for t in times).values(), default=0)
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while times[lo] <= t - seconds:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def max_calls_in_any_minute(self, tenant: Tenant) -> int:
        """The most budget-consuming calls ``tenant`` made in one clock minute."""
        return self.max_calls_in_window(tenant, 60, aligned=True)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(requests={self.requests.total()}, responses={dict(self.responses)}, "
                f"rate_limited={self.rate_limited}, token_refreshes={self.token_refreshes}, "
                f"pages={self.pages_served}, records={self.records_served.total()})")


class RollingWindowLimiter:
    """At most ``limit`` calls per tenant in any ``period`` seconds (HaloPSA's shape).

    A call at ``now`` is admitted while fewer than ``limit`` admitted calls lie in
    ``(now - period, now]``; refused calls do not count.
    """

    __slots__ = ("_calls", "limit", "period")

    def __init__(self, limit: int, period: float) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit and period must be positive")
        self.limit, self.period = limit, period
        self._calls: dict[Tenant, deque[float]] = {}

    def _window(self, tenant: Tenant, now: float) -> deque[float]:
        calls = self._calls.setdefault(tenant, deque())
        while calls and calls[0] <= now - self.period:
            calls.popleft()
        return calls

    def try_acquire(self, tenant: Tenant, now: float) -> bool:
        """Admit one call now if the window has room."""
        calls = self._window(tenant, now)
        if len(calls) >= self.limit:
            return False
        calls.append(now)
        return True

    def spend(self, tenant: Tenant, now: float, calls: int = 1) -> None:
        """Another client of the same app used ``calls`` of the window now."""
        self._window(tenant, now).extend([now] * calls)

    def used(self, tenant: Tenant, now: float) -> int:
        """Calls admitted in the window ending now."""
        return len(self._window(tenant, now))

    def free_at(self, tenant: Tenant, now: float) -> float:
        """When the next call would be admitted (``now`` if at once)."""
        calls = self._window(tenant, now)
        if len(calls) < self.limit:
            return now
        return calls[len(calls) - self.limit] + self.period

    def __repr__(self) -> str:
        return f"RollingWindowLimiter(limit={self.limit}, period={self.period}, tenants={len(self._calls)})"


class FixedWindowLimiter:
    """At most ``limit`` calls per tenant per clock-aligned ``period`` (epoch multiples)."""

    __slots__ = ("_windows", "limit", "period")

    def __init__(self, limit: int, period: float) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit and period must be positive")
        self.limit, self.period = limit, period
        self._windows: dict[Tenant, list[float]] = {}  # tenant -> [window start, used]

    def _window(self, tenant: Tenant, now: float) -> list[float]:
        start = math.floor(now / self.period) * self.period
        window = self._windows.setdefault(tenant, [start, 0])
        if window[0] != start:
            window[0], window[1] = start, 0
        return window

    def try_acquire(self, tenant: Tenant, now: float) -> bool:
        """Admit one call now if this window has room."""
        window = self._window(tenant, now)
        if window[1] >= self.limit:
            return False
        window[1] += 1
        return True

    def spend(self, tenant: Tenant, now: float, calls: int = 1) -> None:
        """Another client of the same app used ``calls`` of this window."""
        self._window(tenant, now)[1] += calls

    def used(self, tenant: Tenant, now: float) -> int:
        """Calls admitted in the current window."""
        return int(self._window(tenant, now)[1])

    def remaining(self, tenant: Tenant, now: float) -> int:
        """Calls left in the current window."""
        return max(0, self.limit - self.used(tenant, now))

    def reset_at(self, now: float) -> float:
        """When the current window ends."""
        return math.floor(now / self.period) * self.period + self.period

    def __repr__(self) -> str:
        return f"FixedWindowLimiter(limit={self.limit}, period={self.period}, tenants={len(self._windows)})"


# ---------------------------------------------------------------------------
# Tokens


def client_credentials(form: Mapping[str, str], authorization: str) -> tuple[str | None, str | None]:
    """The client id and secret of a token request: form body first, else HTTP Basic."""
    client_id, client_secret = form.get("client_id"), form.get("client_secret")
    if client_id is None and authorization[:6].lower() == "basic ":
        try:
            pair = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        user, _, password = pair.partition(":")
        client_id, client_secret = unquote(user), unquote(password)
    return client_id, client_secret


class AccessTokens(Generic[T]):
    """Opaque bearer tokens, each with an owner and an expiry on the server's clock."""

    __slots__ = ("_prune_at", "_tokens")

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[T, float]] = {}
        self._prune_at = 256

    def issue(self, owner: T, expires_at: float, now: float) -> str:
        """A new token for ``owner``, valid until ``expires_at``."""
        if len(self._tokens) >= self._prune_at:  # keep a long soak test's memory flat
            self._tokens = {k: v for k, v in self._tokens.items() if v[1] > now}
            self._prune_at = max(256, 2 * len(self._tokens))
        token = secrets.token_urlsafe(32)
        self._tokens[token] = (owner, expires_at)
        return token

    def lookup(self, token: str, now: float) -> T | None:
        """The owner of a live ``token``, else ``None``."""
        entry = self._tokens.get(token)
        return entry[0] if entry is not None and now < entry[1] else None

    def bearer(self, authorization: str, now: float) -> T | None:
        """The owner of the live token in an ``Authorization: Bearer ...`` header."""
        scheme, _, token = authorization.partition(" ")
        return self.lookup(token.strip(), now) if scheme.lower() == "bearer" else None

    def revoke(self, predicate: Callable[[T], bool]) -> None:
        """Drop every token whose owner matches ``predicate``."""
        self._tokens = {k: v for k, v in self._tokens.items() if not predicate(v[0])}

    def __len__(self) -> int:
        return len(self._tokens)


class RefreshTokenError(Exception):
    """A refresh token was refused.

    Attributes:
        reason: ``unknown`` (never issued), ``revoked`` (grant revoked or
            re-authorised since) or ``reused`` (an older token of the live chain).
        grant: the grant it belonged to, if known.
    """

    def __init__(self, reason: Literal["unknown", "revoked", "reused"], grant: str | None) -> None:
        super().__init__(f"refresh token {reason}" + (f" (grant {grant!r})" if grant else ""))
        self.reason: Literal["unknown", "revoked", "reused"] = reason
        self.grant = grant


class RefreshTokenChains:
    """One chain of single-use, rotating refresh tokens per grant.

    A grant is a person's authorisation of the app (an Exact connection, a Horus
    licence). :meth:`start` (re-)authorises it and begins a new chain, killing the
    old one; :meth:`check` validates a presented token; :meth:`rotate` issues its
    successor, after which only the successor is valid.

    Args:
        prefix: start of every token. The default contains ``!`` (as Exact's do),
            which catches clients that do not form-encode the body.
        reuse_revokes: reusing an old token of the live chain revokes the grant.
    """

    __slots__ = ("_current", "_generation", "_owners", "_revoked", "prefix", "reuse_revokes")

    def __init__(self, *, prefix: str = "Fk!", reuse_revokes: bool = True) -> None:
        self.prefix = prefix
        self.reuse_revokes = reuse_revokes
        self._owners: dict[str, tuple[str, int]] = {}
        self._current: dict[str, str] = {}
        self._generation: dict[str, int] = {}
        self._revoked: set[str] = set()

    def start(self, grant: str) -> str:
        """(Re-)authorise ``grant`` and return the first token of its new chain."""
        self._generation[grant] = self._generation.get(grant, -1) + 1
        self._revoked.discard(grant)
        return self.rotate(grant)

    def check(self, token: str) -> str:
        """The grant ``token`` may refresh (it is its chain's newest token).

        Raises:
            RefreshTokenError: unknown, revoked, or reused (which revokes the grant
                when ``reuse_revokes``).
        """
        owner = self._owners.get(token)
        if owner is None:
            raise RefreshTokenError("unknown", None)
        grant, generation = owner
        if not self.is_live(grant, generation):
            raise RefreshTokenError("revoked", grant)
        if token != self._current[grant]:
            if self.reuse_revokes:
                self._revoked.add(grant)
            raise RefreshTokenError("reused", grant)
        return grant

    def rotate(self, grant: str) -> str:
        """Issue the successor token of ``grant``; older ones stop working."""
        token = f"{self.prefix}{secrets.token_urlsafe(24)}"
        self._owners[token] = (grant, self._generation[grant])
        self._current[grant] = token
        return token

    def revoke(self, grant: str) -> None:
        """Kill ``grant`` until :meth:`start` authorises it again."""
        self._revoked.add(grant)

    def generation(self, grant: str) -> int:
        """How often ``grant`` has been re-authorised (0 for the first time)."""
        return self._generation[grant]

    def current(self, grant: str) -> str:
        """The token that refreshes ``grant`` now."""
        return self._current[grant]

    def is_live(self, grant: str, generation: int) -> bool:
        """Whether ``grant`` is authorised and still in ``generation``."""
        return grant not in self._revoked and self._generation.get(grant) == generation

    def __repr__(self) -> str:
        return f"RefreshTokenChains(grants={len(self._current)}, revoked={len(self._revoked)})"


# ---------------------------------------------------------------------------
# The server


class FakeServerBase(abc.ABC):
    """An aiohttp server on 127.0.0.1; subclasses add the provider's routes.

    Args:
        clock: the clock for every time-based decision (default: system clock).
        stats: the statistics object (a subclass may pass an extended one).

    Attributes:
        clock: the injected clock.
        faults: the armed misbehaviours.
        stats: what clients did.
        base_url: ``http://127.0.0.1:<port>`` once started, else ``""``.
        maintenance_page: the body of the ``html_maintenance`` fault.
    """

    maintenance_page: bytes = _GENERIC_MAINTENANCE

    def __init__(self, *, clock: Clock | None = None, stats: ServerStats | None = None) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.faults = FaultSwitches()
        self.stats = stats if stats is not None else ServerStats()
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    @abc.abstractmethod
    def add_routes(self, app: web.Application) -> None:
        """Register the provider's handlers on ``app``."""

    # -- lifecycle ---------------------------------------------------------

    async def start(self, port: int = 0) -> str:
        """Listen on 127.0.0.1 (``port`` 0 picks a free one) and return the base URL."""
        if self._runner is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        app = web.Application()
        self.add_routes(app)
        # A short shutdown timeout: handlers parked in a (virtual) slow fault must
        # not hold close() for the default minute.
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.25)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(128)
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.base_url

    async def close(self) -> None:
        """Stop listening and drop open connections."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # -- replies the provider may restyle -----------------------------------

    def error_reply(self, status: int) -> Reply:
        """The body of a ``fail_5xx`` fault: an HTML proxy page for 502-504, else JSON."""
        if status in (502, 503, 504):
            page = f"<html><body><h1>{status} Service Unavailable</h1></body></html>"
            return Reply(status, page.encode(), HTML)
        return Reply.json(status, {"error": "An unexpected error occurred."})

    def link(self, path_qs: str, tenant: Tenant | None) -> str:
        """An absolute next link for ``path_qs``, or what the armed link faults make of it."""
        foreign = self.faults.take("foreign_next", tenant)
        if foreign is not None:
            return foreign.target + path_qs
        return path_qs if self.faults.relative_next else self.base_url + path_qs

    # -- the wire ------------------------------------------------------------

    async def infrastructure_faults(self, request: web.Request, tenant: Tenant | None) -> web.StreamResponse | None:
        """Apply ``slow``, ``reset``, ``fail_5xx`` and ``html_maintenance``; a response ends the call."""
        fault = self.faults.take("slow", tenant)
        if fault is not None:
            await self.clock.sleep(fault.seconds)
        if self.faults.take("reset", tenant) is not None:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never reaches the client
        fault = self.faults.take("fail_5xx", tenant)
        if fault is not None:
            return await self.send(request, self.error_reply(fault.status), tenant)
        if self.faults.take("html_maintenance", tenant) is not None:
            return await self.send(request, Reply(200, self.maintenance_page, HTML), tenant)
        return None

    async def send(self, request: web.Request, reply: Reply, tenant: Tenant | None, *,
                   api: bool = True) -> web.StreamResponse:
        """Put ``reply`` on the wire: gzip when accepted, ``truncate_gzip`` when ``api``."""
        self.stats.responses[reply.status] += 1
        headers = dict(reply.headers)
        body = reply.body
        if body:
            headers["Content-Type"] = reply.content_type
        if body and "gzip" in request.headers.get("Accept-Encoding", "").lower():
            body = gzip.compress(body, compresslevel=1, mtime=0)
            headers["Content-Encoding"] = "gzip"
            headers["Vary"] = "Accept-Encoding"
            if api and self.faults.take("truncate_gzip", tenant) is not None:
                # Promise the whole body, deliver half, hang up: the client must
                # see a payload error, never a short but well-formed page.
                response = web.StreamResponse(status=reply.status, headers=headers)
                response.content_length = len(body)
                await response.prepare(request)
                await response.write(body[: len(body) // 2])
                if request.transport is not None:
                    request.transport.close()
                return response
        return web.Response(status=reply.status, body=body, headers=headers)


__all__ = [
    "HTML", "JSON", "AccessTokens", "FakeServerBase", "Fault", "FaultSwitches", "FixedWindowLimiter",
    "RefreshTokenChains", "RefreshTokenError", "Reply", "RollingWindowLimiter", "ServerStats", "Tenant",
    "client_credentials",
]


class OrderedRows:
    """One resource's current records in a fake, served in key order.

    The order is computed once and kept until the next change, so paging through
    a large table costs a slice per page, not a sort.
    """

    __slots__ = ("_order", "key", "rows")

    def __init__(self, key: str, rows: dict[Any, dict[str, Any]] | None = None) -> None:
        self.key = key
        self.rows: dict[Any, dict[str, Any]] = rows if rows is not None else {}
        self._order: list[dict[str, Any]] | None = None

    def put(self, rec: dict[str, Any]) -> None:
        """Insert or replace a record."""
        self.rows[rec[self.key]] = rec
        self._order = None

    def remove(self, key: Any) -> None:
        """Drop a record."""
        del self.rows[key]
        self._order = None

    def ordered(self) -> list[dict[str, Any]]:
        """Records in serving order (ascending key, stable across pages)."""
        if self._order is None:
            self._order = [self.rows[k] for k in sorted(self.rows)]
        return self._order

    def snapshot(self) -> dict[Any, dict[str, Any]]:
        """Copies of the records by key."""
        return {key: dict(rec) for key, rec in self.rows.items()}

    def __len__(self) -> int:
        return len(self.rows)
