"""Horus Office: one connection per licence, its folders as tenants, POST lists with
JSON bodies, ``ModifiedAfter`` increments and sideloaded ``Included`` entities.

What the engine needs to know about Horus, and nothing else, lives here; see
``../shared/PROVIDERS.md`` for the facts (few are verified) and the other modules
of this package for the parts: :mod:`.options` (the connection's options and the
API URL check), :mod:`.paging` (three paging shapes), :mod:`.budget` (one budget
per licence) and :mod:`.records` (the record types).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import msgspec
import orjson

from replicator.auth import OAuth2Refresh
from replicator.decoding import json_body
from replicator.errors import DecodeError, Where
from replicator.providers import Api, BoundResource, Cursor, Page, Provider, Resource, Tenant
from replicator.types import Request, Response
from replicator_horus import records as r
from replicator_horus.budget import LicenceLimits
from replicator_horus.options import HorusOptions
from replicator_horus.paging import ListCall, check_link, next_call

MODIFIED = Cursor("Modified", ordered=False)
# ModifiedAfter goes back this far behind the cursor (see records.modified_after).
MODIFIED_MARGIN = 1.0
# The budget key discovery is counted under: any key gives the licence's one budget.
LICENCE = "licence"

# Included type -> the sideload (and table) its entities are stored in.
SIDELOADS: dict[str, Resource] = {
    "Company": Resource("included.Company", r.Company, key="Id", description="sideloaded companies"),
    "Daybook": Resource("included.Daybook", r.Daybook, key="Id", description="sideloaded daybooks"),
    "Folder": Resource("included.Folder", r.Folder, key="Id", description="sideloaded folders"),
    "BookEntry": Resource("included.BookEntry", r.BookEntry, key="Id", description="sideloaded book entries"),
}


class HorusProvider(Provider):
    """Horus Office. ``base_url`` is the licence's ``api_url`` from the OAuth callback."""

    name = "horus"
    title = "Horus Office"
    default_base_url = ""  # none: every licence has its own API URL
    resources = (
        Resource("folders", r.Folder, key="Id",
                 description="folders.info: the tenant's own folder, one call per pass"),
        Resource("companies", r.Company, key="Id", cursor=MODIFIED,
                 description="companies.list (ModifiedAfter; options.full_scan to see deletions)"),
        Resource("book-entries", r.BookEntry, key="Id", cursor=MODIFIED,
                 description="book-entries.list (ModifiedAfter; sideloads companies, daybooks, folders)"),
        Resource("account-histories", r.AccountHistory, key="Id", cursor=MODIFIED,
                 description="account-histories.list (ModifiedAfter; sideloads companies, daybooks, entries)"),
        Resource("invoices.sales.outstanding", r.SalesInvoice, key="Id", sweep=True,
                 description="invoices.sales.outstanding.list: full scans, a paid invoice leaves the list"),
    )
    sideloads = tuple(SIDELOADS.values())
    # Shown by ``replicator providers``; each connection gets its own (see __init__).
    limits = LicenceLimits(60, 60.0, 4)

    def __init__(self, base_url: str | None = None, options: Mapping[str, Any] | None = None) -> None:
        settings = HorusOptions.parse(options or {})
        # Before anything else: no credential may ever go to an unchecked api_url.
        super().__init__(settings.check_api_url(base_url), options)
        self.settings = settings
        # Per connection, because a connection is a licence and the budget is the
        # licence's (the contract declares limits per class; see budget.py).
        self.limits = LicenceLimits(  # type: ignore[misc]
            settings.rate_limit_calls, settings.rate_limit_period, settings.max_concurrency)
        self._resources = {res.name: self._variant(res) for res in type(self).resources}
        self._bodies = {name: self._body(name) for name in self._resources if name != "folders"}
        self._decoders: dict[tuple[type[msgspec.Struct], bool, bool], msgspec.json.Decoder[Any]] = {}

    def _variant(self, resource: Resource) -> Resource:
        if resource.name in self.settings.full_scan:
            return replace(resource, cursor=None, sweep=True,
                           description=f"{resource.name}.list: full scans (options.full_scan)")
        return resource

    def _body(self, name: str) -> dict[str, Any]:
        body: dict[str, Any] = {"PageSize": self.settings.page_size}
        include = self.settings.includes.get(name)
        if include:
            body["Include"] = include
        return body

    def resource(self, name: str) -> Resource:
        try:
            return self._resources[name]
        except KeyError:
            return super().resource(name)  # raises, naming the valid resources

    def auth(self) -> OAuth2Refresh:
        # Exchanged and refreshed at the licence's own API URL (the base URL).
        return OAuth2Refresh(token_path="/oauth2/access_token", client_auth="body",
                             refresh_margin=60.0, default_lifetime=3600.0)

    # -- tenants ---------------------------------------------------------------

    async def discover(self, api: Api) -> list[Tenant]:
        body = {"Mode": self.settings.folders_mode, "PageSize": self.settings.page_size}
        tenants: list[Tenant] = []
        request: Request | None = ListCall().request(f"{self.base_url}/folders.list", body)
        while request is not None:
            response = await api.fetch(request, tenant=LICENCE)
            folders, _, request = self._list(r.Folder, response, body)
            tenants.extend(Tenant(f.Id, f.Name or "") for f in folders)
        return tenants

    # -- pages -----------------------------------------------------------------

    def first_request(self, tenant: Tenant, bound: BoundResource, cursor: Any | None) -> Request:
        if bound.name == "folders":
            return Request.get(f"{self.base_url}/folders.info", {"Id": tenant.id})
        since = None
        if cursor is not None and bound.resource.cursor is not None:
            since = r.modified_after(str(cursor), MODIFIED_MARGIN)
        return ListCall(tenant.id, since).request(f"{self.base_url}/{bound.name}.list", self._bodies[bound.name])

    def decode(self, bound: BoundResource, response: Response) -> Page:
        if bound.name == "folders":
            return Page([self._decode(bound.record, response, single=True).Data])
        records, included, next_request = self._list(bound.record, response, self._bodies[bound.name])
        return Page(records, next_request, included=self._included(included, response))

    def _list(self, record: type[msgspec.Struct], response: Response,
              body: Mapping[str, Any]) -> tuple[list[Any], Mapping[str, msgspec.Raw], Request | None]:
        """One ``.list`` page: its records, raw ``Included`` and the next request."""
        envelope = self._decode(record, response)
        data: list[Any] = envelope.Data
        where = Where(url=response.url)
        call = ListCall.from_url(response.url)
        verdict = next_call(call, count=len(data), first_key=data[0].Id if data else None,
                            paging=envelope.Paging, page_size=self.settings.page_size,
                            max_pages=self.settings.max_pages, where=where)
        if verdict.repeated:
            return [], {}, None
        next_request = None
        if verdict.next is not None:
            url = (check_link(response.url, verdict.url, self.base_url, where) if verdict.url
                   else response.url.split("?", 1)[0])
            next_request = verdict.next.request(url, body)
        return data, envelope.Included, next_request

    def _included(self, included: Mapping[str, msgspec.Raw], response: Response) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for type_name, raw in included.items():
            sideload = SIDELOADS.get(type_name)
            if sideload is None:
                continue  # a type we have no table for (Horus may add some)
            try:
                out[sideload.name] = self._decoder(sideload.record, False, bare=True).decode(raw)
            except msgspec.DecodeError as exc:
                raise DecodeError(f"malformed Included.{type_name}: {exc}", Where(url=response.url)) from exc
        return out

    # -- decoding --------------------------------------------------------------

    def _decoder(self, record: type[msgspec.Struct], single: bool, *,
                 bare: bool = False) -> msgspec.json.Decoder[Any]:
        """Built once per record type and shape: a bare list, ``{"Data": one}`` or a list page."""
        cache_key = (record, single, bare)
        decoder = self._decoders.get(cache_key)
        if decoder is None:
            if bare:
                target: Any = list[record]  # type: ignore[valid-type]
            elif single:
                target = msgspec.defstruct(f"{record.__name__}Info", [("Data", record)])
            else:
                target = msgspec.defstruct(f"{record.__name__}List", [
                    ("Data", list[record]),  # type: ignore[valid-type]
                    ("Paging", r.Paging | None, None),
                    ("Included", dict[str, msgspec.Raw], msgspec.field(default_factory=dict)),
                ])
            # strict=False: numbers or booleans sent as strings still decode [?].
            decoder = msgspec.json.Decoder(target, dec_hook=r.dec_hook, strict=False)
            self._decoders[cache_key] = decoder
        return decoder

    def _decode(self, record: type[msgspec.Struct], response: Response, *, single: bool = False) -> Any:
        body = json_body(response)
        try:
            return self._decoder(record, single).decode(body)
        except msgspec.DecodeError as exc:
            raise DecodeError(_error_text(body) or f"malformed page: {exc}", Where(url=response.url)) from exc


def _error_text(body: bytes) -> str | None:
    """``{ErrorType, Details, Message}`` in a body that was not a page, as text."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict) or "ErrorType" not in value:
        return None
    return horus_error_text(value)


def horus_error_text(error: Mapping[str, Any]) -> str:
    """``ErrorType: Message (Details)``, the three fields of a Horus error body."""
    details = error.get("Details")
    shown = details if isinstance(details, str) else orjson.dumps(details).decode()
    return f"Horus error {error.get('ErrorType')}: {error.get('Message')} (details: {shown})"


__all__ = ["LICENCE", "MODIFIED", "MODIFIED_MARGIN", "SIDELOADS", "HorusProvider", "horus_error_text"]
