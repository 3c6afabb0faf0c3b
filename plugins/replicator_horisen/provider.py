"""HORISEN Finance Documents: one endpoint, documents with their items nested.

What the engine needs to know about HORISEN (``shared/PROVIDERS.md``, HORISEN
section; the seed) and nothing else:

- **Tenants**: white-labelled. Each tenant has its own base URL (e.g.
  ``https://api.horisen.pro/finance/sit/v1``) and its own client, so a connection
  is exactly one tenant; ``options.tenant`` names it in the replica.
- **Auth**: client credentials at ``{base_url}/oauth2/access-token``, form-encoded,
  id and secret in the body (the API also wants the caller's IP whitelisted).
- **Documents**: ``GET /documents-export?page_number=1&page_size=100&sort=id``;
  page 1 tells ``totalPages`` and the other pages are fanned out (``paging.py``).
  Sorting by ``id`` keeps page membership stable while new documents arrive.
- **Items**: every document's ``items`` go to ``horisen__items`` as a sideload,
  keyed ``<document id>:<position>`` (``records.py``).
- **Increments**: ``gte(<modified field>)=<cursor>`` (``options.modified_field``,
  default ``statusDt``), an unordered cursor: pages are sorted by ``id``, not by
  the field, and ``gte`` because values have second resolution.
- **Deletions**: documents deleted at the source simply disappear; there is no
  feed. By default (increments) the replica keeps them. With
  ``options.full_scan = true`` every pass reads everything and sweeps. The
  engine sweeps only a stream's own table, never its sideloads, so in that mode
  the items are a resource of their own (a second read of the same pages, items
  as its records, swept too) instead of a sideload of the documents; a
  connection that lists its ``resources`` must then name ``items`` as well.
  Increments rewrite a changed document's items in place (same keys); items it
  lost stay behind, recognisable by a ``position`` above the document's
  ``itemCount``, until a full scan sweeps them.
- **Errors**: 4xx bodies (``{"errors": [{"code": "BAD_PARAM_PAGE_SIZE", ...}]}``)
  reach the failure message through the engine; a 200 without ``data`` is a
  decode error that quotes the body.
- **Rate limits**: unknown [?], and 429s carry no headers: 60 calls per clock
  minute and 4 in flight per tenant, both options.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from replicator.auth import OAuth2ClientCredentials
from replicator.decoding import json_body
from replicator.errors import DecodeError, Where
from replicator.limits import LimitPolicy, WindowSpec
from replicator.providers import Api, BoundResource, Cursor, Page, Provider, Resource, Tenant
from replicator.types import Request, Response, origin_of
from replicator_horisen import records as r
from replicator_horisen.options import HorisenOptions
from replicator_horisen.paging import PAGE_NUMBER, PAGE_SIZE, build_url, follow_ups

EXPORT_PATH = "/documents-export"
ITEMS = "items"


def _resources(options: HorisenOptions) -> tuple[Resource, ...]:
    record = r.with_modified_field(r.Document, options.modified_field)
    if options.full_scan:
        return (
            Resource("documents", record, key="id", sweep=True,
                     description="documents-export, every document every pass (swept)"),
            Resource(ITEMS, r.Item, key="key", sweep=True,
                     description="the documents' items, read from documents-export every pass (swept)"),
        )
    return (Resource("documents", record, key="id", cursor=Cursor(options.modified_field, ordered=False),
                     description=f"documents-export, incremental on {options.modified_field}; "
                                 "items in horisen__items"),)


def _limits(options: HorisenOptions) -> LimitPolicy:
    # Unknown [?], and a 429 carries no headers to calibrate from: pace ourselves.
    return LimitPolicy(windows=(WindowSpec("minute", options.requests_per_minute, 60.0),),
                       max_concurrency=options.max_concurrency)


class HorisenProvider(Provider):
    """HORISEN Finance Documents (set ``base_url`` to the tenant's white-label host)."""

    name = "horisen"
    title = "HORISEN Finance Documents"
    default_base_url = "https://api.horisen.pro/finance/sit/v1"
    resources = _resources(HorisenOptions())
    sideloads = (Resource(ITEMS, r.Item, key="key", description="the items of each document"),)
    limits = _limits(HorisenOptions())

    def __init__(self, base_url: str | None = None, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(base_url, options)
        self.settings = HorisenOptions.parse(self.options, self.base_url)
        # Both depend on the connection's options; the class attributes are the
        # defaults that ``replicator providers`` lists.
        self.resources = _resources(self.settings)  # type: ignore[misc]
        self.limits = _limits(self.settings)  # type: ignore[misc]
        self._origin = origin_of(self.base_url)
        self._decoders: dict[type[msgspec.Struct], msgspec.json.Decoder[Any]] = {}
        self._nested: dict[type[msgspec.Struct], type[msgspec.Struct]] = {}

    def auth(self) -> OAuth2ClientCredentials:
        return OAuth2ClientCredentials(token_path="/oauth2/access-token", client_auth="body")

    async def discover(self, api: Api) -> list[Tenant]:
        # The connection is the tenant: nothing to ask the API.
        return [Tenant(self.settings.tenant, self.settings.tenant)]

    # -- pages -----------------------------------------------------------------

    def first_request(self, tenant: Tenant, bound: BoundResource, cursor: Any | None) -> Request:
        params = [(PAGE_NUMBER, "1"), (PAGE_SIZE, str(self.settings.page_size)), ("sort", "id")]
        resource_cursor = bound.resource.cursor
        if cursor is not None and resource_cursor is not None:
            params.append((f"gte({resource_cursor.field})", r.filter_time(str(cursor))))
        return Request.get(build_url(self.base_url + EXPORT_PATH, params))

    def decode(self, bound: BoundResource, response: Response) -> Page:
        body = self._json_body(response)
        where = Where(url=response.url)
        # The same page is decoded twice, by msgspec, never copied field by field:
        # once as documents (their ``items`` skipped), once for the items alone.
        if bound.name == ITEMS:
            # full_scan: the items are this stream's own records (swept like them).
            page = self._decode(self._documents_with(bound.record), body, where)
            records, _ = r.flatten_items(page.data, bound.record)
            included: dict[str, list[Any]] = {}
        else:
            page = self._decode(bound.record, body, where)
            records = page.data
            self._check_cursor_field(bound, records, where)
            nested = self._decode(self._documents_with(r.Item), body, where)
            items, counts = r.flatten_items(nested.data, r.Item)
            if "itemCount" in bound.record.__struct_fields__:
                for document, count in zip(records, counts, strict=True):
                    document.itemCount = count
            included = {} if self.settings.full_scan else {ITEMS: items}
        pagination = page.meta.pagination if page.meta is not None else None
        next_request, fanout = follow_ups(response.url, pagination, records=len(page.data),
                                          last_id=page.data[-1].id if page.data else None, origin=self._origin)
        return Page(records, next_request, fanout=fanout, included=included)

    @staticmethod
    def _check_cursor_field(bound: BoundResource, documents: list[Any], where: Where) -> None:
        # A modification field that no document carries (a typo, or a field this
        # API does not have) would make every pass a full read that never becomes
        # incremental: say so. Single documents without it are tolerated [?].
        cursor = bound.resource.cursor
        if cursor is not None and documents and all(getattr(d, cursor.field) is None for d in documents):
            raise DecodeError(f"no document of this page has {cursor.field!r}: options.modified_field must name "
                              "a date-time that every document carries (default statusDt)", where)

    def _documents_with(self, item: type[msgspec.Struct]) -> type[msgspec.Struct]:
        found = self._nested.get(item)
        if found is None:
            found = self._nested[item] = r.documents_with(item)
        return found

    def _decoder(self, record: type[msgspec.Struct]) -> msgspec.json.Decoder[Any]:
        decoder = self._decoders.get(record)
        if decoder is None:
            envelope = msgspec.defstruct(f"{record.__name__}Page", [
                ("data", list[record] | None, None),  # type: ignore[valid-type]
                ("meta", r.Meta | None, None),
            ], kw_only=True)
            # strict=False: numbers sent as strings ("26") are taken as numbers.
            decoder = msgspec.json.Decoder(envelope, dec_hook=r.dec_hook, strict=False)
            self._decoders[record] = decoder
        return decoder

    def _decode(self, record: type[msgspec.Struct], body: bytes, where: Where) -> Any:
        try:
            page = self._decoder(record).decode(body)
        except msgspec.DecodeError as exc:
            raise DecodeError(f"malformed documents page: {exc}", where) from exc
        if page.data is None:
            # A 200 that is not a page: an error envelope ({"errors": [...]}) or something else.
            raise DecodeError(f"expected {{\"data\": [...]}}, got {body[:300].decode(errors='replace')!r}",
                              where)
        return page

    @staticmethod
    def _json_body(response: Response) -> bytes:
        return json_body(response)


__all__ = ["HorisenProvider"]
