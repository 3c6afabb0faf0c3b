"""HORISEN Finance Documents record types, with the API's own field names.

A document arrives with its ``items`` nested. The replica keeps them apart: the
document (every field but ``items``, plus ``itemCount``) in ``horisen__documents``,
each item in ``horisen__items`` with three fields added when decoding, because the
engine stores sideloaded records exactly as given:

- ``parentId``: the ``id`` of the document the item came in (the item's own
  ``documentId`` says the same when the API sends it, but nothing promises that);
- ``position``: its 1-based place in the document's ``items`` array;
- ``key``: ``"<parentId>:<position>"``, the item's key in the replica. Positions
  always exist and are unique within a document, where item ids may be absent
  [?]; and a document that loses items leaves only rows with a position above its
  ``itemCount``, which makes them recognisable (see ``provider.py``).

Date-times (``2019-10-01T16:33:05Z``) become :class:`HorisenTime`, the fixed-width
ISO-8601 UTC text with milliseconds that every provider stores, so that the
cursor compares as text. Plain dates (``2019-09-30``) stay as served. Nested
objects (``bizPartner``, ``dataSource``) are stored as compact JSON text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from replicator.decoding import IsoTimestamp, iso_utc

Json = Any
"""A nested object or list, stored as compact JSON text (JSON null stays SQL NULL).

Not ``msgspec.Raw``: a Raw field cannot be optional, so a null ``dataSource``
would be stored as the text ``null``; these sub-documents are small."""


class HorisenTime(IsoTimestamp):
    """A HORISEN date-time, stored as ISO-8601 UTC text with milliseconds."""

    __slots__ = ()


def parse_time(value: str) -> HorisenTime:
    """``2019-10-01T16:33:05Z`` (or any ISO-8601 form) -> ISO UTC text.

    A value without an offset is taken as UTC, as the seed writes every
    date-time with ``Z``.
    """
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return HorisenTime(iso_utc(parsed))


def filter_time(cursor: str) -> str:
    """A stored cursor -> the API's own date-time form, for ``gte(field)=``.

    Rounded down to the second (the API's resolution): with ``gte`` that can only
    send a record again, never skip one.
    """
    moment = datetime.fromisoformat(cursor.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def dec_hook(tp: type, value: Any) -> Any:
    """msgspec hook: builds :class:`HorisenTime` values."""
    if tp is HorisenTime and isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError as exc:
            raise ValueError(f"not a HORISEN date-time: {value!r}") from exc
    raise NotImplementedError(f"no decoder for {tp!r}")


class Document(msgspec.Struct, kw_only=True):
    """One finance document (``/documents-export`` ``data[]``), without its items."""

    id: int
    documentUuid: str | None = None
    instanceId: int | None = None
    bizPartnerId: int | None = None
    bizPartnerCountry: int | None = None
    bizPartnerExternalRefId: str | None = None
    bizPartner: Json = None
    documentDate: str | None = None
    deliveryDate: str | None = None
    documentNumber: str | None = None
    documentNumberMask: str | None = None
    documentNumberNum: int | None = None
    dueDate: str | None = None
    periodStart: str | None = None
    periodEnd: str | None = None
    currency: int | None = None
    currencyCode: str | None = None
    amountNoVat: float | None = None
    amountVat: float | None = None
    vatPercent: float | None = None
    vat: float | None = None
    rounding: float | None = None
    total: float | None = None
    totalUnpaid: float | None = None
    totalPaid: float | None = None
    domesticCurrency: int | None = None
    domesticCurrencyCode: str | None = None
    domesticCurrencyRate: float | None = None
    domesticAmountNoVat: float | None = None
    domesticAmountVat: float | None = None
    domesticRounding: float | None = None
    domesticTotal: float | None = None
    status: str | None = None
    insertDt: HorisenTime | None = None
    statusDt: HorisenTime | None = None
    paymentStatus: str | None = None
    paymentStatusDate: HorisenTime | None = None
    domainId: int | None = None
    domainCodeName: str | None = None
    documentClassCodeName: str | None = None
    documentClassDomain: str | None = None
    documentClassArea: str | None = None
    selfBilling: str | None = None
    dataSourceId: int | None = None
    dataSourceCodeName: str | None = None
    dataSourceSelector: str | None = None
    dataSource: Json = None
    lang: str | None = None
    # The seed's table says string, its examples say 26: numeric strings are
    # accepted (the decoder is not strict), anything else is a decode error.
    documentType: int | None = None
    documentTypeName: str | None = None
    syncStatus: str | None = None
    syncStatusDt: HorisenTime | None = None
    disputeStatus: str | None = None
    docsDeliveryStatus: str | None = None
    docsDeliveryStatusDate: HorisenTime | None = None
    # Added when decoding: how many items the document had (see the module docstring).
    itemCount: int | None = None


TIME_FIELDS = frozenset({"insertDt", "statusDt", "paymentStatusDate", "syncStatusDt", "docsDeliveryStatusDate"})
"""The document's date-time fields: the ones that can serve as the incremental cursor."""


class Item(msgspec.Struct, kw_only=True):
    """One line of a document (``data[].items[]``), linked to its document."""

    key: str = ""
    parentId: int = 0
    position: int = 0
    id: int | None = None
    documentId: int | None = None
    ordNum: int | None = None
    name: str | None = None
    quantity: float | None = None
    measureUnit: str | None = None
    price: float | None = None
    totalNoVat: float | None = None
    totalVat: float | None = None
    dataSourceId: int | None = None
    dataSourceCodeName: str | None = None
    dataSourceForeignKey: int | None = None
    dataSourceSelector: str | None = None
    dataSource: Json = None


class DocumentItems(msgspec.Struct, kw_only=True):
    """A document seen only for its items (the second look at the same page)."""

    id: int
    items: list[Item] | None = None


class Links(msgspec.Struct, kw_only=True):
    """Fractal-style ``meta.pagination.links`` [?]: where the server says page N+1 is."""

    next: str | None = None


class Pagination(msgspec.Struct, kw_only=True):
    """``meta.pagination``: every field may be missing [?]."""

    total: int | None = None
    totalPages: int | None = None
    currentPage: int | None = None
    perPage: int | None = None
    count: int | None = None
    links: Links | None = None


class Meta(msgspec.Struct, kw_only=True):
    pagination: Pagination | None = None


def with_modified_field(record: type[msgspec.Struct], field: str) -> type[msgspec.Struct]:
    """``record`` plus a date-time ``field`` when it does not have one already
    (the modification field is a connection option, and the seed names none)."""
    if field in record.__struct_fields__:
        return record
    return msgspec.defstruct(record.__name__, [(field, HorisenTime | None, None)], bases=(record,),
                             kw_only=True, module=record.__module__)


def documents_with(item: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """A document seen only for its items of type ``item`` (a narrowed :class:`Item` too)."""
    if item is Item:
        return DocumentItems
    return msgspec.defstruct(f"Document{item.__name__}", [("id", int), ("items", list[item] | None, None)],  # type: ignore[valid-type]
                             kw_only=True, module=item.__module__)


def flatten_items(documents: list[Any], item: type[msgspec.Struct]) -> tuple[list[Any], list[int]]:
    """The items of ``documents`` (from :func:`documents_with`), linked and keyed,
    and each document's item count. Fields a narrowed ``item`` type lacks are skipped."""
    fields = item.__struct_fields__
    link, place = "parentId" in fields, "position" in fields
    items: list[Any] = []
    counts: list[int] = []
    for document in documents:
        nested = document.items or ()
        for position, entry in enumerate(nested, 1):
            entry.key = f"{document.id}:{position}"
            if link:
                entry.parentId = document.id
            if place:
                entry.position = position
            items.append(entry)
        counts.append(len(nested))
    return items, counts
