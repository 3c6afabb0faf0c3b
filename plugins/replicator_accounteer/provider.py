"""Accounteer: the simplest provider plugin, written to be read first.

What is known about the API is little (see ``shared/PROVIDERS.md``, Accounteer,
and the fake server :mod:`replicator.testing.fake_accounteer`), so this plugin is
mostly about being tolerant:

- **Auth**: OAuth2 authorisation code. The token call is a GET with query
  parameters, as the seed shows it. The engine's token manager does the rest: it
  refreshes before expiry and keeps whatever refresh token comes back (a new one
  when they rotate, the same one when they do not).
- **Tenants**: a token is bound to one organisation, and data URLs name none
  (``GET /api/v1/invoices``). So a connection has exactly one tenant: the
  organisation that ``GET /api/v1/organisations`` returns.
- **Lists**: ``?page=N&per_page=M`` (1-based). The answer is a bare JSON array or
  ``{"data": [...]}``; both decode. A page with fewer records than asked for is
  the last; an API that ignores paging answers everything at once (more than
  asked for: the last page too, or exactly as many: the next page repeats it,
  and a repeated page ends the pass).
- **Increments**: the API offers no "changed since" filter that we know of, so
  every pass is a full scan with ``sweep=True``: records a complete pass did not
  see were deleted at the source and leave the replica too.

The engine does everything else: budgets, retries, storage, crash safety.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec

from replicator.auth import OAuth2Refresh
from replicator.decoding import json_body
from replicator.errors import ConfigError, DecodeError, Where
from replicator.limits import LimitPolicy, WindowSpec
from replicator.providers import Api, BoundResource, Page, Provider, Resource, Tenant
from replicator.types import Request, Response
from replicator_accounteer import records as r

# Records asked for per page. 100 is the largest page the fake serves; a real API
# that capped pages lower would answer short pages and end every pass early (and
# the sweep would then delete what it did not see), so the cap must not be below
# this: set ``options = {per_page = N}`` on the connection if it is.
PER_PAGE = 100

# Accounteer publishes no rate limit [?]. We pace ourselves at 60 calls per clock
# minute per organisation (what Xero allows; an accounting API rarely allows less).
# One call of each run cannot be counted: discover() asks for the organisation
# before the engine knows which budget it belongs to. The window keeps that call
# free, so a run never makes more than 60 calls in a minute.
CALLS_PER_MINUTE = 60



def _envelope(record: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """``{"data": [record, ...]}`` (other keys, such as paging metadata, are ignored)."""
    return msgspec.defstruct(f"{record.__name__}Data", [("data", list[record])])  # type: ignore[valid-type]


def _page_number(url: str) -> int:
    """The ``page`` parameter of ``url`` (1 when absent or not a number)."""
    value = parse_qs(urlsplit(url).query).get("page", ["1"])[0]
    return int(value) if value.isdigit() else 1


class AccounteerProvider(Provider):
    """Accounteer (``https://app.accounteer.com``): one organisation per connection."""

    name = "accounteer"
    title = "Accounteer"
    default_base_url = "https://app.accounteer.com"
    # Resource names are also the URL paths: /api/v1/{name}. No cursor: full scans
    # (the API has no filter we know of), with sweep=True to apply deletions.
    resources = (
        Resource("organisations", r.Organisation, key="id", sweep=True,
                 description="the organisation the token is bound to (one record)"),
        Resource("contacts", r.Contact, key="id", sweep=True, description="customers and suppliers"),
        Resource("taxes", r.Tax, key="id", sweep=True, description="tax rates"),
        Resource("items", r.Item, key="id", sweep=True, description="products and services"),
        Resource("invoices", r.Invoice, key="id", sweep=True,
                 description="sales invoices, lines as a JSON column"),
        Resource("purchases", r.Purchase, key="id", sweep=True,
                 description="purchase invoices, lines as a JSON column"),
        Resource("journals", r.Journal, key="id", sweep=True, description="journal entries"),
    )
    limits = LimitPolicy(windows=(WindowSpec("minute", CALLS_PER_MINUTE - 1, 60.0),))

    def __init__(self, base_url: str | None = None, options: Any = None) -> None:
        super().__init__(base_url, options)
        per_page = self.options.get("per_page", PER_PAGE)
        if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
            raise ConfigError(f"accounteer: options.per_page must be a positive integer, got {per_page!r}")
        self.per_page: int = per_page
        # One decoder per record type, built on first use and reused for every page.
        self._decoders: dict[type[msgspec.Struct], msgspec.json.Decoder[Any]] = {}
        # The one piece of paging state: (resource, page) -> the keys of the page
        # before it, to notice an API that ignores ``page`` and repeats itself. A
        # connection has one tenant, so the resource name is enough to tell streams apart.
        self._previous_keys: dict[tuple[str, int], tuple[Any, ...]] = {}

    def auth(self) -> OAuth2Refresh:
        # The seed calls the token endpoint with GET and query parameters; access
        # tokens live 3600 s. Whether refresh tokens rotate is unknown [?]: the
        # token manager stores whichever one the answer carries, before using it.
        return OAuth2Refresh(token_path="/oauth/v2/token", method="GET", default_lifetime=3600.0)

    # -- tenants ---------------------------------------------------------------

    async def discover(self, api: Api) -> list[Tenant]:
        request = Request.get(f"{self.base_url}/api/v1/organisations")
        organisations = self._records(r.Organisation, await api.fetch(request))
        if len(organisations) != 1:
            # Data URLs name no organisation, so with several we could not tell
            # whose records they return: refuse rather than mislabel the replica.
            raise DecodeError(f"expected the one organisation the token is bound to, got {len(organisations)}",
                              Where(url=request.url))
        organisation = organisations[0]
        return [Tenant(str(organisation.id), organisation.name or "")]

    # -- pages -----------------------------------------------------------------

    def first_request(self, tenant: Tenant, bound: BoundResource, cursor: Any | None) -> Request:
        # ``tenant`` is not in the URL: the access token decides the organisation.
        # ``cursor`` is always None: no resource has one.
        return self._page_request(bound.name, 1)

    def decode(self, bound: BoundResource, response: Response) -> Page:
        records = self._records(bound.record, response)
        page = _page_number(response.url)
        keys = tuple(getattr(record, bound.resource.key) for record in records)
        previous = self._previous_keys.pop((bound.name, page), None)
        if records and keys == previous:
            # The same records as the page before: the API ignores ``page``. They
            # are already stored, and asking for more would never end.
            return Page(())
        if len(records) != self.per_page:
            # Short or empty: the last page. Longer: the API ignored ``per_page``
            # and sent everything at once. Either way, the pass is complete.
            return Page(records)
        self._previous_keys[(bound.name, page + 1)] = keys
        return Page(records, self._page_request(bound.name, page + 1))

    def _page_request(self, resource: str, page: int) -> Request:
        return Request.get(f"{self.base_url}/api/v1/{resource}",
                           {"page": str(page), "per_page": str(self.per_page)})

    # -- decoding --------------------------------------------------------------

    def _decoder(self, record: type[msgspec.Struct]) -> msgspec.json.Decoder[Any]:
        decoder = self._decoders.get(record)
        if decoder is None:
            # A bare array or a {"data": [...]} object: msgspec tells them apart
            # by the first byte, so one decoder takes both shapes.
            decoder = msgspec.json.Decoder(list[record] | _envelope(record))  # type: ignore[valid-type]
            self._decoders[record] = decoder
        return decoder

    def _records(self, record: type[msgspec.Struct], response: Response) -> list[Any]:
        """The records of one list response, or an error (DecodeError, PagingError) naming what came instead."""
        where = Where(url=response.url)
        body = json_body(response)  # HTML, XML or another content type: a DecodeError naming it
        try:
            decoded = self._decoder(record).decode(body)
        except msgspec.DecodeError as exc:
            raise DecodeError(f"malformed {record.__name__} list: {exc} ({len(body)} bytes): "
                              f"{body[:120].decode(errors='replace')!r}", where) from exc
        return decoded if isinstance(decoded, list) else list(decoded.data)
