"""A fake Exact Online server that behaves like the real API, on 127.0.0.1 only.

What it simulates (see ``PROVIDERS.md``, Exact Online section):

* **OAuth2 refresh** at ``POST /api/oauth2/token``: one chain of single-use refresh
  tokens per grant (connection); reusing an old one answers 401 "Old refresh
  token used." *and kills the grant*; refreshing less than
  ``min_refresh_interval`` seconds after the last refresh is refused with
  ``Reason: TooEarlyToRefreshTokens``; ``expires_in`` is a string.
* **Divisions as tenants**: ``current/Me``, ``system/Divisions`` and every data URL
  ``/api/v1/{division}/...``; one grant covers several divisions.
* **Sync endpoints** with mandatory ``$select``, ``$filter=Timestamp gt N[L]``,
  1000-row pages ordered by an Int64 rowversion shared by the whole division,
  absolute ``__next`` links carrying ``$skiptoken``, ``__metadata`` on every row,
  and ``sync/Deleted``; the regular ``vat/VATCodes`` and ``system/Divisions``
  endpoints with 60-row pages and a ``Modified`` filter in Amsterdam local time.
* **Rate limits** per division: a clock-aligned minute and an Amsterdam day, with
  Exact's six headers (resets in epoch milliseconds); a minutely 429 carries only
  the minutely headers and no body. More than 10 errors (400/401/403/404) per
  division and endpoint in an hour block that endpoint for an hour.
* Atom XML unless ``Accept`` names JSON; gzip when ``Accept-Encoding`` allows it.

Named misbehaviours taken from real failures are armed through
:class:`FaultSwitches` (5xx, connection reset, truncated gzip, slow answers, an
HTML maintenance page with status 200, relative or foreign ``__next`` links), and
:class:`ServerStats` records what clients did, e.g. whether they ever exceeded
the minutely limit. All time (token expiry, windows, delays, ``Modified`` of new
rows) comes from the injected :class:`~replicator.clock.Clock`, so tests run in
virtual time. The data itself lives in :mod:`replicator.testing.exact_data`;
lifecycle, the wire, faults, statistics and token chains are shared with the
other fakes through :mod:`replicator.testing.fakebase`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

import orjson
from aiohttp import web

from replicator.clock import Clock
from replicator.testing.exact_data import (
    AMSTERDAM,
    DIVISION_FIELDS,
    RESOURCES,
    RESOURCES_BY_PATH,
    DivisionData,
    QueryError,
    ResourceSpec,
    check_resource,
    exact_date,
    exact_date_from_epoch,
    exact_ms,
    guid,
    parse_date_filter,
    parse_exact_date,
    parse_guid_skiptoken,
    parse_select,
    parse_timestamp_filter,
    parse_timestamp_skiptoken,
    parse_top,
)
from replicator.testing.fakebase import (
    AccessTokens,
    FakeServerBase,
    FaultSwitches,
    RefreshTokenChains,
    RefreshTokenError,
    Reply,
    ServerStats,
    client_credentials,
)

_ATOM = "application/atom+xml;type=feed;charset=utf-8"
_TOKEN_PATH = "/api/oauth2/token"
_ME_PATH = "/api/v1/current/Me"
_COUNTED_ERRORS = frozenset({400, 401, 403, 404})
_ERRORS_BEFORE_BLOCK = 10
_HOUR = 3600.0
# Exact leaves $, commas, quotes and parentheses readable in its next links.
_QUERY_SAFE = "$,'():"
_MAINTENANCE_PAGE = (
    b"<!DOCTYPE html><html><head><title>Exact Online - Maintenance</title></head>"
    b"<body><h1>Exact Online is being updated</h1>"
    b"<p>We are performing scheduled maintenance. Please try again later.</p></body></html>"
)
_UNAUTHORIZED = "Access token is expired or invalid"
_DIVISION_MODEL = "Exact.Web.Api.Models.System.Division"


def _exact_error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    body = {"error": {"code": "", "message": {"lang": "", "value": message}}}
    return Reply(status, orjson.dumps(body), headers=headers or {})


def _oauth_error(
    status: int, error: str, description: str | None = None, reason: str | None = None
) -> Reply:
    body = {"error": error} if description is None else {
        "error": error, "error_description": description}
    return Reply(status, orjson.dumps(body), headers={"Reason": reason} if reason else {})


def _page(rows: list[bytes], next_url: str | None) -> bytes:
    parts = [b'{"d":{"results":[', b",".join(rows), b"]"]
    if next_url is not None:
        parts += [b',"__next":', orjson.dumps(next_url)]
    parts.append(b"}}")
    return b"".join(parts)


# ---------------------------------------------------------------------------
# Statistics, grants and budgets


class ExactServerStats(ServerStats):
    """:class:`~replicator.testing.fakebase.ServerStats` plus Exact's error blocks.

    Attributes:
        blocked: ``(division, path, blocked_until)`` each time an endpoint got blocked
            for too many errors.
    """

    __slots__ = ("blocked",)

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[tuple[int, str, float]] = []

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, blocked={len(self.blocked)})"


@dataclass(slots=True)
class _Grant:
    name: str
    divisions: list[int]
    user_id: str
    allowed: frozenset[int] = frozenset()
    last_refresh: float | None = None


@dataclass(slots=True)
class _Budget:
    minute_start: float = -1.0
    minute_used: int = 0
    day_end: float = -1.0
    day_used: int = 0


def _next_amsterdam_midnight(now: float) -> float:
    local = datetime.fromtimestamp(now, AMSTERDAM)
    return datetime.combine(local.date() + timedelta(days=1), dtime(0), AMSTERDAM).timestamp()


# ---------------------------------------------------------------------------
# The server


class FakeExactServer(FakeServerBase):
    """An aiohttp server on 127.0.0.1 that answers like Exact Online.

    Args:
        divisions: how many divisions the licence has.
        records: initial rows per division per resource: one number for all, or a
            dict by resource name (names left out get 0).
        clock: the clock for every time-based decision (default: system clock).
        seed: data seed; equal arguments give byte-identical data.
        minutely_limit: calls per division per clock minute.
        daily_limit: calls per division per Amsterdam day.
        client_id: the app's OAuth client id.
        client_secret: the app's OAuth client secret.
        token_lifetime: access-token lifetime in seconds.
        min_refresh_interval: seconds that must pass between two refreshes of a grant.
        sync_page_size: rows per sync page.
        regular_page_size: rows per page of regular endpoints.
        first_division: code of the first division; the others follow it.
    """

    maintenance_page = _MAINTENANCE_PAGE
    stats: ExactServerStats

    def __init__(
        self, *, divisions: int = 3, records: int | dict[str, int] = 100,
        clock: Clock | None = None, seed: int = 0, minutely_limit: int = 60,
        daily_limit: int = 5000, client_id: str = "fake-client",
        client_secret: str = "fake-secret", token_lifetime: int = 600,
        min_refresh_interval: int = 570, sync_page_size: int = 1000,
        regular_page_size: int = 60, first_division: int = 100001,
    ) -> None:
        if isinstance(records, int):
            counts = dict.fromkeys(RESOURCES, records)
        else:
            for name in records:
                check_resource(name)
            counts = {name: records.get(name, 0) for name in RESOURCES}
        if divisions < 1 or min(counts.values()) < 0:
            raise ValueError("divisions must be positive and record counts not negative")
        super().__init__(clock=clock, stats=ExactServerStats())
        self.seed = seed
        self.minutely_limit = minutely_limit
        self.daily_limit = daily_limit
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.min_refresh_interval = min_refresh_interval
        self.sync_page_size = sync_page_size
        self.regular_page_size = regular_page_size
        self._counts = counts
        self._divisions = [first_division + i for i in range(divisions)]
        self._division_set = frozenset(self._divisions)
        self._data: dict[int, DivisionData] = {}
        self._division_records: dict[int, dict[str, Any]] = {}
        self._grants: dict[str, _Grant] = {}
        self._chains = RefreshTokenChains()
        # An access token belongs to one generation of one grant: re-authorising
        # a grant kills the tokens bought through its old chain.
        self._access_tokens: AccessTokens[tuple[str, int]] = AccessTokens()
        self._budgets: dict[int, _Budget] = {}
        self._errors: dict[tuple[int, str], deque[float]] = {}
        self._blocked: dict[tuple[int, str], float] = {}

    # -- lifecycle ---------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        """Register the token endpoint, ``current/Me`` and every division URL."""
        app.router.add_post(_TOKEN_PATH, self._handle_token)
        app.router.add_get(_ME_PATH, self._handle_me)
        app.router.add_get("/api/v1/{division}/{tail:.+}", self._handle_division)

    # -- grants ------------------------------------------------------------

    def add_grant(self, name: str = "default", divisions: list[int] | None = None) -> str:
        """Authorise a connection and return its first refresh token.

        Authorising an existing name again is a person re-authorising it: a new
        token chain starts, and the old chain and its access tokens die.

        Args:
            name: the grant's name.
            divisions: the divisions it may read (``None``: all of them).
        """
        chosen = list(self._divisions if divisions is None else divisions)
        unknown = set(chosen) - self._division_set
        if unknown or not chosen:
            raise ValueError(f"divisions must be a non-empty subset of {self._divisions}")
        grant = self._grants.get(name)
        if grant is None:
            grant = self._grants[name] = _Grant(name, chosen, guid(self.seed, "user", name))
        else:
            grant.divisions, grant.last_refresh = chosen, None
        grant.allowed = frozenset(chosen)
        return self._chains.start(name)

    def revoke_grant(self, name: str) -> None:
        """Kill a grant: refreshes answer ``invalid_grant``, API calls 401."""
        if name not in self._grants:
            raise KeyError(f"no grant named {name!r}")
        self._chains.revoke(name)

    def division_codes(self, grant: str = "default") -> list[int]:
        """The divisions of ``grant``; all divisions while no grant ``"default"`` exists."""
        found = self._grants.get(grant)
        if found is None:
            if grant == "default":
                return list(self._divisions)
            raise KeyError(f"no grant named {grant!r}")
        return list(found.divisions)

    # -- data --------------------------------------------------------------

    def _division_data(self, division: int) -> DivisionData:
        data = self._data.get(division)
        if data is None:
            if division not in self._division_set:
                raise ValueError(f"unknown division {division}; have {self._divisions}")
            data = self._data[division] = DivisionData(self.seed, division, self._counts)
        return data

    def expected(self, division: int, resource: str) -> dict[str, dict[str, Any]]:
        """Current rows of ``resource`` in ``division``: key -> every field, as served."""
        check_resource(resource)
        table = self._division_data(division).table(resource)
        return {key: table.record(key) for key in table.rows}

    def mutate(
        self, division: int, resource: str, *, add: int = 0, change: int = 0, delete: int = 0
    ) -> None:
        """Add, change and delete rows as users would between two runs.

        See :meth:`replicator.testing.exact_data.DivisionData.mutate`.
        """
        self._division_data(division).mutate(
            resource, add=add, change=change, delete=delete, now=self.clock.time())

    def url_for(self, division: int, resource: str) -> str:
        """The absolute URL of ``resource`` in ``division`` (no query)."""
        return f"{self.base_url}/api/v1/{division}/{check_resource(resource).path}"

    # -- token endpoint ----------------------------------------------------

    async def _handle_token(self, request: web.Request) -> web.StreamResponse:
        self.stats.requests[(None, request.path)] += 1
        fault = self.faults.take("fail_5xx", None, token=True)
        if fault is not None:
            return await self.send(request, self.error_reply(fault.status), None, api=False)
        form = await request.post()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        reply = self._refresh(fields, request.headers.get("Authorization", ""))
        return await self.send(request, reply, None, api=False)

    def _refresh(self, form: dict[str, str], authorization: str) -> Reply:
        client_id, client_secret = client_credentials(form, authorization)
        if client_id != self.client_id or client_secret != self.client_secret:
            return _oauth_error(400, "invalid_client")
        if form.get("grant_type") != "refresh_token":
            return _oauth_error(400, "unsupported_grant_type")
        try:
            grant = self._grants[self._chains.check(form.get("refresh_token", ""))]
        except RefreshTokenError as exc:
            if exc.reason == "unknown":
                return _oauth_error(400, "invalid_grant", "The refresh token is unknown.")
            if exc.reason == "revoked":
                return _oauth_error(400, "invalid_grant", "The grant has been revoked.")
            # Exact's harshest rule: the whole connection dies, not just this call
            # (the chain has revoked the grant already).
            return _oauth_error(401, "unauthorized_client", "Old refresh token used.")
        now = self.clock.time()
        if grant.last_refresh is not None and now - grant.last_refresh < self.min_refresh_interval:
            return _oauth_error(400, "access_denied",
                                "Rate limit exceeded: access_token not expired",
                                reason="TooEarlyToRefreshTokens")
        grant.last_refresh = now
        refresh_token = self._chains.rotate(grant.name)
        access = self._access_tokens.issue(
            (grant.name, self._chains.generation(grant.name)), now + self.token_lifetime, now)
        self.stats.token_refreshes += 1
        body = {"access_token": access, "token_type": "bearer",
                "expires_in": str(self.token_lifetime), "refresh_token": refresh_token}
        return Reply(200, orjson.dumps(body), headers={"Cache-Control": "no-store"})

    # -- API ---------------------------------------------------------------

    def _authorize(self, request: web.Request) -> _Grant | None:
        owner = self._access_tokens.bearer(request.headers.get("Authorization", ""), self.clock.time())
        if owner is None or not self._chains.is_live(*owner):
            return None
        return self._grants.get(owner[0])

    @staticmethod
    def _unauthorized(headers: dict[str, str]) -> Reply:
        return _exact_error(401, _UNAUTHORIZED,
                            {**headers, "WWW-Authenticate": 'Bearer error="invalid_token"'})

    def error_reply(self, status: int) -> Reply:
        """A 5xx as Exact's proxies answer it: HTML for 502-504, Exact's JSON otherwise."""
        if status in (502, 503, 504):
            return super().error_reply(status)
        return _exact_error(status, "An unexpected error occurred.")

    async def _handle_me(self, request: web.Request) -> web.StreamResponse:
        self.stats.requests[(None, request.path)] += 1
        early = await self.infrastructure_faults(request, None)
        if early is not None:
            return early
        grant = self._authorize(request)
        if grant is None:
            reply = self._unauthorized({})
        elif not _wants_json(request):
            reply = self._atom(request, "Me")
        else:
            me = {"__metadata": {"uri": f"{self.base_url}{_ME_PATH}(guid'{grant.user_id}')",
                                 "type": "Exact.Web.Api.System.Me"},
                  "CurrentDivision": grant.divisions[0], "UserID": grant.user_id,
                  "FullName": "Fake User", "UserName": f"{grant.name}@fake.example",
                  "LanguageCode": "nl-NL"}
            reply = Reply(200, orjson.dumps({"d": {"results": [me]}}))
        return await self.send(request, reply, None)

    async def _handle_division(self, request: web.Request) -> web.StreamResponse:
        text = request.match_info["division"]
        division = int(text) if text.isdigit() else None
        self.stats.requests[(division, request.path)] += 1
        early = await self.infrastructure_faults(request, division)
        if early is not None:
            return early
        if division is None:
            reply = _exact_error(404, f"Division '{text}' is not valid")
        else:
            reply = self._division_call(request, division, request.match_info["tail"])
        return await self.send(request, reply, division)

    def _division_call(self, request: web.Request, division: int, tail: str) -> Reply:
        now = self.clock.time()
        key = (division, request.path)
        budget = self._budget(division, now) if division in self._division_set else None
        headers = self._limit_headers(budget) if budget is not None else {}
        if now < self._blocked.get(key, -math.inf):
            return _exact_error(
                403, "Too many errors on this endpoint: access blocked for an hour", headers)
        grant = self._authorize(request)
        if grant is None:
            reply = self._unauthorized(headers)
        elif budget is None:
            reply = _exact_error(404, f"Division {division} does not exist")
        elif division not in grant.allowed:
            reply = _exact_error(403, f"Forbidden: no access to division {division}", headers)
        else:
            limited = self._spend(division, budget)
            if limited is not None:
                return limited
            reply = self._endpoint(request, division, tail, grant)
            reply.headers.update(self._limit_headers(budget))
        if reply.status in _COUNTED_ERRORS:
            self._count_error(key, now)
        return reply

    def _endpoint(self, request: web.Request, division: int, tail: str, grant: _Grant) -> Reply:
        spec = RESOURCES_BY_PATH.get(tail)
        if spec is None and tail != "system/Divisions":
            return _exact_error(404, f"Resource not found: {tail}")
        if not _wants_json(request):
            return self._atom(request, tail.rsplit("/", 1)[-1])
        try:
            if spec is None:
                return self._divisions_page(request, division, grant)
            if spec.sync:
                return self._sync_page(request, division, spec)
            return self._regular_page(request, division, spec)
        except QueryError as exc:
            return _exact_error(400, str(exc))

    # -- rate limits and error bookkeeping ----------------------------------

    def spend(self, division: int, calls: int) -> None:
        """Another client of the same app used ``calls`` of ``division``'s current
        minute and day: the engine cannot know until the headers (or a 429) say so."""
        budget = self._budget(division, self.clock.time())
        budget.minute_used += calls
        budget.day_used += calls

    def _budget(self, division: int, now: float) -> _Budget:
        budget = self._budgets.setdefault(division, _Budget())
        minute = math.floor(now / 60) * 60.0
        if minute != budget.minute_start:
            budget.minute_start, budget.minute_used = minute, 0
        if now >= budget.day_end:
            budget.day_end, budget.day_used = _next_amsterdam_midnight(now), 0
        return budget

    def _minutely_headers(self, budget: _Budget) -> dict[str, str]:
        return {
            "X-RateLimit-Minutely-Limit": str(self.minutely_limit),
            "X-RateLimit-Minutely-Remaining": str(max(0, self.minutely_limit - budget.minute_used)),
            "X-RateLimit-Minutely-Reset": str(int((budget.minute_start + 60) * 1000)),
        }

    def _daily_headers(self, budget: _Budget) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.daily_limit),
            "X-RateLimit-Remaining": str(max(0, self.daily_limit - budget.day_used)),
            "X-RateLimit-Reset": str(int(budget.day_end * 1000)),
        }

    def _limit_headers(self, budget: _Budget) -> dict[str, str]:
        return {**self._daily_headers(budget), **self._minutely_headers(budget)}

    def _spend(self, division: int, budget: _Budget) -> Reply | None:
        if budget.day_used >= self.daily_limit:
            self.stats.rate_limited += 1
            return _exact_error(429, "API rate limit exceeded: daily limit reached",
                                self._daily_headers(budget))
        if budget.minute_used >= self.minutely_limit:
            self.stats.rate_limited += 1
            return Reply(429, b"", headers=self._minutely_headers(budget))
        budget.day_used += 1
        budget.minute_used += 1
        self.stats.accepted(division, self.clock.time())
        return None

    def _count_error(self, key: tuple[int, str], now: float) -> None:
        times = self._errors.setdefault(key, deque())
        times.append(now)
        while times and times[0] <= now - _HOUR:
            times.popleft()
        if len(times) > _ERRORS_BEFORE_BLOCK:
            self._blocked[key] = now + _HOUR
            self.stats.blocked.append((key[0], key[1], now + _HOUR))
            times.clear()

    # -- pages --------------------------------------------------------------

    def _next_url(self, request: web.Request, division: int, params: list[tuple[str, str]]) -> str:
        query = "&".join(f"{name}={quote(value, safe=_QUERY_SAFE)}" for name, value in params)
        return self.link(f"{request.path}?{query}", division)

    def _sync_page(self, request: web.Request, division: int, spec: ResourceSpec) -> Reply:
        query = request.query
        select_text = query.get("$select", "")
        select = parse_select(spec.fields, select_text, spec.model)
        filter_text = query.get("$filter")
        after = max(parse_timestamp_filter(filter_text),
                    parse_timestamp_skiptoken(query.get("$skiptoken")))
        table = self._division_data(division).table(spec.name)
        keys, stamps = table.order()
        lo = table.first_after(after)
        hi = min(lo + self.sync_page_size, len(keys))
        uri_base = f"{self.base_url}/api/v1/{division}/{spec.path}"
        rows = table.encoded(select, uri_base, range(lo, hi))
        next_url = None
        if hi < len(keys):
            params = [("$select", select_text)]
            if filter_text is not None:
                params.append(("$filter", filter_text))
            params.append(("$skiptoken", f"{stamps[hi - 1]}L"))
            next_url = self._next_url(request, division, params)
        self.stats.pages_served += 1
        self.stats.records_served[spec.name] += hi - lo
        return Reply(200, _page(rows, next_url))

    def _regular_page(self, request: web.Request, division: int, spec: ResourceSpec) -> Reply:
        query = request.query
        select = spec.fields
        if "$select" in query:
            select = parse_select(spec.fields, query["$select"], spec.model)
        accept = parse_date_filter(query.get("$filter"), spec.fields)
        top = parse_top(query.get("$top"))
        table = self._division_data(division).table(spec.name)
        keys, _ = table.order()
        start = 0
        if "$skiptoken" in query:
            start = bisect_right(keys, parse_guid_skiptoken(query["$skiptoken"]))
        limit = self.regular_page_size if top is None else min(top, self.regular_page_size)
        positions: list[int] = []
        more = False
        for pos in range(start, len(keys)):
            if accept is None or accept(table.record(keys[pos])):
                if len(positions) == limit:
                    more = True
                    break
                positions.append(pos)
        uri_base = f"{self.base_url}/api/v1/{division}/{spec.path}"
        rows = table.encoded(select, uri_base, positions)
        next_url = None
        if more and (top is None or top > limit):
            params = [(name, query[name]) for name in ("$select", "$filter") if name in query]
            if top is not None:
                params.append(("$top", str(top - limit)))
            params.append(("$skiptoken", f"guid'{keys[positions[-1]]}'"))
            next_url = self._next_url(request, division, params)
        self.stats.pages_served += 1
        self.stats.records_served[spec.name] += len(rows)
        return Reply(200, _page(rows, next_url))

    def _divisions_page(self, request: web.Request, division: int, grant: _Grant) -> Reply:
        query = request.query
        select: tuple[str, ...] = DIVISION_FIELDS
        if "$select" in query:
            select = parse_select(DIVISION_FIELDS, query["$select"], _DIVISION_MODEL)
        codes = sorted(grant.divisions)
        start = 0
        if "$skiptoken" in query:
            start = bisect_right(codes, parse_timestamp_skiptoken(query["$skiptoken"]))
        page = codes[start:start + self.regular_page_size]
        rows = []
        for code in page:
            rec = self._division_record(code)
            row: dict[str, Any] = {"__metadata": {
                "uri": f"{self.base_url}/api/v1/{division}/system/Divisions({code})",
                "type": _DIVISION_MODEL}}
            row.update((name, rec[name]) for name in select)
            rows.append(orjson.dumps(row))
        next_url = None
        if start + len(page) < len(codes):
            params = [(n, query[n]) for n in ("$select",) if n in query]
            params.append(("$skiptoken", str(page[-1])))
            next_url = self._next_url(request, division, params)
        self.stats.pages_served += 1
        self.stats.records_served["divisions"] += len(rows)
        return Reply(200, _page(rows, next_url))

    def _division_record(self, code: int) -> dict[str, Any]:
        rec = self._division_records.get(code)
        if rec is None:
            hid = self._divisions.index(code) + 1
            rec = DivisionData(self.seed, code, self._counts).division_record(hid, hid == 1)
            self._division_records[code] = rec
        return rec

    def _atom(self, request: web.Request, title: str) -> Reply:
        updated = datetime.fromtimestamp(self.clock.time(), UTC)
        feed = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<feed xml:base={quoteattr(self.base_url + "/api/v1/")} '
            'xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" '
            'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">'
            f'<id>{escape(self.base_url + request.path_qs)}</id>'
            f'<title type="text">{escape(title)}</title>'
            f'<updated>{updated.strftime("%Y-%m-%dT%H:%M:%SZ")}</updated>'
            f'<link rel="self" title={quoteattr(title)} href={quoteattr(title)} /></feed>'
        )
        return Reply(200, feed.encode(), _ATOM)

    def __repr__(self) -> str:
        return (f"FakeExactServer(base_url={self.base_url!r}, divisions={len(self._divisions)}, "
                f"grants={len(self._grants)}, {self.stats!r})")


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "").lower()


__all__ = [
    "FakeExactServer", "FaultSwitches", "ServerStats", "exact_date", "exact_date_from_epoch",
    "exact_ms", "parse_exact_date",
]
