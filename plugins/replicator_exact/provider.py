"""Exact Online: divisions as tenants, the sync API with Timestamp cursors,
``sync/Deleted`` for deletions, and one regular endpoint with a Modified filter.

What the engine needs to know about Exact, and nothing else, lives here; see
``../shared/PROVIDERS.md`` for the facts (and which of them are verified).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from replicator.auth import OAuth2Refresh
from replicator.decoding import WireRecord, json_body
from replicator.errors import DecodeError, Where
from replicator.limits import LimitPolicy, Observation, WindowSpec
from replicator.paging import follow
from replicator.providers import Api, BoundResource, Cursor, Page, Provider, Resource, Tenant
from replicator.types import Request, Response, origin_of
from replicator_exact import records as r

SYNC = Cursor("Timestamp", ordered=True)
MODIFIED = Cursor("Modified", ordered=False)

# sync/Deleted's EntityType codes for the resources we mirror.
ENTITY_TYPES: dict[int, str] = {
    1: "transaction_lines",
    2: "accounts",
    5: "contacts",
    7: "gl_accounts",
    9: "items",
    13: "sales_invoices",
}

PATHS: dict[str, str] = {
    "transaction_lines": "sync/Financial/TransactionLines",
    "accounts": "sync/CRM/Accounts",
    "contacts": "sync/CRM/Contacts",
    "sales_invoices": "sync/SalesInvoice/SalesInvoices",
    "gl_accounts": "sync/Financial/GLAccounts",
    "items": "sync/Logistics/Items",
    "deleted": "sync/Deleted",
    "vat_codes": "vat/VATCodes",
}


def _header_int(response: Response, name: str) -> int | None:
    value = response.headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _header_epoch_ms(response: Response, name: str) -> float | None:
    value = _header_int(response, name)
    return value / 1000.0 if value is not None else None


class ExactOnlineProvider(Provider):
    """Exact Online (all regions: set ``base_url`` to the region's start host)."""

    name = "exact_online"
    title = "Exact Online"
    default_base_url = "https://start.exactonline.nl"
    resources = (
        Resource("transaction_lines", r.TransactionLine, cursor=SYNC,
                 description="Financial/TransactionLines (sync API)"),
        Resource("accounts", r.Account, cursor=SYNC, description="CRM/Accounts (sync API)"),
        Resource("contacts", r.Contact, cursor=SYNC, description="CRM/Contacts (sync API)"),
        Resource("sales_invoices", r.SalesInvoice, key="InvoiceID", cursor=SYNC,
                 description="SalesInvoice/SalesInvoices (sync API)"),
        Resource("gl_accounts", r.GLAccount, cursor=SYNC, description="Financial/GLAccounts (sync API)"),
        Resource("items", r.Item, cursor=SYNC, description="Logistics/Items (sync API)"),
        Resource("vat_codes", r.VATCode, cursor=MODIFIED,
                 description="vat/VATCodes (regular API: 60-record pages, Modified filter)"),
        Resource("deleted", r.Deleted, cursor=SYNC, deletions=True,
                 description="sync/Deleted: deletions, applied to the resources above"),
    )
    # Per app per division; the headers calibrate both (premium licences allow more).
    limits = LimitPolicy(windows=(
        WindowSpec("minutely", 60, 60.0),
        WindowSpec("daily", 5000, 86400.0, tz="Europe/Amsterdam"),
    ))

    def __init__(self, base_url: str | None = None, options: Any = None) -> None:
        super().__init__(base_url, options)
        self._origin = origin_of(self.base_url)
        self._decoders: dict[type[msgspec.Struct], tuple[msgspec.json.Decoder[Any], WireRecord]] = {}

    def auth(self) -> OAuth2Refresh:
        return OAuth2Refresh(token_path="/api/oauth2/token", client_auth="body",
                             refresh_margin=30.0, min_refresh_interval=570.0,
                             default_lifetime=600.0)

    # -- tenants ---------------------------------------------------------------

    async def discover(self, api: Api) -> list[Tenant]:
        me_url = f"{self.base_url}/api/v1/current/Me"
        me = self._decode_list(r.Me, await api.fetch(Request.get(me_url, {"$select": "CurrentDivision"})))
        if not me.results:
            raise DecodeError("current/Me returned no user", Where(url=me_url))
        current = str(me.results[0].CurrentDivision)
        tenants: list[Tenant] = []
        request: Request | None = Request.get(
            f"{self.base_url}/api/v1/{current}/system/Divisions", {"$select": "Code,Description"})
        while request is not None:
            response = await api.fetch(request, tenant=current)
            page = self._decode_list(r.Division, response)
            tenants.extend(Tenant(str(d.Code), d.Description or "") for d in page.results)
            request = follow(request.url, page.next, allowed_origin=self._origin)
        return tenants

    # -- pages -----------------------------------------------------------------

    def first_request(self, tenant: Tenant, bound: BoundResource, cursor: Any | None) -> Request:
        resource = bound.resource
        params = {"$select": ",".join(bound.select)}
        if resource.cursor is SYNC or (resource.cursor and resource.cursor.field == "Timestamp"):
            # Timestamp is an Int64 row version; "gt 1" is Exact's documented start.
            params["$filter"] = f"Timestamp gt {int(cursor) if cursor is not None else 1}L"
        elif cursor is not None and resource.cursor is not None:
            params["$filter"] = f"{resource.cursor.field} ge {r.exact_filter_datetime(str(cursor))}"
        url = f"{self.base_url}/api/v1/{tenant.id}/{PATHS[resource.name]}"
        return Request.get(url, params)

    def decode(self, bound: BoundResource, response: Response) -> Page:
        page = self._decode_list(bound.record, response)
        next_request = follow(response.url, page.next, allowed_origin=self._origin)
        if not bound.resource.deletions:
            return Page(page.results, next_request)
        deletes: dict[str, list[str]] = {}
        for record in page.results:
            target = ENTITY_TYPES.get(getattr(record, "EntityType", None) or 0)
            key = getattr(record, "EntityKey", None)
            if target and key:
                deletes.setdefault(target, []).append(key)
        return Page(page.results, next_request, deletes=deletes)

    def _decoder(self, record: type[msgspec.Struct]) -> tuple[msgspec.json.Decoder[Any], WireRecord]:
        found = self._decoders.get(record)
        if found is None:
            # Dates are read as text and converted after the page (WireRecord).
            wire = WireRecord(record)
            inner = msgspec.defstruct(f"{record.__name__}Results",
                                      [("results", list[wire.type]),  # type: ignore[name-defined]
                                       ("next", str | None, None)], rename={"next": "__next"})
            envelope = msgspec.defstruct(f"{record.__name__}Envelope", [("d", inner)])
            # strict=False: Exact serialises some numbers (Int64, expires_in) as strings.
            found = self._decoders[record] = (msgspec.json.Decoder(envelope, strict=False), wire)
        return found

    def _decode_list(self, record: type[msgspec.Struct], response: Response) -> Any:
        body = json_body(response)
        decoder, wire = self._decoder(record)
        try:
            page = decoder.decode(body).d
            wire.finish(page.results)
        except (msgspec.DecodeError, ValueError) as exc:
            raise DecodeError(f"malformed page: {exc}", Where(url=response.url)) from exc
        return page

    # -- rate limits -----------------------------------------------------------

    def rate_limit_observations(self, response: Response) -> Sequence[Observation]:
        out = []
        minutely = _header_int(response, "X-RateLimit-Minutely-Remaining")
        if minutely is not None:
            out.append(Observation(
                "minutely", _header_int(response, "X-RateLimit-Minutely-Limit"), minutely,
                _header_epoch_ms(response, "X-RateLimit-Minutely-Reset")))
        daily = _header_int(response, "X-RateLimit-Remaining")
        if daily is not None:
            out.append(Observation("daily", _header_int(response, "X-RateLimit-Limit"), daily,
                                   _header_epoch_ms(response, "X-RateLimit-Reset")))
        return out

    def retry_at(self, response: Response) -> float | None:
        return (_header_epoch_ms(response, "X-RateLimit-Minutely-Reset")
                or _header_epoch_ms(response, "X-RateLimit-Reset"))
