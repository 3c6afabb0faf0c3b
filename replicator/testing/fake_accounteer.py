"""A fake Accounteer server, on 127.0.0.1 only.

What it simulates (see ``PROVIDERS.md``, Accounteer section; little is verified,
so most list behaviours are switches):

* **OAuth2 authorisation code only.** The token endpoint ``/oauth/v2/token``
  takes its parameters (``client_id``, ``client_secret``, ``grant_type``,
  ``code`` + ``redirect_uri`` or ``refresh_token``) in the query string, as the
  seed calls it with GET; POST and a form body (the seed's ``curl -X GET -d``
  sends one) work too. Codes live an hour (seed) and are single use. Access
  tokens live 3600 s. Errors follow the FOSOAuthServerBundle / oauth2-php texts
  the seed's messages match (``{"error": "invalid_grant", "error_description":
  "The authorization code has expired"}``).
* **Refresh tokens [?]**: ``rotating_refresh=True`` (default) issues a new refresh
  token on every refresh and the old one stops working; ``False`` answers the
  same refresh token again and it stays valid. With rotation, ``reuse_revokes``
  decides whether presenting an old token also kills the grant (default: no,
  it is merely refused). Refresh tokens expire ``refresh_lifetime`` seconds
  after issue (oauth2-php's default is 14 days [?]).
* **Tenancy** (a design choice [?]): a grant belongs to one organisation, as in
  the seed ("Accounteer creates a special API user with access to the
  administration"; its JWTs carry a ``business`` id). URLs therefore carry no
  organisation: ``GET /api/v1/{resource}`` lists the token's organisation's
  records and ``GET /api/v1/{resource}/{id}`` reads one. ``organisations``
  lists just the token's own organisation.
* **Lists [?]**: the switch :attr:`FakeAccounteerServer.envelope` answers a
  ``"bare"`` JSON array or ``{"data": [...]}``; the switch
  :attr:`FakeAccounteerServer.paging` honours ``page`` (1-based) and
  ``per_page`` (capped at ``max_per_page``) with a short last page and empty
  pages beyond (``"page"``), or ignores them and answers everything at once
  (``"none"``). A client must stop on an empty or a short page.
* **Rate limit [?]**: none by default; ``rate_limit=(calls, seconds)`` arms a
  clock-aligned window per organisation answering 429 with ``Retry-After``.
* **Errors [?]**: ``{"code": <status>, "message": ...}`` (FOSRestBundle's shape)
  for 400/404/405/429/5xx; an invalid or expired access token answers 401 with
  the OAuth error body and a ``WWW-Authenticate`` header.

Faults and statistics come from :mod:`replicator.testing.fakebase` (tenant key:
the organisation id); data from :mod:`replicator.testing.accounteer_data`. All
time comes from the injected clock.
"""

from __future__ import annotations

import math
import secrets
from typing import Any, Literal, get_args
from urllib.parse import parse_qsl

from aiohttp import web

from replicator.clock import Clock
from replicator.testing.accounteer_data import ORGANISATION_RESOURCES, RESOURCES, OrganisationData, check_resource
from replicator.testing.fakebase import (
    AccessTokens,
    FakeServerBase,
    FixedWindowLimiter,
    RefreshTokenChains,
    RefreshTokenError,
    Reply,
    client_credentials,
)

Envelope = Literal["bare", "data"]
Paging = Literal["page", "none"]
ENVELOPES: tuple[str, ...] = get_args(Envelope)
PAGINGS: tuple[str, ...] = get_args(Paging)
_TOKEN_PATH = "/oauth/v2/token"
# Refresh tokens look like the seed's JWTs: long, dotted, base64url.
_JWT_HEAD = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzUxMiJ9."
_INVALID_ACCESS = "The access token provided is invalid."


def accounteer_error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    """An API error reply: ``{"code": status, "message": message}``."""
    return Reply.json(status, {"code": status, "message": message}, headers)


def _oauth_error(error: str, description: str) -> Reply:
    return Reply.json(400, {"error": error, "error_description": description})


def _positive(query: Any, name: str, default: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a positive integer")
    return int(text)


class FakeAccounteerServer(FakeServerBase):
    """An aiohttp server on 127.0.0.1 that answers like Accounteer for several organisations.

    Args:
        organisations: how many organisations (tenants) exist.
        records: initial records per organisation per resource: one number for
            all, or a dict by resource name (names left out get 0).
        clock: the clock for every time-based decision (default: system clock).
        seed: data seed; equal arguments give identical data.
        client_id: the app's OAuth client id (``{n}_{random}``, FOSOAuth style).
        client_secret: the app's OAuth client secret.
        redirect_uri: the registered redirect URI (the seed's out-of-band one by default).
        token_lifetime: access-token lifetime in seconds.
        code_lifetime: authorisation-code lifetime in seconds.
        refresh_lifetime: refresh-token lifetime in seconds from issue.
        rotating_refresh: see :attr:`rotating_refresh`.
        reuse_revokes: see :attr:`reuse_revokes`.
        envelope: see :attr:`envelope`.
        paging: see :attr:`paging`.
        default_per_page: records per page without ``per_page``.
        max_per_page: the cap on ``per_page``.
        rate_limit: ``(calls, seconds)`` per organisation per clock-aligned window,
            or ``None`` for no limit.
        first_organisation: the id of the first organisation; the others follow it.

    Attributes:
        organisations: the organisation ids, in order.
        rotating_refresh: every refresh issues a new refresh token and retires the old.
    """

    def __init__(
        self, *, organisations: int = 2, records: int | dict[str, int] = 20, clock: Clock | None = None,
        seed: int = 0, client_id: str = "2_fakeaccounteer", client_secret: str = "fake-accounteer-secret",
        redirect_uri: str = "https://accounteer.com", token_lifetime: int = 3600, code_lifetime: float = 3600.0,
        refresh_lifetime: float = 1_209_600.0, rotating_refresh: bool = True, reuse_revokes: bool = False,
        envelope: Envelope = "bare", paging: Paging = "page", default_per_page: int = 25, max_per_page: int = 100,
        rate_limit: tuple[int, float] | None = None, first_organisation: int = 61,
    ) -> None:
        super().__init__(clock=clock)
        if isinstance(records, int):
            counts = dict.fromkeys(ORGANISATION_RESOURCES, records)
        else:
            for name in records:
                if name not in ORGANISATION_RESOURCES:
                    raise ValueError(f"unknown resource {name!r}; valid: {', '.join(ORGANISATION_RESOURCES)}")
            counts = {name: records.get(name, 0) for name in ORGANISATION_RESOURCES}
        if organisations < 1 or min(counts.values()) < 0:
            raise ValueError("organisations must be positive and record counts not negative")
        if not 1 <= default_per_page <= max_per_page:
            raise ValueError("need 1 <= default_per_page <= max_per_page")
        self.seed = seed
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.token_lifetime = token_lifetime
        self.code_lifetime = code_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.rotating_refresh = rotating_refresh
        self.envelope = envelope
        self.paging = paging
        self.default_per_page = default_per_page
        self.max_per_page = max_per_page
        self.limiter = FixedWindowLimiter(*rate_limit) if rate_limit is not None else None
        self.organisations = [first_organisation + i for i in range(organisations)]
        self._data = {org: OrganisationData(seed, org, i, counts) for i, org in enumerate(self.organisations)}
        self._codes: dict[str, tuple[int, float]] = {}
        self._chains = RefreshTokenChains(prefix=_JWT_HEAD, reuse_revokes=reuse_revokes)
        self._refresh_expiry: dict[str, float] = {}
        self._access: AccessTokens[tuple[int, int]] = AccessTokens()

    # -- switches ----------------------------------------------------------------

    @property
    def envelope(self) -> Envelope:
        """How lists are wrapped [?]: ``"bare"`` array or ``"data"`` object (settable)."""
        return self._envelope

    @envelope.setter
    def envelope(self, value: Envelope) -> None:
        if value not in ENVELOPES:
            raise ValueError(f"unknown envelope {value!r}; valid: {', '.join(ENVELOPES)}")
        self._envelope = value

    @property
    def paging(self) -> Paging:
        """How lists page [?]: ``"page"`` (``page``/``per_page``) or ``"none"`` (settable)."""
        return self._paging

    @paging.setter
    def paging(self, value: Paging) -> None:
        if value not in PAGINGS:
            raise ValueError(f"unknown paging {value!r}; valid: {', '.join(PAGINGS)}")
        self._paging = value

    @property
    def reuse_revokes(self) -> bool:
        """With rotation, presenting a retired refresh token kills the grant (settable)."""
        return self._chains.reuse_revokes

    @reuse_revokes.setter
    def reuse_revokes(self, value: bool) -> None:
        self._chains.reuse_revokes = value

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("GET", _TOKEN_PATH, self._handle_token)
        app.router.add_route("POST", _TOKEN_PATH, self._handle_token)
        app.router.add_route("*", "/api/v1/{resource}", self._handle_api)
        app.router.add_route("*", "/api/v1/{resource}/{id}", self._handle_api)

    # -- OAuth helpers for tests ---------------------------------------------

    def _organisation(self, organisation: int) -> OrganisationData:
        data = self._data.get(organisation)
        if data is None:
            raise ValueError(f"unknown organisation {organisation!r}; have {self.organisations}")
        return data

    def authorize(self, organisation: int) -> str:
        """The code the redirect carries after the owner of ``organisation`` authorises the app."""
        self._organisation(organisation)
        code = secrets.token_urlsafe(32)
        self._codes[code] = (organisation, self.clock.time() + self.code_lifetime)
        return code

    def grant(self, organisation: int) -> str:
        """Authorise ``organisation`` without the code exchange and return a refresh token.

        This starts a new chain; the organisation's previous refresh tokens die.
        """
        self._organisation(organisation)
        return self._issued(self._chains.start(str(organisation)))

    def revoke(self, organisation: int) -> None:
        """The owner disconnects the app: refreshes fail, API calls answer 401."""
        self._chains.revoke(str(organisation))

    def url_for(self, resource: str) -> str:
        """The absolute list URL of ``resource``."""
        return f"{self.base_url}/api/v1/{check_resource(resource)}"

    def _issued(self, refresh: str) -> str:
        self._refresh_expiry[refresh] = self.clock.time() + self.refresh_lifetime
        return refresh

    # -- data ----------------------------------------------------------------------

    def expected(self, organisation: int, resource: str) -> dict[int, dict[str, Any]]:
        """Current records of ``resource`` in ``organisation``: id -> every field, as served."""
        table = self._organisation(organisation).table(resource)
        return {key: dict(rec) for key, rec in table.rows.items()}

    def mutate(self, organisation: int, resource: str, *, add: int = 0, change: int = 0, delete: int = 0) -> None:
        """Add, change and delete records as users would between two runs.

        See :meth:`replicator.testing.accounteer_data.OrganisationData.mutate`.
        """
        self._organisation(organisation).mutate(resource, add=add, change=change, delete=delete,
                                                now=self.clock.time())

    # -- token endpoint --------------------------------------------------------------

    def error_reply(self, status: int) -> Reply:
        if status in (502, 503, 504):
            return super().error_reply(status)
        return accounteer_error(status, "Internal Server Error")

    async def _handle_token(self, request: web.Request) -> web.StreamResponse:
        self.stats.requests[(None, request.path)] += 1
        fault = self.faults.take("fail_5xx", None, token=True)
        if fault is not None:
            return await self.send(request, self.error_reply(fault.status), None, api=False)
        params = dict(request.query)
        raw = await request.read()
        if raw:  # a form body, even on GET (the seed's curl -X GET -d ...)
            params.update(parse_qsl(raw.decode("utf-8", "replace")))
        reply = self._token(params, request.headers.get("Authorization", ""))
        return await self.send(request, reply, None, api=False)

    def _token(self, params: dict[str, str], authorization: str) -> Reply:
        client_id, client_secret = client_credentials(params, authorization)
        if client_id != self.client_id or client_secret != self.client_secret:
            return _oauth_error("invalid_client", "The client credentials are invalid")
        now = self.clock.time()
        grant_type = params.get("grant_type")
        if grant_type == "authorization_code":
            code = self._codes.get(params.get("code", ""))
            if code is None:
                return _oauth_error("invalid_grant", "Code doesn't exist or is invalid for the client")
            if params.get("redirect_uri") != self.redirect_uri:
                return _oauth_error("redirect_uri_mismatch", "The redirect URI is missing or do not match")
            del self._codes[params["code"]]
            if now >= code[1]:
                return _oauth_error("invalid_grant", "The authorization code has expired")
            organisation = code[0]
            refresh = self._issued(self._chains.start(str(organisation)))
        elif grant_type == "refresh_token":
            token = params.get("refresh_token", "")
            try:
                grant = self._chains.check(token)
            except RefreshTokenError:
                return _oauth_error("invalid_grant", "Invalid refresh token")
            if now >= self._refresh_expiry.get(token, math.inf):
                return _oauth_error("invalid_grant", "Refresh token has expired")
            organisation = int(grant)
            refresh = self._issued(self._chains.rotate(grant)) if self.rotating_refresh else token
        else:
            return _oauth_error("invalid_request", "Invalid grant_type parameter or parameter missing")
        owner = (organisation, self._chains.generation(str(organisation)))
        access = self._access.issue(owner, now + self.token_lifetime, now)
        self.stats.token_refreshes += 1
        return Reply.json(200, {"access_token": access, "expires_in": self.token_lifetime, "token_type": "bearer",
                                "scope": None, "refresh_token": refresh}, headers={"Cache-Control": "no-store"})

    # -- API -----------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        now = self.clock.time()
        owner = self._access.bearer(request.headers.get("Authorization", ""), now)
        if owner is not None and not self._chains.is_live(str(owner[0]), owner[1]):
            owner = None
        organisation = owner[0] if owner is not None else None
        self.stats.requests[(organisation, request.path)] += 1
        early = await self.infrastructure_faults(request, organisation)
        if early is not None:
            return early
        if organisation is None:
            body = {"error": "invalid_grant", "error_description": _INVALID_ACCESS}
            challenge = f'Bearer realm="Service", error="invalid_grant", error_description="{_INVALID_ACCESS}"'
            return await self.send(request, Reply.json(401, body, {"WWW-Authenticate": challenge}), None)
        reply = self._api(request, organisation)
        return await self.send(request, reply, organisation)

    def _api(self, request: web.Request, organisation: int) -> Reply:
        now = self.clock.time()
        if self.limiter is not None and not self.limiter.try_acquire(organisation, now):
            self.stats.rate_limited += 1
            wait = max(1, math.ceil(self.limiter.reset_at(now) - now))
            return accounteer_error(429, "Too Many Requests", {"Retry-After": str(wait)})
        self.stats.accepted(organisation, now)
        if request.method != "GET":
            return accounteer_error(405, f"Method {request.method} is not allowed here")
        resource = request.match_info["resource"]
        if resource not in RESOURCES:
            return accounteer_error(404, f"No route found for \"GET {request.path}\"")
        table = self._data[organisation].table(resource)
        key = request.match_info.get("id")
        if key is not None:
            rec = table.rows.get(int(key)) if key.isdigit() else None
            if rec is None:
                return accounteer_error(404, f"{resource} {key} not found")
            return Reply.json(200, rec if self.envelope == "bare" else {"data": rec})
        rows = table.ordered()
        if self.paging == "page":
            try:
                page = _positive(request.query, "page", 1)
                per_page = min(_positive(request.query, "per_page", self.default_per_page), self.max_per_page)
            except ValueError as exc:
                return accounteer_error(400, str(exc))
            rows = rows[(page - 1) * per_page: page * per_page]
        self.stats.pages_served += 1
        self.stats.records_served[resource] += len(rows)
        return Reply.json(200, rows if self.envelope == "bare" else {"data": rows})

    def __repr__(self) -> str:
        return (f"FakeAccounteerServer(base_url={self.base_url!r}, organisations={len(self.organisations)}, "
                f"envelope={self.envelope!r}, paging={self.paging!r}, {self.stats!r})")


__all__ = ["ENVELOPES", "PAGINGS", "Envelope", "FakeAccounteerServer", "Paging", "accounteer_error"]
