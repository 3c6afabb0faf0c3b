"""HaloPSA: one instance per connection, client credentials found through
``/api/authinfo``, page-number paging fanned out from ``record_count``,
``lastupdatefromdate`` increments where Halo has them and swept full scans where
it does not, and a self-paced rolling window (Halo's 429s say nothing).

See ``../shared/PROVIDERS.md`` (HaloPSA) for the facts and how sure they are.

Tenants: every Halo customer is a separate instance with its own host, and a
connection (one API application) belongs to one instance. ``discover`` therefore
returns a single tenant without asking the server: its id is the instance's host
(plus port and path when it has them), e.g. ``acme.halopsa.com``, and its name the
host's first label (``acme``). Mirror several instances with several connections.

Resources and how each is kept up to date:
    clients, tickets, sites, users: ``lastupdatefromdate`` from the highest
        ``last_update`` stored (an unordered cursor: pages come in id order).
        Halo has no deletion feed, so a record deleted there stays in the replica.
    invoices and the accounting lists (``XeroDetails``...): no modification
        filter, so every pass is a full scan, and a record a complete scan did not
        see is swept from the replica.
    ``/Actions`` is not mirrored: Halo numbers actions per ticket, so ``id`` alone
    is not a key, and its list wants a ``ticket_id``.

Connection options (``options = { ... }`` in the TOML):
    include_secrets: mirror the credential fields of the accounting integrations
        (``new_access_token``, ``new_client_secret``, ``new_password``...). Off by
        default: the record types then do not declare them, so they are never
        decoded, stored or logged. Turning it off later does not erase values
        already stored: drop those columns (or the tables) yourself.
    page_size: records asked per page (default 100; a server that clamps it is
        detected and followed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

from replicator.auth import OAuth2ClientCredentials
from replicator.errors import ConfigError, DecodeError, Where
from replicator.limits import LimitPolicy, Observation, WindowSpec
from replicator.providers import Api, BoundResource, Cursor, Page, Provider, Resource, Tenant
from replicator.types import Request, Response
from replicator_halopsa import records as r
from replicator_halopsa.auth import find_token_url, instance_base, instance_id, instance_name
from replicator_halopsa.envelope import list_items
from replicator_halopsa.paging import PageQuery, Pager, first_page

LAST_UPDATE = Cursor("last_update", ordered=False)  # pages come in id order, not by last_update
WINDOW = "rolling_5min"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 10_000
_EVERYTHING = {"includeinactive": "true"}  # inactive clients, sites and users are data too


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a resource lives: ``/api/{path}``, its list key (None: a bare array),
    and the query parameters every request of it carries."""

    path: str
    key: str | None
    params: Mapping[str, str] = field(default_factory=dict)


ENDPOINTS: dict[str, Endpoint] = {
    "clients": Endpoint("Client", "clients", _EVERYTHING),
    "tickets": Endpoint("Tickets", "tickets"),
    "sites": Endpoint("Site", "sites", _EVERYTHING),
    "users": Endpoint("Users", "users", _EVERYTHING),
    "invoices": Endpoint("Invoice", "invoices"),
    "xero_details": Endpoint("XeroDetails", None),
    "quickbooks_details": Endpoint("QuickBooksDetails", None),
    "sage_business_cloud_details": Endpoint("SageBusinessCloudDetails", None),
    "myob_details": Endpoint("MYOBdetails", None),
    "kashflow_details": Endpoint("KashflowDetails", None,
                                 {"includedisabled": "true", "includeenabled": "true"}),
}


def _details(name: str, record: type[msgspec.Struct], path: str) -> Resource:
    return Resource(name, record, key="id", sweep=True,
                    description=f"{path}: accounting integration (bare array, full scan; secrets opt-in)")


class HaloPSAProvider(Provider):
    """HaloPSA (``base_url``: the instance, e.g. ``https://acme.halopsa.com``)."""

    name = "halopsa"
    title = "HaloPSA"
    default_base_url = "https://YOUR-INSTANCE.halopsa.com"
    resources = (
        Resource("clients", r.Client, key="id", cursor=LAST_UPDATE,
                 description="Client (paged, lastupdatefromdate increments)"),
        Resource("tickets", r.Ticket, key="id", cursor=LAST_UPDATE,
                 description="Tickets (paged, lastupdatefromdate increments)"),
        Resource("sites", r.Site, key="id", cursor=LAST_UPDATE,
                 description="Site (paged, lastupdatefromdate increments)"),
        Resource("users", r.User, key="id", cursor=LAST_UPDATE,
                 description="Users (paged, lastupdatefromdate increments)"),
        Resource("invoices", r.Invoice, key="id", sweep=True,
                 description="Invoice (paged, full scan: no modification filter)"),
        _details("xero_details", r.XeroDetails, "XeroDetails"),
        _details("quickbooks_details", r.QuickBooksDetails, "QuickBooksDetails"),
        _details("sage_business_cloud_details", r.SageBusinessCloudDetails, "SageBusinessCloudDetails"),
        _details("myob_details", r.MYOBDetails, "MYOBdetails"),
        _details("kashflow_details", r.KashflowDetails, "KashflowDetails"),
    )
    # 300 calls per rolling 5 minutes per instance, and a 429 without any header
    # beyond it. The window is declared 5 s longer than Halo's: the server counts a
    # call when it arrives, we when we send it, and latency must not push the 301st
    # call into the server's window. Concurrency: no documented cap; 8 is polite.
    limits = LimitPolicy(windows=(WindowSpec(WINDOW, 300, 305.0, kind="rolling"),),
                         max_concurrency=8)

    def __init__(self, base_url: str | None = None, options: Mapping[str, Any] | None = None) -> None:
        if not base_url:
            raise ConfigError("halopsa: base_url is required: every Halo customer is its own instance "
                              "(e.g. https://acme.halopsa.com)")
        super().__init__(instance_base(base_url), options)
        self.include_secrets, self.page_size = _options(self.options)
        self._pager = Pager()
        self._decoders: dict[type[msgspec.Struct], msgspec.json.Decoder[Any]] = {}
        self._secret_resources = {
            res.name: replace(res, record=r.with_secrets(res.record, r.SECRETS[res.record]))
            for res in self.resources if res.record in r.SECRETS}

    def resource(self, name: str) -> Resource:
        """The resource called ``name``; with ``include_secrets``, the accounting
        records' types that declare their secret fields."""
        found = super().resource(name)
        return self._secret_resources.get(name, found) if self.include_secrets else found

    def auth(self) -> OAuth2ClientCredentials:
        # Without scope=all Halo issues a token that every API call refuses.
        return OAuth2ClientCredentials(token_url=find_token_url, scope="all", client_auth="body",
                                       refresh_margin=60.0, default_lifetime=3600.0)

    async def discover(self, api: Api) -> list[Tenant]:
        """One tenant: the instance itself, named from its URL (no request needed)."""
        return [Tenant(instance_id(self.base_url), instance_name(self.base_url))]

    # -- pages ---------------------------------------------------------------------

    def first_request(self, tenant: Tenant, bound: BoundResource, cursor: Any | None) -> Request:
        endpoint = ENDPOINTS[bound.name]
        url = f"{self.base_url}/api/{endpoint.path}"
        params = dict(endpoint.params)
        if endpoint.key is None:
            return Request.get(url, params or None)  # the accounting lists know no paging
        if cursor is not None and bound.resource.cursor is not None:
            params["lastupdatefromdate"] = r.halo_filter_time(str(cursor))
        return first_page(url, params, self.page_size)

    def decode(self, bound: BoundResource, response: Response) -> Page:
        where = Where(resource=bound.name, url=response.url)
        items, record_count = list_items(response, ENDPOINTS[bound.name].key, where,
                                        secret=bound.name in self._secret_resources)
        if items is None:
            return Page([])
        try:
            records: list[Any] = self._decoder(bound.record).decode(items)
        except msgspec.DecodeError as exc:  # a path, no value (only timestamps are quoted)
            raise DecodeError(f"malformed {bound.name} records: {exc}", where) from exc
        query = PageQuery.of(response.url)
        if query is None:
            return Page(records)
        key = bound.resource.key
        keys = (getattr(records[0], key), getattr(records[-1], key)) if records else None
        next_request, fanout = self._pager.follow_up(query, keys, len(records), record_count, where)
        return Page(records, next_request, fanout)

    def rate_limit_observations(self, response: Response) -> Sequence[Observation]:
        """Halo's answers say nothing about the window, except a 429: the window is full.

        Saying so makes the budget treat it as full from our last call on, so the
        tenant waits a whole window instead of probing every minute (and perhaps
        extending the lock-out, if Halo counts refused calls, which is not known).
        """
        return _WINDOW_FULL if response.status == 429 else ()

    def _decoder(self, record: type[msgspec.Struct]) -> msgspec.json.Decoder[Any]:
        decoder = self._decoders.get(record)
        if decoder is None:
            decoder = msgspec.json.Decoder(list[record], dec_hook=r.dec_hook)  # type: ignore[valid-type]
            self._decoders[record] = decoder
        return decoder


_WINDOW_FULL = (Observation(WINDOW),)


def _options(options: Mapping[str, Any]) -> tuple[bool, int]:
    known = {"include_secrets", "page_size"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"halopsa: unknown option(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
    include_secrets = options.get("include_secrets", False)
    if not isinstance(include_secrets, bool):
        raise ConfigError(f"halopsa: options.include_secrets: expected true or false, got {include_secrets!r}")
    page_size = options.get("page_size", DEFAULT_PAGE_SIZE)
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ConfigError(f"halopsa: options.page_size: expected an integer from 1 to {MAX_PAGE_SIZE}, "
                          f"got {page_size!r}")
    return include_secrets, page_size
