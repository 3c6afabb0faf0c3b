"""The deterministic data model behind :class:`~replicator.testing.fake_accounteer.FakeAccounteerServer`.

What it simulates: the records one Accounteer organisation (an "administration",
the tenant an OAuth grant is bound to) holds in the resources the replicator
mirrors: the organisation itself, contacts, taxes, items, invoices (with their
lines), purchases and journals.

Field names and formats are a plausible design, not verified [?]: snake_case
keys, integer ids (the seed's JWTs carry ``"business": 62``, an integer),
``*_id`` references between records of the same organisation, dates
``YYYY-MM-DD`` and timestamps ``2025-03-14T09:26:53+00:00`` (PHP's ATOM format:
the token endpoint is a Symfony FOSOAuthServerBundle one, ``/oauth/v2/token``
with ``2_``-prefixed client ids).

Every value is a pure function of ``(seed, organisation, resource, index)``; ids
are ``(organisation position + 1) * 10**7 + index + 1``, so they never collide
between organisations, as auto-increment ids would not. Tables are built on
first use.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from replicator.testing.exact_data import Rng
from replicator.testing.fakebase import OrderedRows

RESOURCES = ("organisations", "contacts", "taxes", "items", "invoices", "purchases", "journals")
ORGANISATION_RESOURCES = RESOURCES[1:]
_ID_STRIDE = 10_000_000


def check_resource(name: str) -> str:
    """``name`` if it is a resource; ``ValueError`` listing the valid names otherwise."""
    if name not in RESOURCES:
        raise ValueError(f"unknown resource {name!r}; valid: {', '.join(RESOURCES)}")
    return name


def accounteer_datetime(epoch: float) -> str:
    """An ``*_at`` timestamp: ``2026-01-05T09:00:00+00:00`` (whole seconds)."""
    return datetime.fromtimestamp(int(epoch), UTC).isoformat()


_EPOCH_2024 = 1_704_067_200
_DAY_2024 = date(2024, 1, 1).toordinal()
_DAYS_TWO_YEARS = 731
_SECONDS_CREATED = (_DAYS_TWO_YEARS - 91) * 86_400

_NAMES = ("Okafor", "Adeyemi", "Mensah", "Smith", "Janssen", "Bello", "Nwosu", "Clark", "Eze", "Owusu")
_TRADES = ("Foods", "Logistics", "Consulting", "Builders", "Media", "Farms", "Tech", "Pharmacy")
_FORMS = ("Ltd", "BV", "Plc", "& Co", "Enterprises")
_CITIES = (("Lagos", "NG"), ("Abuja", "NG"), ("Accra", "GH"), ("Amsterdam", "NL"), ("London", "GB"))
_TAXES = (("VAT standard", 7.5), ("VAT zero", 0.0), ("VAT 21%", 21.0), ("Exempt", 0.0))
_PRODUCTS = ("Consulting hour", "Delivery", "Licence", "Cement bag", "Rice 50kg", "Laptop", "Repair")
_ACCOUNTS = ("1000", "1100", "1200", "2000", "4000", "5000", "6100", "7000")


def _name(rng: Rng) -> str:
    return f"{rng.choice(_NAMES)} {rng.choice(_TRADES)} {rng.choice(_FORMS)}"


def _amount(rng: Rng, low: float, high: float) -> float:
    return round(rng.uniform(low, high), 2)


class _Ctx:
    """What a generator may read about the organisation it generates for."""

    __slots__ = ("base", "counts", "organisation")

    def __init__(self, organisation: int, position: int, counts: Mapping[str, int]) -> None:
        self.organisation, self.counts = organisation, counts
        self.base = (position + 1) * _ID_STRIDE

    def ref(self, resource: str, rng: Rng) -> int | None:
        """The id of a random initial record of ``resource`` (``None`` if there are none)."""
        count = self.counts[resource]
        return self.base + rng.randrange(count) + 1 if count else None


def _gen_contact(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    name = _name(rng)
    city, country = rng.choice(_CITIES)
    return {"type": "customer" if rng.random() < 0.7 else "supplier", "name": name,
            "email": f"info{i}@{name.split()[0].lower()}.example", "phone": f"+234 80{rng.randrange(10**7, 10**8)}",
            "vat_number": f"{country}{rng.randrange(10**8, 10**9)}" if rng.random() < 0.5 else None,
            "city": city, "country": country}


def _gen_tax(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    name, rate = _TAXES[i % len(_TAXES)]
    return {"name": name if i < len(_TAXES) else f"{name} {i}", "rate": rate}


def _gen_item(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    return {"code": f"ITM{i + 1:05d}", "name": rng.choice(_PRODUCTS), "price": _amount(rng, 1, 2_000),
            "tax_id": ctx.ref("taxes", rng), "unit": rng.choice(("pcs", "hr", "kg"))}


def _document(ctx: _Ctx, rng: Rng, i: int, prefix: str) -> dict[str, Any]:
    day = _DAY_2024 + rng.randrange(_DAYS_TWO_YEARS)
    lines: list[dict[str, Any]] = []
    for _ in range(1 + rng.randrange(3)):
        quantity = 1 + rng.randrange(10)
        price = _amount(rng, 5, 1_500)
        lines.append({"item_id": ctx.ref("items", rng), "description": rng.choice(_PRODUCTS),
                      "quantity": quantity, "unit_price": price, "amount": round(quantity * price, 2)})
    sub_total = round(sum(line["amount"] for line in lines), 2)
    tax_total = round(sub_total * 0.075, 2)
    return {"number": f"{prefix}-{date.fromordinal(day).year}-{i + 1:05d}", "contact_id": ctx.ref("contacts", rng),
            "date": date.fromordinal(day).isoformat(), "due_date": date.fromordinal(day + 30).isoformat(),
            "currency": "NGN" if rng.random() < 0.7 else "EUR", "sub_total": sub_total, "tax_total": tax_total,
            "total": round(sub_total + tax_total, 2), "status": rng.choice(("draft", "approved", "paid")),
            "lines": lines}


def _gen_journal(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    amount = _amount(rng, 1, 50_000)
    debit = rng.random() < 0.5
    return {"date": date.fromordinal(_DAY_2024 + rng.randrange(_DAYS_TWO_YEARS)).isoformat(),
            "reference": f"JNL{i + 1:06d}", "description": f"Journal {i + 1}", "account_code": rng.choice(_ACCOUNTS),
            "debit": amount if debit else 0.0, "credit": 0.0 if debit else amount}


_Generator = Callable[[_Ctx, Rng, int], dict[str, Any]]
_GENERATORS: dict[str, _Generator] = {
    "contacts": _gen_contact, "taxes": _gen_tax, "items": _gen_item,
    "invoices": lambda ctx, rng, i: _document(ctx, rng, i, "INV"),
    "purchases": lambda ctx, rng, i: _document(ctx, rng, i, "PUR"),
    "journals": _gen_journal,
}
_CHANGERS: dict[str, Callable[[dict[str, Any], Rng], None]] = {
    "organisations": lambda rec, rng: rec.update(email=f"admin{rng.randrange(10**6)}@example.com"),
    "contacts": lambda rec, rng: rec.update(phone=f"+234 81{rng.randrange(10**7, 10**8)}"),
    "taxes": lambda rec, rng: rec.update(rate=round(rng.uniform(0, 25), 1)),
    "items": lambda rec, rng: rec.update(price=_amount(rng, 1, 2_000)),
    "invoices": lambda rec, rng: rec.update(status="paid"),
    "purchases": lambda rec, rng: rec.update(status="paid"),
    "journals": lambda rec, rng: rec.update(description=f"Corrected {rng.randrange(10**6)}"),
}


def _stamps(rng: Rng, now: float | None) -> tuple[str, str]:
    if now is not None:
        return accounteer_datetime(now), accounteer_datetime(now)
    created = _EPOCH_2024 + rng.randrange(_SECONDS_CREATED)
    return accounteer_datetime(created), accounteer_datetime(created + rng.randrange(90 * 86_400))




class OrganisationData:
    """The organisation record and, lazily, its tables.

    Args:
        seed: the server seed.
        organisation: the organisation id.
        position: its position among the server's organisations (for ids).
        counts: initial records per resource (every name of
            :data:`ORGANISATION_RESOURCES` present).
    """

    __slots__ = ("_ctx", "_mutations", "_next_index", "seed", "tables")

    def __init__(self, seed: int, organisation: int, position: int, counts: Mapping[str, int]) -> None:
        self.seed = seed
        self._ctx = _Ctx(organisation, position, counts)
        self._next_index = dict(counts)
        self._mutations = 0
        self.tables: dict[str, OrderedRows] = {}

    def _rng(self, resource: str, i: int) -> Rng:
        return Rng(f"{self.seed}/{self._ctx.organisation}/{resource}/{i}")

    def table(self, resource: str) -> OrderedRows:
        """The table of ``resource``, generated on first use."""
        table = self.tables.get(check_resource(resource))
        if table is None:
            table = self.tables[resource] = OrderedRows("id")
            if resource == "organisations":
                table.put(self._organisation())
            else:
                for i in range(self._ctx.counts[resource]):
                    table.put(self._make(resource, i, None))
        return table

    def _organisation(self) -> dict[str, Any]:
        rng = self._rng("organisations", 0)
        name = _name(rng)
        city, country = rng.choice(_CITIES)
        rec: dict[str, Any] = {"id": self._ctx.organisation, "name": name, "legal_name": name.upper(),
                               "email": f"admin@{name.split()[0].lower()}.example", "currency": "NGN",
                               "city": city, "country": country}
        rec["created_at"], rec["updated_at"] = _stamps(rng, None)
        return rec

    def _make(self, resource: str, i: int, now: float | None) -> dict[str, Any]:
        rng = self._rng(resource, i)
        rec: dict[str, Any] = {"id": self._ctx.base + i + 1, "organisation_id": self._ctx.organisation}
        rec.update(_GENERATORS[resource](self._ctx, rng, i))
        rec["created_at"], rec["updated_at"] = _stamps(rng, now)
        return rec

    def mutate(self, resource: str, *, add: int, change: int, delete: int, now: float) -> None:
        """Add, change and delete records as a user would between two runs.

        Changed and added records get ``updated_at`` (added ones ``created_at``) =
        ``now``; a deletion removes the record (no deletion feed is known [?]).

        Raises:
            ValueError: negative counts, more changes plus deletions than records, or
                an attempt to add or delete organisations.
        """
        if min(add, change, delete) < 0:
            raise ValueError("add, change and delete must not be negative")
        if resource == "organisations" and (add or delete):
            raise ValueError("an organisation can only be changed")
        table = self.table(resource)
        if change + delete > len(table.rows):
            raise ValueError(f"{resource} of {self._ctx.organisation} has only {len(table.rows)} records")
        self._mutations += 1
        label = f"{self.seed}/{self._ctx.organisation}/{resource}/mutation/{self._mutations}"
        picked = random.Random(label).sample(sorted(table.rows), change + delete)
        rng = Rng(label)
        stamp = accounteer_datetime(now)
        for key in picked[:change]:
            rec = dict(table.rows[key])
            _CHANGERS[resource](rec, rng)
            rec["updated_at"] = stamp
            table.put(rec)
        for key in picked[change:]:
            table.remove(key)
        for _ in range(add):
            i = self._next_index[resource]
            self._next_index[resource] = i + 1
            table.put(self._make(resource, i, now))


__all__ = [
    "ORGANISATION_RESOURCES",
    "RESOURCES",
    "OrderedRows",
    "OrganisationData",
    "accounteer_datetime",
    "check_resource",
]
