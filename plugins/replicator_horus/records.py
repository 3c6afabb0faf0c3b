"""Horus Office record types: one msgspec Struct per mirrored or sideloaded type.

Field names are Horus's own PascalCase names (they become the replica's columns).
Little is verified beyond the seed [?], so every field but ``Id`` is optional and
unknown fields are ignored: a record decodes even when Horus adds or drops some.
``Created`` and ``Modified`` are stored as fixed-width ISO-8601 UTC text (what
:func:`replicator.decoding.iso_utc` writes), so that text order is time order and
``Modified`` can be an unordered cursor.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from replicator.decoding import IsoTimestamp, iso_utc


class HorusDateTime(IsoTimestamp):
    """A Horus instant (``2025-03-14T09:26:53.120Z``), stored as ISO-8601 UTC text."""

    __slots__ = ()


def parse_horus_datetime(value: str) -> HorusDateTime:
    """Any ISO-8601 instant -> the replica's fixed-width UTC text.

    Values without an offset are taken as UTC [?]: the seed shows none, and UTC is
    what the ``Z`` of the values seen so far says.

    Raises:
        ValueError: ``value`` is not an ISO-8601 datetime.
    """
    # Hot path: the shape Horus sends is already the stored shape.
    if len(value) == 24 and value[10] == "T" and value[19] == "." and value[23] == "Z":
        return HorusDateTime(value)
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return HorusDateTime(iso_utc(moment))


def modified_after(cursor: str, margin: float) -> str:
    """The ``ModifiedAfter`` to send for a stored cursor, ``margin`` seconds earlier.

    Horus filters ``Modified > ModifiedAfter`` (strictly, as far as the fake shows);
    going back a little re-reads the records of the cursor's last instant, which
    upserts make harmless, and survives a server that keeps less precision than
    the milliseconds it prints [?].
    """
    moment = datetime.fromisoformat(cursor.replace("Z", "+00:00"))
    return iso_utc(moment - timedelta(seconds=margin))


def dec_hook(tp: type, value: Any) -> Any:
    if tp is HorusDateTime and isinstance(value, str):
        try:
            return parse_horus_datetime(value)
        except ValueError as exc:
            raise ValueError(f"not an ISO-8601 datetime: {value!r}") from exc
    raise NotImplementedError(f"no decoder for {tp!r}")


class Folder(msgspec.Struct, kw_only=True):
    """A folder: one client company's accounting file, a tenant of the licence."""

    Id: str
    Name: str | None = None
    VatNumber: str | None = None
    Legislation: str | None = None
    City: str | None = None
    ResponsibleUserId: str | None = None
    Created: HorusDateTime | None = None
    Modified: HorusDateTime | None = None


class Company(msgspec.Struct, kw_only=True):
    """A customer, supplier or beneficiary of a folder."""

    Id: str
    FolderId: str | None = None
    Name: str | None = None
    VatNumber: str | None = None
    Iban: str | None = None
    Email: str | None = None
    City: str | None = None
    CountryCode: str | None = None
    IsCustomer: bool | None = None
    IsSupplier: bool | None = None
    PaymentMode: str | None = None
    Created: HorusDateTime | None = None
    Modified: HorusDateTime | None = None


class BookEntry(msgspec.Struct, kw_only=True):
    """An accounting entry (sales, purchase, bank, financial or miscellaneous)."""

    Id: str
    FolderId: str | None = None
    DaybookId: str | None = None
    CompanyId: str | None = None
    Number: str | None = None
    Date: str | None = None
    Amount: float | None = None
    Currency: str | None = None
    Description: str | None = None
    Created: HorusDateTime | None = None
    Modified: HorusDateTime | None = None


class AccountHistory(msgspec.Struct, kw_only=True):
    """One debit or credit movement on an account."""

    Id: str
    FolderId: str | None = None
    BookEntryId: str | None = None
    DaybookId: str | None = None
    CompanyId: str | None = None
    AccountNumber: str | None = None
    Date: str | None = None
    Debit: float | None = None
    Credit: float | None = None
    Description: str | None = None
    MatchNumber: int | None = None
    Created: HorusDateTime | None = None
    Modified: HorusDateTime | None = None


class SalesInvoice(msgspec.Struct, kw_only=True):
    """An open (unpaid or partly paid) sales invoice."""

    Id: str
    FolderId: str | None = None
    DaybookId: str | None = None
    CompanyId: str | None = None
    Number: str | None = None
    Date: str | None = None
    DueDate: str | None = None
    Amount: float | None = None
    OpenAmount: float | None = None
    Currency: str | None = None
    Status: str | None = None
    Created: HorusDateTime | None = None
    Modified: HorusDateTime | None = None


class Daybook(msgspec.Struct, kw_only=True):
    """A journal of a folder (sales, purchases, bank...); only ever sideloaded."""

    Id: str
    FolderId: str | None = None
    Code: str | None = None
    Name: str | None = None
    Type: str | None = None


class Paging(msgspec.Struct, kw_only=True):
    """The paging object, when a list has one [?]: every field may be missing.

    ``Next`` is a link to the next page, which some JSON-RPC-style APIs give; it
    is followed only on the connection's own API URL.
    """

    Page: int | None = None
    PageSize: int | None = None
    TotalPages: int | None = None
    TotalCount: int | None = None
    Next: str | None = None
