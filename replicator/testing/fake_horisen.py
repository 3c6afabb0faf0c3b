"""A fake HORISEN Finance Documents API, on 127.0.0.1 only.

HORISEN is white-labelled: each tenant may live on its own host. The fake serves
several tenants from one port under path prefixes, so ``tenant_url(tenant)``
(``http://127.0.0.1:<port>/<tenant>``) stands for a base such as
``https://api.horisen.pro/finance/sit/v1``. What it simulates (``PROVIDERS.md``,
HORISEN section, and the seed):

* **Client credentials** at ``POST {tenant_url}/oauth2/access-token``, form-encoded,
  the tenant's client id and secret in the body or in HTTP Basic; a bearer token
  that expires after ``token_lifetime`` seconds.
* **Documents** at ``GET {tenant_url}/documents-export`` and the older
  ``POST {tenant_url}/document-export`` (which also reads its parameters from a
  form or JSON body): ``{"data": [documents with nested "items"], "meta":
  {"pagination": {"total", "totalPages", "currentPage", "perPage", "count"}}}``.
  Paging by ``page_number`` (default 1) and ``page_size`` (default 10), or
  ``paging=n,size``; filters ``op(field)=value`` and ``sort=-a,b`` as
  :func:`replicator.testing.horisen_data.select` implements them.
* **Errors** with the seed's codes and statuses: 401 ``NOT_AUTHENTICATED`` (no or
  a dead token), 401 ``NOT_AUTHORIZED`` (another tenant's token), 400
  ``BAD_PARAM_PAGE_NUMBER`` / ``BAD_PARAM_PAGE_SIZE``, 404 ``BAD_PARAM``.
* gzip when ``Accept-Encoding`` allows it, and the faults of
  :class:`~replicator.testing.fakebase.FaultSwitches` (``tenant=`` by name).

Switches for what no source says ([?]):

* ``max_page_size`` (100): a larger ``page_size`` is 400 ``BAD_PARAM_PAGE_SIZE``.
* ``page_past_end``: ``"empty"`` (default) serves an empty ``data`` for a page
  number past the last page; ``"error"`` answers 400 ``BAD_PARAM_PAGE_NUMBER``.
* ``error_shape``: the seed says "List of errors": ``"errors"`` (default)
  ``{"errors": [{"code", "message"}]}``, ``"list"`` a bare array of those,
  ``"flat"`` one ``{"code", "message"}`` object.
* ``rate_limit`` (default None: off): calls per tenant per clock-aligned
  ``rate_window`` seconds, then 429 ``TOO_MANY_REQUESTS`` without headers.
* ``modified_field`` (default ``statusDt``): the date-time every change moves.
* ``paging`` wins over ``page_number``/``page_size`` when both are sent;
  ``totalPages`` is at least 1, as in the Fractal paginator this envelope comes from.

All time comes from the injected clock; data is deterministic per ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import orjson
from aiohttp import web

from replicator.clock import Clock
from replicator.testing.exact_data import guid
from replicator.testing.fakebase import (
    AccessTokens,
    FakeServerBase,
    FixedWindowLimiter,
    Reply,
    client_credentials,
)
from replicator.testing.horisen_data import QueryError, TenantDocuments, counts, select

ErrorShape = Literal["errors", "list", "flat"]
_RESOURCE = "documents"


class FakeHorisenServer(FakeServerBase):
    """An aiohttp server on 127.0.0.1 that answers like HORISEN's Finance Documents API.

    Args:
        tenants: how many tenants (named ``horisen1``, ...) or their names.
        records: initial documents per tenant: one number, or a dict by tenant.
        clock: the clock for every time-based decision (default: system clock).
        seed: data seed; equal arguments give equal data.
        token_lifetime: access-token lifetime in seconds.
        max_page_size: the largest ``page_size`` accepted.
        page_past_end: what a page number past the last page gets.
        error_shape: how error bodies look.
        rate_limit: calls per tenant per ``rate_window`` (None: unlimited).
        rate_window: the clock-aligned window in seconds.
        modified_field: the date-time field every change moves.
    """

    def __init__(
        self, *, tenants: int | Sequence[str] = 2, records: int | Mapping[str, int] = 25,
        clock: Clock | None = None, seed: int = 0, token_lifetime: int = 3600, max_page_size: int = 100,
        page_past_end: Literal["empty", "error"] = "empty", error_shape: ErrorShape = "errors",
        rate_limit: int | None = None, rate_window: float = 60.0, modified_field: str = "statusDt",
    ) -> None:
        super().__init__(clock=clock)
        names = [f"horisen{i + 1}" for i in range(tenants)] if isinstance(tenants, int) else list(tenants)
        if not names or len(set(names)) != len(names) or any(not n or "/" in n for n in names):
            raise ValueError("tenants must be a positive number or distinct names without '/'")
        initial = counts(names, records)
        if min(initial.values()) < 0:
            raise ValueError("record counts must not be negative")
        self.seed = seed
        self.token_lifetime = token_lifetime
        self.max_page_size = max_page_size
        self.page_past_end = page_past_end
        self.error_shape: ErrorShape = error_shape
        self.modified_field = modified_field
        self.limiter = FixedWindowLimiter(rate_limit, rate_window) if rate_limit is not None else None
        self._tenants = names
        self._data = {name: TenantDocuments(seed, name, initial[name], modified_field) for name in names}
        self._tokens: AccessTokens[str] = AccessTokens()

    def add_routes(self, app: web.Application) -> None:
        """Register the token endpoint and both document-export endpoints."""
        app.router.add_post("/{tenant}/oauth2/access-token", self._handle_token)
        app.router.add_get("/{tenant}/documents-export", self._handle_export)
        app.router.add_post("/{tenant}/document-export", self._handle_export)

    # -- tenants and data ----------------------------------------------------

    @property
    def tenants(self) -> list[str]:
        """The tenant names, in order."""
        return list(self._tenants)

    def tenant_url(self, tenant: str) -> str:
        """The API base URL of ``tenant`` (its white-label host in reality)."""
        self._check(tenant)
        return f"{self.base_url}/{tenant}"

    def credentials(self, tenant: str) -> tuple[str, str]:
        """The client id and secret of ``tenant``."""
        self._check(tenant)
        return f"hz-{guid(self.seed, 'horisen-client', tenant)[:13]}", guid(self.seed, "horisen-secret", tenant)

    def token_url(self, tenant: str) -> str:
        """The token endpoint of ``tenant``."""
        return f"{self.tenant_url(tenant)}/oauth2/access-token"

    def url_for(self, tenant: str, resource: str = _RESOURCE) -> str:
        """The absolute URL of the documents export of ``tenant``."""
        _check_resource(resource)
        return f"{self.tenant_url(tenant)}/documents-export"

    def expected(self, tenant: str, resource: str = _RESOURCE) -> dict[int, dict[str, Any]]:
        """Current documents of ``tenant`` by id, items nested exactly as served."""
        _check_resource(resource)
        self._check(tenant)
        return self._data[tenant].expected()

    def mutate(self, tenant: str, resource: str = _RESOURCE, *, add: int = 0, change: int = 0,
               delete: int = 0) -> None:
        """Add, change and delete documents; see :meth:`TenantDocuments.mutate`."""
        _check_resource(resource)
        self._check(tenant)
        self._data[tenant].mutate(add=add, change=change, delete=delete, now=self.clock.time())

    def spend(self, tenant: str, calls: int) -> None:
        """Another client of ``tenant`` used ``calls`` of the current window (rate limit on only)."""
        self._check(tenant)
        if self.limiter is None:
            raise RuntimeError("the rate limit is off (rate_limit=None)")
        self.limiter.spend(tenant, self.clock.time(), calls)

    def _check(self, tenant: str) -> None:
        if tenant not in self._data:
            raise ValueError(f"unknown tenant {tenant!r}; have {self._tenants}")

    def _tenant_of(self, request: web.Request) -> str | None:
        tenant = request.match_info["tenant"]
        found = tenant if tenant in self._data else None
        self.stats.requests[(found, request.path)] += 1
        return found

    def _error(self, status: int, code: str, message: str) -> Reply:
        entry = {"code": code, "message": message}
        body: Any = entry if self.error_shape == "flat" else [entry]
        return Reply.json(status, {"errors": body} if self.error_shape == "errors" else body)

    # -- token -------------------------------------------------------------------

    async def _handle_token(self, request: web.Request) -> web.StreamResponse:
        tenant = self._tenant_of(request)
        if tenant is None:
            return await self.send(request, self._error(404, "NOT_FOUND", "Not found"), None, api=False)
        fault = self.faults.take("fail_5xx", tenant, token=True)
        if fault is not None:
            return await self.send(request, self.error_reply(fault.status), tenant, api=False)
        form = await request.post()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if client_credentials(fields, request.headers.get("Authorization", "")) != self.credentials(tenant):
            reply = Reply.json(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
        elif fields.get("grant_type") != "client_credentials":
            reply = Reply.json(400, {"error": "unsupported_grant_type"})
        else:
            now = self.clock.time()
            token = self._tokens.issue(tenant, now + self.token_lifetime, now)
            self.stats.token_refreshes += 1
            reply = Reply.json(200, {"token_type": "Bearer", "expires_in": self.token_lifetime,
                                     "access_token": token}, {"Cache-Control": "no-store"})
        return await self.send(request, reply, tenant, api=False)

    # -- documents -------------------------------------------------------------

    async def _handle_export(self, request: web.Request) -> web.StreamResponse:
        tenant = self._tenant_of(request)
        if tenant is None:
            return await self.send(request, self._error(404, "NOT_FOUND", "Not found"), None)
        early = await self.infrastructure_faults(request, tenant)
        if early is not None:
            return early
        params = list(request.query.items())
        if request.method == "POST":
            params += await _body_params(request)
        return await self.send(request, self._export(request, tenant, params), tenant)

    def _export(self, request: web.Request, tenant: str, params: list[tuple[str, str]]) -> Reply:
        now = self.clock.time()
        owner = self._tokens.bearer(request.headers.get("Authorization", ""), now)
        if owner is None:
            return self._error(401, "NOT_AUTHENTICATED", "Not authenticated")
        if owner != tenant:
            return self._error(401, "NOT_AUTHORIZED", "Not authorized")
        if self.limiter is not None and not self.limiter.try_acquire(tenant, now):
            self.stats.rate_limited += 1
            return self._error(429, "TOO_MANY_REQUESTS", "Too many requests")
        self.stats.accepted(tenant, now)
        try:
            number, size = self._paging(dict(params))
            docs = select(self._data[tenant].documents.values(), params, modified_field=self.modified_field)
        except QueryError as exc:
            return self._error(exc.status, exc.code, exc.message)
        total = len(docs)
        pages = max(1, math.ceil(total / size))
        if number > pages and self.page_past_end == "error":
            return self._error(400, "BAD_PARAM_PAGE_NUMBER",
                               f"Bad parameter 'page_number': value must be less than or equal to {pages}")
        page = docs[(number - 1) * size: number * size]
        self.stats.pages_served += 1
        self.stats.records_served[_RESOURCE] += len(page)
        meta = {"pagination": {"total": total, "totalPages": pages, "currentPage": number, "perPage": size,
                               "count": len(page)}}
        return Reply(200, orjson.dumps({"data": page, "meta": meta}))

    def _paging(self, params: dict[str, str]) -> tuple[int, int]:
        number_text, size_text = params.get("page_number", "1"), params.get("page_size", "10")
        if "paging" in params:
            number_text, _, size_text = params["paging"].partition(",")
        number, size = _int(number_text), _int(size_text)
        if number is None or number < 1:
            raise QueryError(400, "BAD_PARAM_PAGE_NUMBER", "Bad parameter 'page_number': value must be greather than 0")
        if size is None or size < 1:
            raise QueryError(400, "BAD_PARAM_PAGE_SIZE", "Bad parameter 'page_size': value : must be greather than 0")
        if size > self.max_page_size:
            raise QueryError(400, "BAD_PARAM_PAGE_SIZE",
                             f"Bad parameter 'page_size': value must be less than or equal to {self.max_page_size}")
        return number, size

    def __repr__(self) -> str:
        return f"FakeHorisenServer(base_url={self.base_url!r}, tenants={self._tenants}, {self.stats!r})"


def _check_resource(resource: str) -> None:
    if resource != _RESOURCE:
        raise ValueError(f"unknown HORISEN resource {resource!r}; expected {_RESOURCE!r}")


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


async def _body_params(request: web.Request) -> list[tuple[str, str]]:
    """Parameters of the older ``POST /document-export``: a form or a JSON object."""
    if request.content_type == "application/json":
        try:
            body = await request.json(loads=orjson.loads)
        except orjson.JSONDecodeError:
            return []
        if not isinstance(body, dict):
            return []
        return [(k, ",".join(map(str, v)) if isinstance(v, list) else str(v)) for k, v in body.items()]
    form = await request.post()
    return [(k, v) for k, v in form.items() if isinstance(v, str)]


__all__ = ["FakeHorisenServer"]
