"""Accounteer record types: one msgspec Struct per mirrored resource.

The field names are Accounteer's own (snake_case, as the fake server and the
seed's examples suggest; little of it is verified): they become the replica's
column names. A field that is not declared here is never decoded and never
stored, so leaving a field out is how a record is kept small (or kept free of
something the replica must not hold).

The field types choose the column types (see :mod:`replicator.decoding.records`):

- ``int``, ``float``, ``str`` -> integer, real, text;
- ``datetime`` -> ISO-8601 UTC text with milliseconds (``2025-03-14T09:26:53.000Z``):
  msgspec parses Accounteer's ``2025-03-14T09:26:53+00:00`` and the engine writes
  one sortable representation, whatever offset the API used;
- ``date`` -> ``YYYY-MM-DD`` text;
- lists and dicts -> compact JSON text (invoice and purchase ``lines``).

Every field but the key has a default: an API that leaves a field out (or a
connection that narrows the record with ``fields``) must not break decoding.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

# An invoice or purchase line, kept as a plain dict: the lines go into one JSON
# column of their document, exactly as the API sent them (key order included).
# ``msgspec.Raw`` would skip even that decoding, but it cannot be optional.
Lines = list[dict[str, Any]]


class Organisation(msgspec.Struct, kw_only=True):
    """The organisation (an "administration") the token is bound to: the tenant."""

    id: int
    name: str | None = None
    legal_name: str | None = None
    email: str | None = None
    currency: str | None = None
    city: str | None = None
    country: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class Contact(msgspec.Struct, kw_only=True):
    id: int
    organisation_id: int | None = None
    type: str | None = None  # "customer" or "supplier"
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    vat_number: str | None = None
    city: str | None = None
    country: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class Tax(msgspec.Struct, kw_only=True):
    id: int
    organisation_id: int | None = None
    name: str | None = None
    rate: float | None = None  # percent
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class Item(msgspec.Struct, kw_only=True):
    id: int
    organisation_id: int | None = None
    code: str | None = None
    name: str | None = None
    price: float | None = None
    tax_id: int | None = None
    unit: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class Invoice(msgspec.Struct, kw_only=True):
    """A sales invoice, its lines nested as one JSON column."""

    id: int
    organisation_id: int | None = None
    number: str | None = None
    contact_id: int | None = None
    date: dt.date | None = None
    due_date: dt.date | None = None
    currency: str | None = None
    sub_total: float | None = None
    tax_total: float | None = None
    total: float | None = None
    status: str | None = None
    lines: Lines | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class Purchase(Invoice, kw_only=True):
    """A purchase (a supplier's invoice): the same shape as a sales invoice."""


class Journal(msgspec.Struct, kw_only=True):
    id: int
    organisation_id: int | None = None
    date: dt.date | None = None
    reference: str | None = None
    description: str | None = None
    account_code: str | None = None
    debit: float | None = None
    credit: float | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
