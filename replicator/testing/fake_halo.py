"""A fake HaloPSA server that behaves like the real API, on 127.0.0.1 only.

Every Halo customer is its own Halo instance with its own host; the fake serves
several tenants from one port under path prefixes, so ``tenant_url(tenant)``
(``http://127.0.0.1:<port>/<tenant>``) plays the part of ``https://<tenant>.halopsa.com``.
What it simulates (see ``PROVIDERS.md``, HaloPSA section, mostly [V]):

* **Token discovery**: ``GET {tenant_url}/api/authinfo`` (no auth) answers
  ``{"auth_url": "{tenant_url}/auth", "tenant_id": "<id>"}``; the token endpoint is
  ``POST {auth_url}/token?tenant=<tenant_id>``. Switch ``token_at_root`` makes
  ``auth_url`` the tenant URL itself, so the token lives at ``{tenant_url}/token``
  and ``/auth/token`` is a 404: clients must not hard-code the path.
* **Client credentials**: form-encoded ``grant_type=client_credentials``, the
  tenant's own client id and secret in the body or in HTTP Basic. **Without
  ``scope=all`` the token is issued but every API call answers 401.** Tokens
  expire after ``token_lifetime`` seconds (default 3600).
* **Lists** ``GET {tenant_url}/api/{Resource}`` (case-insensitive, as ASP.NET
  routes are): with ``pageinate=true&page_size=N&page_no=K`` (1-based) one page of
  ``{"record_count": total, "<key>": [...]}``; without ``pageinate`` everything at
  once. The ``*Details`` accounting endpoints answer a bare array and ignore the
  paging parameters. Records come in id order; see :mod:`replicator.testing.halo_data`.
* **Incremental**: ``lastupdatefromdate=<ISO>`` keeps records whose
  ``last_update`` is at or after it, on Client, Tickets, Site and Users only; every
  other endpoint silently ignores it (so ``/Invoice`` needs full scans).
* **Rate limit**: ``rate_limit`` (300) authenticated API calls per tenant in any
  rolling ``rate_window`` (300 s); beyond it 429 with a plain-text body and **no
  rate-limit headers and no Retry-After**. Refused calls do not use the budget.
* gzip when ``Accept-Encoding`` allows it; the faults of
  :class:`~replicator.testing.fakebase.FaultSwitches` (``tenant=`` filters by name).

Decisions for facts no public source gives ([?], all switchable or documented):
``hosted`` (default True) puts ``tenant_id`` in authinfo and makes ``?tenant=``
mandatory on the token call (400 ``invalid_request`` without it); ``hosted=False``
is a self-hosted instance (no ``tenant_id``, parameter ignored).
``max_page_size`` (default None) silently clamps larger pages, which breaks
``pages = ceil(record_count / page_size)``. ``page_size`` defaults to 50 when
``pageinate=true`` gives none; a ``page_no`` past the end is an empty page. A 401
has an empty body and ``WWW-Authenticate: Bearer``; bad paging values answer 400
``{"message": ...}``. Only authenticated calls to ``/api/{Resource}`` count
towards the rate limit (not authinfo, not the token endpoint, not 401s).
All time comes from the injected clock; data is deterministic per ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from aiohttp import web

from replicator.clock import Clock
from replicator.testing.exact_data import guid
from replicator.testing.fakebase import (
    AccessTokens,
    FakeServerBase,
    Reply,
    RollingWindowLimiter,
    client_credentials,
)
from replicator.testing.halo_data import (
    DETAIL_RECORDS,
    RESOURCES,
    RESOURCES_BY_PATH,
    HaloResource,
    TenantData,
    check_resource,
    parse_halo_time,
)

_T = TypeVar("_T")
_TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class _Token:
    tenant: str
    scoped: bool  # issued with scope=all: the only kind the API accepts


def _oauth_error(status: int, error: str, description: str | None = None) -> Reply:
    body = {"error": error} if description is None else {"error": error, "error_description": description}
    return Reply.json(status, body)


def _bad_request(message: str) -> Reply:
    return Reply.json(400, {"message": message})


_NOT_FOUND = Reply(404, b"Not Found", _TEXT)


class FakeHaloServer(FakeServerBase):
    """An aiohttp server on 127.0.0.1 that answers like several HaloPSA instances.

    Args:
        tenants: how many tenants (named ``halo1``, ``halo2``, ...) or their names.
        records: initial records per tenant: one number for the six main endpoints
            (each ``*Details`` endpoint then gets ``DETAIL_RECORDS``), or a dict by
            endpoint name (names left out get 0).
        clock: the clock for every time-based decision (default: system clock).
        seed: data seed; equal arguments give equal data.
        rate_limit: API calls per tenant per rolling ``rate_window``.
        rate_window: the rolling window in seconds.
        token_lifetime: access-token lifetime in seconds.
        default_page_size: page size when ``pageinate=true`` names none.
        max_page_size: clamp larger ``page_size`` values silently ([?]; None: no cap).
        token_at_root: serve the token at ``{tenant_url}/token`` (True: every tenant,
            or an iterable of tenant names).
        hosted: authinfo names a ``tenant_id`` that the token call must pass.
    """

    def __init__(
        self, *, tenants: int | Sequence[str] = 2, records: int | Mapping[str, int] = 50,
        clock: Clock | None = None, seed: int = 0, rate_limit: int = 300, rate_window: float = 300.0,
        token_lifetime: int = 3600, default_page_size: int = 50, max_page_size: int | None = None,
        token_at_root: bool | Iterable[str] = False, hosted: bool = True,
    ) -> None:
        super().__init__(clock=clock)
        names = [f"halo{i + 1}" for i in range(tenants)] if isinstance(tenants, int) else list(tenants)
        if not names or len(set(names)) != len(names) or any(not n or "/" in n for n in names):
            raise ValueError("tenants must be a positive number or distinct names without '/'")
        if isinstance(records, int):
            counts = {name: records if spec.key is not None else DETAIL_RECORDS
                      for name, spec in RESOURCES.items()}
        else:
            counts = {check_resource(name).name: n for name, n in records.items()}
            counts = {name: counts.get(name, 0) for name in RESOURCES}
        if min(counts.values()) < 0:
            raise ValueError("record counts must not be negative")
        self.seed = seed
        self.token_lifetime = token_lifetime
        self.default_page_size = default_page_size
        self.max_page_size = max_page_size
        self.hosted = hosted
        self.limiter = RollingWindowLimiter(rate_limit, rate_window)
        self._tenants = names
        self._counts = counts
        self._root_token = set(names) if token_at_root is True else set(token_at_root or ())
        if self._root_token - set(names):
            raise ValueError(f"token_at_root names unknown tenants: {sorted(self._root_token - set(names))}")
        self._data: dict[str, TenantData] = {}
        self._tokens: AccessTokens[_Token] = AccessTokens()

    def add_routes(self, app: web.Application) -> None:
        """Register authinfo, both token locations and the list endpoints."""
        app.router.add_get("/{tenant}/api/authinfo", self._handle_authinfo)
        app.router.add_post("/{tenant}/auth/token", self._handle_token)
        app.router.add_post("/{tenant}/token", self._handle_token)
        app.router.add_get("/{tenant}/api/{resource}", self._handle_list)

    # -- tenants and data ----------------------------------------------------

    @property
    def tenants(self) -> list[str]:
        """The tenant names, in order."""
        return list(self._tenants)

    def tenant_url(self, tenant: str) -> str:
        """The base URL of ``tenant`` (what a real tenant's host name would be)."""
        self._check(tenant)
        return f"{self.base_url}/{tenant}"

    def tenant_id(self, tenant: str) -> str:
        """The ``tenant_id`` authinfo gives for ``tenant`` (not its path name)."""
        self._check(tenant)
        return f"{tenant}-{guid(self.seed, 'halo-tenant', tenant)[:8]}"

    def credentials(self, tenant: str) -> tuple[str, str]:
        """The API client id and secret of ``tenant``."""
        self._check(tenant)
        return guid(self.seed, "halo-client", tenant), f"halo-secret-{guid(self.seed, 'halo-secret', tenant)}"

    def token_url(self, tenant: str) -> str:
        """The token endpoint of ``tenant``, query included, as authinfo leads to it."""
        auth_url = self.tenant_url(tenant) + ("" if tenant in self._root_token else "/auth")
        return f"{auth_url}/token" + (f"?tenant={self.tenant_id(tenant)}" if self.hosted else "")

    def url_for(self, tenant: str, resource: str) -> str:
        """The absolute URL of ``resource`` in ``tenant`` (no query)."""
        return f"{self.tenant_url(tenant)}/api/{check_resource(resource).name}"

    def expected(self, tenant: str, resource: str) -> dict[int, dict[str, Any]]:
        """Current records of ``resource`` in ``tenant``: id -> record, as served."""
        return self._tenant_data(tenant).expected(resource)

    def mutate(self, tenant: str, resource: str, *, add: int = 0, change: int = 0, delete: int = 0) -> None:
        """Add, change and delete records; see :meth:`replicator.testing.halo_data.TenantData.mutate`."""
        self._tenant_data(tenant).mutate(resource, add=add, change=change, delete=delete, now=self.clock.time())

    def secret_values(self, tenant: str) -> set[str]:
        """Every secret the ``*Details`` records of ``tenant`` hold, to check they are never logged."""
        return self._tenant_data(tenant).secret_values()

    def spend(self, tenant: str, calls: int) -> None:
        """Another client of the same tenant used ``calls`` of its rolling window now."""
        self._check(tenant)
        self.limiter.spend(tenant, self.clock.time(), calls)

    def _check(self, tenant: str) -> None:
        if tenant not in self._tenants:
            raise ValueError(f"unknown tenant {tenant!r}; have {self._tenants}")

    def _tenant_data(self, tenant: str) -> TenantData:
        data = self._data.get(tenant)
        if data is None:
            self._check(tenant)
            data = self._data[tenant] = TenantData(self.seed, tenant, self._counts)
        return data

    def _tenant_of(self, request: web.Request) -> str | None:
        tenant = request.match_info["tenant"]
        found = tenant if tenant in self._tenants else None
        self.stats.requests[(found, request.path)] += 1
        return found

    # -- discovery and tokens ------------------------------------------------

    async def _handle_authinfo(self, request: web.Request) -> web.StreamResponse:
        tenant = self._tenant_of(request)
        if tenant is None:
            return await self.send(request, _NOT_FOUND, None)
        early = await self.infrastructure_faults(request, tenant)
        if early is not None:
            return early
        base = self.tenant_url(tenant)
        body: dict[str, str] = {"auth_url": base if tenant in self._root_token else f"{base}/auth"}
        if self.hosted:
            body["tenant_id"] = self.tenant_id(tenant)
        return await self.send(request, Reply.json(200, body), tenant)

    async def _handle_token(self, request: web.Request) -> web.StreamResponse:
        tenant = self._tenant_of(request)
        at_root = not request.path.endswith("/auth/token")
        if tenant is None or at_root != (tenant in self._root_token):
            return await self.send(request, _NOT_FOUND, tenant, api=False)
        fault = self.faults.take("fail_5xx", tenant, token=True)
        if fault is not None:
            return await self.send(request, self.error_reply(fault.status), tenant, api=False)
        form = await request.post()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        reply = self._grant(tenant, fields, request.query.get("tenant"), request.headers.get("Authorization", ""))
        return await self.send(request, reply, tenant, api=False)

    def _grant(self, tenant: str, form: dict[str, str], tenant_param: str | None, authorization: str) -> Reply:
        if self.hosted and tenant_param != self.tenant_id(tenant):
            return _oauth_error(400, "invalid_request", f"Unknown tenant {tenant_param!r}")
        if client_credentials(form, authorization) != self.credentials(tenant):
            return _oauth_error(401, "invalid_client")
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type")
        scope = form.get("scope", "")
        now = self.clock.time()
        # Halo's trap: a token without scope=all is issued all the same, and then
        # refused by every API call.
        token = self._tokens.issue(_Token(tenant, "all" in scope.split()), now + self.token_lifetime, now)
        self.stats.token_refreshes += 1
        body = {"scope": scope, "token_type": "Bearer", "access_token": token, "expires_in": self.token_lifetime}
        return Reply.json(200, body, {"Cache-Control": "no-store"})

    # -- lists ---------------------------------------------------------------

    async def _handle_list(self, request: web.Request) -> web.StreamResponse:
        tenant = self._tenant_of(request)
        if tenant is None:
            return await self.send(request, _NOT_FOUND, None)
        early = await self.infrastructure_faults(request, tenant)
        if early is not None:
            return early
        return await self.send(request, self._list(request, tenant), tenant)

    def _list(self, request: web.Request, tenant: str) -> Reply:
        now = self.clock.time()
        owner = self._tokens.bearer(request.headers.get("Authorization", ""), now)
        if owner is None or owner.tenant != tenant or not owner.scoped:
            return Reply(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if not self.limiter.try_acquire(tenant, now):
            self.stats.rate_limited += 1
            return Reply(429, b"Too Many Requests", _TEXT)  # and not one header about it
        self.stats.accepted(tenant, now)
        spec = RESOURCES_BY_PATH.get(request.match_info["resource"].lower())
        if spec is None:
            return _NOT_FOUND
        try:
            return self._page(request, tenant, spec)
        except ValueError as exc:
            return _bad_request(str(exc))

    def _page(self, request: web.Request, tenant: str, spec: HaloResource) -> Reply:
        query = request.query
        records = list(self._tenant_data(tenant).table(spec.name).values())
        if spec.incremental and "lastupdatefromdate" in query:
            since = _parse(query["lastupdatefromdate"], parse_halo_time, "lastupdatefromdate")
            records = [rec for rec in records if parse_halo_time(rec["last_update"]) >= since]
        self.stats.pages_served += 1
        if spec.key is None:  # the accounting endpoints know no paging
            self.stats.records_served[spec.name] += len(records)
            return Reply(200, orjson.dumps(records))
        total = len(records)
        if query.get("pageinate", "").lower() == "true":
            size = _parse(query.get("page_size", str(self.default_page_size)), int, "page_size")
            page_no = _parse(query.get("page_no", "1"), int, "page_no")
            if size < 1 or page_no < 1:
                raise ValueError("page_size and page_no must be positive")
            if self.max_page_size is not None:
                size = min(size, self.max_page_size)
            records = records[(page_no - 1) * size: page_no * size]
        self.stats.records_served[spec.name] += len(records)
        return Reply(200, orjson.dumps({"record_count": total, spec.key: records}))

    def __repr__(self) -> str:
        return f"FakeHaloServer(base_url={self.base_url!r}, tenants={self._tenants}, {self.stats!r})"


def _parse(text: str, parse: Callable[[str], _T], name: str) -> _T:
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f"invalid {name}: {text!r}") from None


__all__ = ["FakeHaloServer"]
