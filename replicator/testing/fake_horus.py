"""A fake Horus Office server, on 127.0.0.1 only.

What it simulates (see ``PROVIDERS.md``, Horus section; little is verified beyond
the seed, so many behaviours below are switches):

* **One OAuth client, many licences.** Each licence (a fiduciary's customer
  database) has its own API base URL, served here under a path prefix:
  :meth:`FakeHorusServer.licence_url` -> ``{base_url}/licences/{id}``.
  :meth:`FakeHorusServer.authorize` returns what the OAuth callback would carry
  (``code`` and ``api_url``); the code lives ``code_lifetime`` seconds (2 minutes
  in the seed) and is single use.
* **Tokens** at ``POST {api_url}/oauth2/access_token``, form-encoded,
  ``grant_type=auth_code`` (sic, the seed's value) or ``refresh_token``. Access
  tokens live an hour and work only on their own licence; refresh tokens are
  single use and rotate (seed); presenting an old one kills the grant as Exact
  does [?: what Horus really does on reuse is unknown].
  Authorising a licence again starts a new chain and kills the old one.
* **JSON-RPC-style calls** ``{api_url}/{resource}.{action}``: ``.list`` is POST
  with a JSON body (``FolderId``, ``Mode``, ``ModifiedAfter``, ``Include``,
  ``Page``, ``PageSize``), ``.info``, ``licenses.me`` and ``users.me`` are GET;
  every read is wrapped in ``{"Data": ...}``. Sideloading answers an
  ``Included`` object keyed by type with each entity once per response.
* **Paging [?]** is the switch :attr:`FakeHorusServer.paging_mode`:
  ``"object"`` (``Page``/``PageSize`` honoured, a ``Paging`` object with
  ``Page``, ``PageSize``, ``TotalPages``, ``TotalCount``), ``"full_pages"``
  (honoured, no paging object: the client stops on a short or empty page) and
  ``"all_at_once"`` (paging ignored: every matching record in one response,
  whatever ``Page`` says). ``PageSize`` is capped at ``max_page_size`` [?].
* **Rate limit [?]**: none by default; ``rate_limit=(calls, seconds)`` arms a
  clock-aligned window per licence answering 429 with ``Retry-After``.
* **Gzip [?]**: a response is gzipped when the request has ``Accept-Encoding:
  gzip`` *or* ``Content-Encoding: gzip`` (the seed's advice); gzipped request
  bodies are accepted.
* **Errors** ``{"ErrorType": ..., "Details": ..., "Message": ...}``: ``not_found``
  (404: unknown licence, folder, record or endpoint; the seed's one example),
  ``invalid_request`` (400), ``unauthorized`` (401), ``method_not_allowed`` (405),
  ``too_many_requests`` (429), ``internal_error`` (5xx) [?: only ``not_found`` is
  documented]. The token endpoint answers RFC 6749 errors ``{"error": ...}``.

The tenant key for faults, statistics and the rate limit is the licence id.
Infrastructure faults (:class:`~replicator.testing.fakebase.FaultSwitches`) and
statistics come from :mod:`replicator.testing.fakebase`; the data from
:mod:`replicator.testing.horus_data`. All time comes from the injected clock.
"""

from __future__ import annotations

import math
import secrets
from typing import Any, Literal, get_args

import orjson
from aiohttp import web
from multidict import CIMultiDict

from replicator.clock import Clock
from replicator.testing.exact_data import guid
from replicator.testing.fakebase import (
    AccessTokens,
    FakeServerBase,
    FixedWindowLimiter,
    RefreshTokenChains,
    RefreshTokenError,
    Reply,
    client_credentials,
)
from replicator.testing.horus_data import (
    FOLDER_RESOURCES,
    REFERENCE_FIELDS,
    RESOURCES,
    HorusQueryError,
    LicenceData,
    ListQuery,
    check_resource,
    parse_list_body,
)

PagingMode = Literal["object", "full_pages", "all_at_once"]
PAGING_MODES: tuple[str, ...] = get_args(PagingMode)
_TOKEN_CALL = "oauth2/access_token"


def horus_error(status: int, error_type: str, message: str, details: Any = None,
                headers: dict[str, str] | None = None) -> Reply:
    """A Horus error reply: ``{"ErrorType", "Details", "Message"}``."""
    return Reply.json(status, {"ErrorType": error_type, "Details": details, "Message": message}, headers)


def _oauth_error(error: str, description: str) -> Reply:
    return Reply.json(400, {"error": error, "error_description": description})


class FakeHorusServer(FakeServerBase):
    """An aiohttp server on 127.0.0.1 that answers like Horus Office for several licences.

    Args:
        licences: how many licences (customer databases) the fake hosts.
        folders: folders per licence at the start.
        records: initial records per folder per resource: one number for all, or a
            dict by resource name (``companies``, ``book-entries``,
            ``account-histories``, ``invoices.sales.outstanding``; names left out get 0).
        clock: the clock for every time-based decision (default: system clock).
        seed: data seed; equal arguments give identical data.
        client_id: the app's OAuth client id.
        client_secret: the app's OAuth client secret.
        redirect_uri: the registered redirect URI; a code exchange that sends a
            different one is refused.
        token_lifetime: access-token lifetime in seconds.
        code_lifetime: authorisation-code lifetime in seconds.
        paging_mode: see :attr:`paging_mode`.
        default_page_size: records per page when the body has no ``PageSize``.
        max_page_size: the cap on ``PageSize``.
        rate_limit: ``(calls, seconds)`` per licence per clock-aligned window, or
            ``None`` for no limit.

    Attributes:
        licences: the licence ids, in order.
    """

    def __init__(
        self, *, licences: int = 2, folders: int = 3, records: int | dict[str, int] = 20,
        clock: Clock | None = None, seed: int = 0, client_id: str = "ck_fakehorus",
        client_secret: str = "cs_fakehorus", redirect_uri: str = "https://app.example/oauth/callback",
        token_lifetime: int = 3600, code_lifetime: float = 120.0, paging_mode: PagingMode = "object",
        default_page_size: int = 100, max_page_size: int = 500, rate_limit: tuple[int, float] | None = None,
    ) -> None:
        super().__init__(clock=clock)
        if isinstance(records, int):
            counts = dict.fromkeys(FOLDER_RESOURCES, records)
        else:
            for name in records:
                if name not in FOLDER_RESOURCES:
                    raise ValueError(f"unknown resource {name!r}; valid: {', '.join(FOLDER_RESOURCES)}")
            counts = {name: records.get(name, 0) for name in FOLDER_RESOURCES}
        if licences < 1 or folders < 0 or min(counts.values()) < 0:
            raise ValueError("licences must be positive, folder and record counts not negative")
        if not 1 <= default_page_size <= max_page_size:
            raise ValueError("need 1 <= default_page_size <= max_page_size")
        self.seed = seed
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.token_lifetime = token_lifetime
        self.code_lifetime = code_lifetime
        self.paging_mode = paging_mode
        self.default_page_size = default_page_size
        self.max_page_size = max_page_size
        self.limiter = FixedWindowLimiter(*rate_limit) if rate_limit is not None else None
        self.licences = [f"lic{i + 1:03d}" for i in range(licences)]
        self._data = {lic: LicenceData(seed, lic, folders, counts) for lic in self.licences}
        self._codes: dict[str, tuple[str, float]] = {}
        self._chains = RefreshTokenChains(prefix="hr_")
        self._access: AccessTokens[tuple[str, int]] = AccessTokens()

    @property
    def paging_mode(self) -> PagingMode:
        """How lists page [?]: ``"object"``, ``"full_pages"`` or ``"all_at_once"`` (settable)."""
        return self._paging_mode

    @paging_mode.setter
    def paging_mode(self, mode: PagingMode) -> None:
        if mode not in PAGING_MODES:
            raise ValueError(f"unknown paging mode {mode!r}; valid: {', '.join(PAGING_MODES)}")
        self._paging_mode = mode

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/licences/{licence}/{call:.+}", self._handle)

    # -- OAuth helpers for tests -------------------------------------------

    def licence_url(self, licence: str) -> str:
        """The API base URL of ``licence`` (the callback's ``api_url``); valid once started."""
        self._licence(licence)
        return f"{self.base_url}/licences/{licence}"

    def authorize(self, licence: str, state: str | None = None) -> dict[str, str]:
        """What the OAuth callback carries after a person authorises ``licence``.

        Returns:
            ``{"code": ..., "api_url": ...}`` plus ``state`` when one is given.
        """
        self._licence(licence)
        code = secrets.token_urlsafe(12)
        self._codes[code] = (licence, self.clock.time() + self.code_lifetime)
        answer = {"code": code, "api_url": self.licence_url(licence)}
        if state is not None:
            answer["state"] = state
        return answer

    def grant(self, licence: str) -> tuple[str, str]:
        """Authorise ``licence`` without the code exchange: ``(api_url, refresh_token)``.

        Like a person authorising again, this kills the licence's previous chain.
        """
        self._licence(licence)
        return self.licence_url(licence), self._chains.start(licence)

    def revoke(self, licence: str) -> None:
        """The user uninstalls the integration: refreshes fail, API calls answer 401."""
        self._chains.revoke(licence)

    # -- data ----------------------------------------------------------------

    def _licence(self, licence: str) -> LicenceData:
        data = self._data.get(licence)
        if data is None:
            raise ValueError(f"unknown licence {licence!r}; have {self.licences}")
        return data

    def folder_ids(self, licence: str, *, mine: bool = False) -> list[str]:
        """Folder Ids of ``licence`` in serving order (``mine``: what ``Mode`` 1 lists)."""
        data = self._licence(licence)
        return [rec["Id"] for rec in data.folders.ordered()
                if not mine or rec["ResponsibleUserId"] == data.user_id]

    def expected(self, licence: str, folder: str | None, resource: str) -> dict[str, dict[str, Any]]:
        """Current records of ``resource``: Id -> every field, as served.

        ``folder`` is ignored for ``folders`` (which lists every folder, ``Mode`` 0).
        """
        return self._licence(licence).table(folder, resource).snapshot()

    def expected_included(self, licence: str, folder: str, resource: str,
                          type_name: str) -> dict[str, dict[str, Any]]:
        """The ``type_name`` entities a full listing of ``resource`` sideloads: Id -> record.

        The union over every page; a reference to a deleted entity sideloads nothing.
        """
        spec = check_resource(resource)
        if spec.includes is None or type_name not in spec.includes.values():
            raise ValueError(f"{resource} cannot sideload {type_name!r}")
        data = self._licence(licence)
        rows = data.table(folder, resource).ordered()
        return {key: dict(rec) for key, rec in self._sideload(data, folder, rows, type_name)}

    def mutate(self, licence: str, folder: str | None, resource: str, *, add: int = 0, change: int = 0,
               delete: int = 0) -> None:
        """Add, change and delete records as users would between two runs.

        See :meth:`replicator.testing.horus_data.LicenceData.mutate`; ``folder`` is
        ``None`` to mutate the folders themselves.
        """
        self._licence(licence).mutate(folder, resource, add=add, change=change, delete=delete,
                                      now=self.clock.time())

    # -- the wire ------------------------------------------------------------

    def error_reply(self, status: int) -> Reply:
        if status in (502, 503, 504):
            return super().error_reply(status)
        return horus_error(status, "internal_error", "An unexpected error occurred.")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        # The seed tells clients to send "Content-Encoding: gzip" to get compressed
        # answers; honour that as if it were Accept-Encoding [?]. (A request can only
        # be cloned before its body is read.)
        if ("gzip" in request.headers.get("Content-Encoding", "").lower()
                and "gzip" not in request.headers.get("Accept-Encoding", "").lower()):
            headers = CIMultiDict(request.headers)
            headers["Accept-Encoding"] = "gzip"
            request = request.clone(headers=headers)
        licence, call = request.match_info["licence"], request.match_info["call"]
        self.stats.requests[(licence, request.path)] += 1
        if licence not in self._data:
            return await self.send(request, horus_error(404, "not_found", "Unknown API url",
                                                        {"Licence": licence}), None)
        if call == _TOKEN_CALL:
            return await self._handle_token(request, licence)
        early = await self.infrastructure_faults(request, licence)
        if early is not None:
            return early
        try:
            reply = await self._api(request, licence, call)
        except HorusQueryError as exc:
            reply = horus_error(exc.status, exc.error_type, str(exc), exc.details)
        return await self.send(request, reply, licence)

    # -- token endpoint ------------------------------------------------------

    async def _handle_token(self, request: web.Request, licence: str) -> web.StreamResponse:
        fault = self.faults.take("fail_5xx", licence, token=True)
        if fault is not None:
            return await self.send(request, self.error_reply(fault.status), licence, api=False)
        if request.method != "POST":
            reply = _oauth_error("invalid_request", "The token endpoint takes POST")
        else:
            form = await request.post()
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            reply = self._token(licence, fields, request.headers.get("Authorization", ""))
        return await self.send(request, reply, licence, api=False)

    def _token(self, licence: str, form: dict[str, str], authorization: str) -> Reply:
        client_id, client_secret = client_credentials(form, authorization)
        if client_id != self.client_id or client_secret != self.client_secret:
            return Reply.json(401, {"error": "invalid_client", "error_description": "Unknown client"})
        grant_type = form.get("grant_type")
        now = self.clock.time()
        if grant_type == "auth_code":
            code = self._codes.pop(form.get("code", ""), None)  # single use, even when refused
            if code is None or code[0] != licence:
                return _oauth_error("invalid_grant", "The authorization code is invalid")
            if now >= code[1]:
                return _oauth_error("invalid_grant", "The authorization code has expired")
            if form.get("redirect_uri", self.redirect_uri) != self.redirect_uri:
                return _oauth_error("invalid_grant", "The redirect_uri does not match")
            refresh = self._chains.start(licence)
        elif grant_type == "refresh_token":
            try:
                owner = self._chains.check(form.get("refresh_token", ""))
            except RefreshTokenError as exc:
                text = {"unknown": "The refresh token is invalid", "revoked": "The grant has been revoked",
                        "reused": "The refresh token has already been used"}[exc.reason]
                return _oauth_error("invalid_grant", text)
            if owner != licence:
                return _oauth_error("invalid_grant", "The refresh token belongs to another licence")
            refresh = self._chains.rotate(licence)
        else:
            return _oauth_error("unsupported_grant_type", "grant_type must be auth_code or refresh_token")
        access = self._access.issue((licence, self._chains.generation(licence)), now + self.token_lifetime, now)
        self.stats.token_refreshes += 1
        return Reply.json(200, {"token_type": "Bearer", "expires_in": self.token_lifetime,
                                "access_token": access, "refresh_token": refresh},
                          headers={"Cache-Control": "no-store"})

    # -- API -------------------------------------------------------------------

    async def _api(self, request: web.Request, licence: str, call: str) -> Reply:
        owner = self._access.bearer(request.headers.get("Authorization", ""), self.clock.time())
        if owner is None or owner[0] != licence or not self._chains.is_live(*owner):
            return horus_error(401, "unauthorized", "The access token is missing, expired or invalid",
                               headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if self.limiter is not None and not self.limiter.try_acquire(licence, self.clock.time()):
            self.stats.rate_limited += 1
            wait = math.ceil(self.limiter.reset_at(self.clock.time()) - self.clock.time())
            return horus_error(429, "too_many_requests", "Rate limit exceeded", None,
                               {"Retry-After": str(max(1, wait))})
        self.stats.accepted(licence, self.clock.time())
        data = self._data[licence]
        resource, _, action = call.rpartition(".")
        if call in ("licenses.me", "users.me"):
            self._method(request, "GET", call)
            return self._me(data, call)
        spec = RESOURCES.get(resource)
        if spec is None or action not in ("list", "info"):
            raise HorusQueryError(404, "not_found", f"Unknown endpoint /{call}", {"Endpoint": call})
        if action == "info":
            self._method(request, "GET", call)
            return self._info(data, spec.name, request)
        self._method(request, "POST", call)
        try:
            raw = await request.read()
        except web.RequestPayloadError:
            raise HorusQueryError(400, "invalid_request", "The request body could not be decoded") from None
        try:
            body = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError:
            raise HorusQueryError(400, "invalid_request", "The request body is not valid JSON") from None
        return self._list(data, spec.name, parse_list_body(spec, body))

    @staticmethod
    def _method(request: web.Request, method: str, call: str) -> None:
        if request.method != method:
            raise HorusQueryError(405, "method_not_allowed", f"/{call} takes {method}",
                                  {"Method": request.method})

    def _me(self, data: LicenceData, call: str) -> Reply:
        if call == "users.me":
            user = {"Id": data.user_id, "Name": f"User of {data.licence}",
                    "Email": f"user@{data.licence}.example"}
            return Reply.json(200, {"Data": user})
        licence = {"Id": guid(self.seed, data.licence, "licence"), "Name": f"Fiduciary {data.licence}",
                   "ApiUrl": self.licence_url(data.licence)}
        return Reply.json(200, {"Data": licence})

    def _folder(self, data: LicenceData, folder: str) -> None:
        if folder not in data.folders.rows:
            raise HorusQueryError(404, "not_found", f"Folder {folder} not found", {"FolderId": folder})

    def _info(self, data: LicenceData, resource: str, request: web.Request) -> Reply:
        key = request.query.get("Id", "")
        folder = request.query.get("FolderId")
        if resource != "folders":
            if not folder:
                raise HorusQueryError(400, "invalid_request", "FolderId is required", {"FolderId": folder})
            self._folder(data, folder)
        rec = data.table(folder, resource).rows.get(key)
        if rec is None:
            raise HorusQueryError(404, "not_found", f"{RESOURCES[resource].type_name} {key} not found",
                                  {"Id": key})
        return Reply.json(200, {"Data": rec})

    def _list(self, data: LicenceData, resource: str, query: ListQuery) -> Reply:
        if query.folder is not None:
            self._folder(data, query.folder)
        rows = data.table(query.folder, resource).ordered()
        if resource == "folders" and query.mode == 1:
            rows = [r for r in rows if r["ResponsibleUserId"] == data.user_id]
        after = query.modified_after
        if after is not None:
            rows = [r for r in rows if r["Modified"] > after]
        answer: dict[str, Any] = {}
        if self.paging_mode == "all_at_once":
            page_rows = rows
        else:
            size = min(query.page_size or self.default_page_size, self.max_page_size)
            page = query.page or 1
            page_rows = rows[(page - 1) * size: page * size]
            if self.paging_mode == "object":
                answer["Paging"] = {"Page": page, "PageSize": size, "TotalPages": math.ceil(len(rows) / size),
                                    "TotalCount": len(rows)}
        answer["Data"] = page_rows
        if query.includes:
            folder = query.folder or ""
            answer["Included"] = {name: [rec for _, rec in self._sideload(data, folder, page_rows, name)]
                                  for name in query.includes}
        self.stats.pages_served += 1
        self.stats.records_served[resource] += len(page_rows)
        return Reply.json(200, answer)

    @staticmethod
    def _sideload(data: LicenceData, folder: str, rows: list[dict[str, Any]],
                  type_name: str) -> list[tuple[str, dict[str, Any]]]:
        # Each entity once, in order of first reference; dangling references drop out.
        field = REFERENCE_FIELDS[type_name]
        seen: dict[str, dict[str, Any] | None] = {}
        for row in rows:
            key = row.get(field)
            if key is not None and key not in seen:
                seen[key] = data.lookup(folder, type_name, key)
        return [(key, rec) for key, rec in seen.items() if rec is not None]

    def __repr__(self) -> str:
        return (f"FakeHorusServer(base_url={self.base_url!r}, licences={len(self.licences)}, "
                f"paging_mode={self.paging_mode!r}, {self.stats!r})")


__all__ = ["PAGING_MODES", "FakeHorusServer", "PagingMode", "horus_error"]
