"""Exact Online record types: one msgspec Struct per mirrored resource.

Field names are Exact's own (they become the replica's column names and the
``$select``). Narrow a type (or set ``fields`` in the configuration) to request
and store less.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from replicator.decoding import IsoTimestamp, iso_utc

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class ExactDate(IsoTimestamp):
    """An Exact ``/Date(ms)/`` value, stored as ISO-8601 UTC text.

    Exact's milliseconds are CET/CEST *wall-clock* time written as if it were UTC:
    ``/Date(1672531200000)/`` is 2023-01-01 00:00 in Amsterdam, 2022-12-31 23:00 UTC.
    """

    __slots__ = ()


_EPOCH = datetime(1970, 1, 1)
_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000
# Hot path: a sync page has thousands of dates. Amsterdam's UTC offset only changes
# on the hour, so it is looked up once per wall-clock hour; the date part of the
# text once per day. (A zoneinfo conversion plus strftime cost ~9 us a value.)
_OFFSET_MS: dict[int, int] = {}
_DAY_TEXT: dict[int, str] = {}


def _wall_ms_to_iso(wall_ms: int) -> str:
    hour = wall_ms // _HOUR_MS
    offset = _OFFSET_MS.get(hour)
    if offset is None:
        if len(_OFFSET_MS) > 200_000:
            _OFFSET_MS.clear()
        wall = (_EPOCH + timedelta(milliseconds=hour * _HOUR_MS)).replace(tzinfo=AMSTERDAM)
        utcoffset = wall.utcoffset()
        offset = int(utcoffset.total_seconds() * 1000) if utcoffset else 0
        _OFFSET_MS[hour] = offset
    day, rest = divmod(wall_ms - offset, _DAY_MS)
    prefix = _DAY_TEXT.get(day)
    if prefix is None:
        if len(_DAY_TEXT) > 200_000:
            _DAY_TEXT.clear()
        prefix = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%d")
        if len(prefix) != 10:  # years before 1000 or after 9999
            raise ValueError(f"date out of range: {prefix}")
        _DAY_TEXT[day] = prefix
    hours, rest = divmod(rest, _HOUR_MS)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{prefix}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


def parse_exact_date(value: str) -> ExactDate:
    """``/Date(ms)/`` (Amsterdam wall time) -> ISO UTC; ISO strings pass through."""
    if value.startswith("/Date(") and value.endswith(")/"):
        inner = value[6:-2]
        # "/Date(1672531200000+0100)/" also occurs in OData v2: the offset is informative.
        for sign in ("+", "-"):
            cut = inner.find(sign, 1)
            if cut > 0:
                inner = inner[:cut]
        return ExactDate(_wall_ms_to_iso(int(inner)))
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=AMSTERDAM)
    return ExactDate(iso_utc(parsed))


def exact_filter_datetime(iso: str) -> str:
    """ISO UTC text -> Exact's ``datetime'...'`` literal, in Amsterdam wall time."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(AMSTERDAM)
    return "datetime'" + moment.strftime("%Y-%m-%dT%H:%M:%S") + "'"


def dec_hook(tp: type, value: Any) -> Any:
    if tp is ExactDate and isinstance(value, str):
        try:
            return parse_exact_date(value)
        except (ValueError, OverflowError) as exc:
            # .NET's DateTime.MinValue and friends: outside what a datetime holds.
            raise ValueError(f"not an Exact date: {value!r}") from exc
    raise NotImplementedError(f"no decoder for {tp!r}")


class TransactionLine(msgspec.Struct, kw_only=True):
    ID: str
    Timestamp: int
    Division: int | None = None
    Date: ExactDate | None = None
    FinancialYear: int | None = None
    FinancialPeriod: int | None = None
    EntryNumber: int | None = None
    JournalCode: str | None = None
    GLAccount: str | None = None
    GLAccountCode: str | None = None
    Account: str | None = None
    AmountDC: float | None = None
    AmountFC: float | None = None
    Currency: str | None = None
    Description: str | None = None
    VATCode: str | None = None
    Type: int | None = None
    Created: ExactDate | None = None
    Modified: ExactDate | None = None


class Account(msgspec.Struct, kw_only=True):
    ID: str
    Timestamp: int
    Division: int | None = None
    Code: str | None = None
    Name: str | None = None
    Email: str | None = None
    Phone: str | None = None
    City: str | None = None
    Country: str | None = None
    VATNumber: str | None = None
    IsSupplier: bool | None = None
    Status: str | None = None
    Created: ExactDate | None = None
    Modified: ExactDate | None = None


class Contact(msgspec.Struct, kw_only=True):
    ID: str
    Timestamp: int
    Division: int | None = None
    Account: str | None = None
    FirstName: str | None = None
    LastName: str | None = None
    FullName: str | None = None
    Email: str | None = None
    Phone: str | None = None
    JobTitleDescription: str | None = None
    BirthDate: ExactDate | None = None
    Created: ExactDate | None = None
    Modified: ExactDate | None = None


class SalesInvoice(msgspec.Struct, kw_only=True):
    InvoiceID: str
    Timestamp: int
    Division: int | None = None
    InvoiceNumber: int | None = None
    InvoiceTo: str | None = None
    OrderedBy: str | None = None
    InvoiceDate: ExactDate | None = None
    DueDate: ExactDate | None = None
    Currency: str | None = None
    AmountDC: float | None = None
    VATAmountDC: float | None = None
    Status: int | None = None
    Description: str | None = None
    Created: ExactDate | None = None
    Modified: ExactDate | None = None


class GLAccount(msgspec.Struct, kw_only=True):
    ID: str
    Timestamp: int
    Division: int | None = None
    Code: str | None = None
    Description: str | None = None
    Type: int | None = None
    BalanceSide: str | None = None
    BalanceType: str | None = None
    Created: ExactDate | None = None
    Modified: ExactDate | None = None


class Item(msgspec.Struct, kw_only=True):
    ID: str
    Timestamp: int
    Division: int | None = None
    Code: str | None = None
    Description: str | None = None
    IsSalesItem: bool | None = None
    IsStockItem: bool | None = None
    CostPriceStandard: float | None = None
    Unit: str | None = None
    Created: ExactDate | None = None
    Modified: ExactDate | None = None


class Deleted(msgspec.Struct, kw_only=True):
    ID: str
    Timestamp: int
    Division: int | None = None
    EntityKey: str | None = None
    EntityType: int | None = None
    DeletedBy: str | None = None
    DeletedDate: ExactDate | None = None


class VATCode(msgspec.Struct, kw_only=True):
    ID: str
    Division: int | None = None
    Code: str | None = None
    Description: str | None = None
    Percentage: float | None = None
    Type: str | None = None
    Created: ExactDate | None = None
    Modified: ExactDate | None = None


class Division(msgspec.Struct, kw_only=True):
    Code: int
    Description: str | None = None


class Me(msgspec.Struct, kw_only=True):
    CurrentDivision: int
