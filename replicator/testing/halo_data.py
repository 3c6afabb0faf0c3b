"""The deterministic data behind :class:`~replicator.testing.fake_halo.FakeHaloServer`.

What it simulates: the records of one HaloPSA instance (tenant) in the endpoints
the replicator mirrors, each with the envelope Halo serves it in:

* ``Client``, ``Tickets``, ``Site``, ``Users``: keyed lists (``clients``,
  ``tickets``, ``sites`` and, capitalised, ``Users``: PROVIDERS.md says "a few"
  keys are capitalised without naming them, so the fake capitalises this one) with
  a ``last_update`` timestamp that ``lastupdatefromdate`` filters on;
* ``Invoice`` (``invoices``, nested ``lines``) and ``Actions`` (``actions``): keyed
  lists without any modification filter, so only full scans see their changes;
* the accounting-integration records of the seed (``XeroDetails``,
  ``QuickBooksDetails``, ``SageBusinessCloudDetails``, ``MYOBdetails``,
  ``KashflowDetails``): bare arrays whose records hold secrets
  (``new_access_token``, ``new_refresh_token``, ``new_client_secret``,
  ``new_password``). Their fields are a subset of the seed's schemas; the seed
  gives no schema for ``KashflowDetails``, so its fields are a guess.

Ids are integers from 1 in every endpoint. Timestamps are ISO 8601 UTC without an
offset and with milliseconds (``2025-03-04T05:06:07.890``), as Halo writes them.
Every value is a pure function of ``(seed, tenant, resource, index)``; the initial
history lies in 2024-2025, before the virtual clock starts.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from replicator.testing.exact_data import Rng, guid

_EPOCH_2024 = 1_704_067_200  # 2024-01-01 00:00 UTC
_TWO_YEARS = 2 * 365 * 86_400 - 91 * 86_400
_WORDS = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Soylent")
_SUFFIX = ("Ltd", "BV", "GmbH", "Inc", "LLC", "plc")
_FIRST = ("Ann", "Bob", "Cleo", "Dirk", "Eva", "Femke", "Gus", "Hana", "Ivo", "Jet")
_LAST = ("Jansen", "Smith", "Muller", "Rossi", "Dubois", "Novak", "Berg", "Visser")


def halo_time(epoch: float) -> str:
    """Format an epoch second the way Halo writes timestamps (UTC, no offset, ms)."""
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")


def parse_halo_time(text: str) -> float:
    """An epoch second from an ISO 8601 date or date-time; without an offset it is UTC.

    Raises:
        ValueError: ``text`` is not ISO 8601.
    """
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@dataclass(frozen=True, slots=True)
class _Ctx:
    seed: int
    tenant: str
    counts: Mapping[str, int]

    def ref(self, rng: Rng, resource: str) -> int:
        """A random id of the initial records of ``resource`` (0 when there are none)."""
        n = self.counts.get(resource, 0)
        return rng.randrange(1, n + 1) if n else 0


Generator = Callable[[_Ctx, Rng, int], dict[str, Any]]
Changer = Callable[[dict[str, Any], Rng], None]


@dataclass(frozen=True, slots=True)
class HaloResource:
    """One Halo list endpoint.

    Attributes:
        name: the endpoint as in ``/api/{name}`` (matched case-insensitively).
        key: the list's key in ``{"record_count": n, key: [...]}``; ``None`` for a
            bare array.
        incremental: whether ``lastupdatefromdate`` filters it (on ``last_update``).
        secrets: fields holding credentials that must never be logged.
    """

    name: str
    key: str | None
    incremental: bool
    secrets: tuple[str, ...]
    make: Generator
    change: Changer


def _company(rng: Rng) -> str:
    return f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} {rng.choice(_SUFFIX)}"


def _person(rng: Rng) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _secret(ctx: _Ctx, rng: Rng, kind: str) -> str:
    return f"{kind}-{guid(ctx.seed, ctx.tenant, kind, rng.next64())}"


def _client(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    name = _company(rng)
    return {"name": name, "toplevel_id": 1 + rng.randrange(3), "inactive": rng.random() < 0.1,
            "website": f"https://{name.split()[0].lower()}{i}.example", "colour": f"#{rng.randrange(1 << 24):06x}",
            "accountsid": f"C{10000 + i}"}


def _ticket(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    return {"summary": f"Issue {i}: {rng.choice(('printer', 'VPN', 'mail', 'laptop', 'backup'))} broken",
            "client_id": ctx.ref(rng, "Client"), "site_id": ctx.ref(rng, "Site"), "user_id": ctx.ref(rng, "Users"),
            "status_id": rng.randrange(1, 10), "priority_id": rng.randrange(1, 5),
            "dateoccurred": halo_time(_EPOCH_2024 + rng.randrange(_TWO_YEARS))}


def _site(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    return {"name": f"{rng.choice(('Main', 'North', 'South', 'Depot'))} office {i}",
            "client_id": ctx.ref(rng, "Client"), "inactive": rng.random() < 0.05,
            "phonenumber": f"+31 20 {rng.randrange(1000000, 9999999)}"}


def _user(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    name = _person(rng)
    return {"name": name, "emailaddress": f"{name.replace(' ', '.').lower()}{i}@example.com",
            "client_id": ctx.ref(rng, "Client"), "site_id": ctx.ref(rng, "Site"), "inactive": rng.random() < 0.1}


def _invoice(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    lines: list[dict[str, Any]] = []
    for n in range(1, 1 + rng.randrange(1, 4)):
        qty, price = rng.randrange(1, 10), round(rng.uniform(5, 500), 2)
        lines.append({"id": i * 10 + n, "item_code": f"ITEM{rng.randrange(100)}", "qty": qty,
                      "unit_price": price, "net_amount": round(qty * price, 2)})
    issued = _EPOCH_2024 + rng.randrange(_TWO_YEARS)
    total = round(sum(float(line["net_amount"]) for line in lines) * 1.21, 2)
    return {"invoicenumber": f"INV-{i:06d}", "client_id": ctx.ref(rng, "Client"), "invoice_date": halo_time(issued),
            "duedate": halo_time(issued + 30 * 86_400), "total": total, "amountpaid": 0.0, "posted": True,
            "lines": lines}


def _action(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    return {"ticket_id": ctx.ref(rng, "Tickets"), "who": _person(rng), "note": f"Action {i}",
            "actiondatecreated": halo_time(_EPOCH_2024 + rng.randrange(_TWO_YEARS)),
            "timetaken": round(rng.uniform(0, 4), 2)}


def _xero(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    return {"name": f"Xero {i}", "tenant_id": guid(ctx.seed, ctx.tenant, "xero", i), "tenant_name": _company(rng),
            "new_access_token": _secret(ctx, rng, "xero-at"), "new_refresh_token": _secret(ctx, rng, "xero-rt"),
            "token_expiry": halo_time(_EPOCH_2024 + rng.randrange(_TWO_YEARS)), "authorized": True,
            "client_id": f"xero-app-{i}", "new_client_secret": _secret(ctx, rng, "xero-cs"), "isdefault": i == 1,
            "enablesync": True, "sync_entities": "clients,invoices", "app_type": 0}


def _quickbooks(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    return {"name": f"QuickBooks {i}", "country": "US", "company_id": str(rng.randrange(10**9, 10**10)),
            "company_name": _company(rng), "new_access_token": _secret(ctx, rng, "qbo-at"),
            "new_refresh_token": _secret(ctx, rng, "qbo-rt"), "authorized": True, "client_id": f"qbo-app-{i}",
            "new_client_secret": _secret(ctx, rng, "qbo-cs"), "api_url": "https://quickbooks.api.intuit.com",
            "enable_sync": True, "sync_entities": "clients,invoices,payments", "app_type": 0, "instance_type": 0}


def _sage(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    return {"name": f"Sage {i}", "isauthorized": True, "client_id": f"sage-app-{i}",
            "new_client_secret": _secret(ctx, rng, "sage-cs"), "new_access_token": _secret(ctx, rng, "sage-at"),
            "new_refresh_token": _secret(ctx, rng, "sage-rt"), "enablesync": rng.random() < 0.5,
            "syncentities": "invoices", "app_type": 0}


def _myob(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    return {"isdesktop": False, "url": "https://api.myob.com/accountright", "company_id": guid(ctx.seed, "myob", i),
            "company_name": _company(rng), "client_id": f"myob-app-{i}",
            "new_client_secret": _secret(ctx, rng, "myob-cs"), "authorized": True, "username": f"myob{i}",
            "new_password": _secret(ctx, rng, "myob-pw"), "new_access_token": _secret(ctx, rng, "myob-at"),
            "new_refresh_token": _secret(ctx, rng, "myob-rt"), "enablesync": True}


def _kashflow(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    return {"name": f"Kashflow {i}", "username": f"kashflow{i}", "new_password": _secret(ctx, rng, "kf-pw"),
            "enabled": True, "tenant_id": i}


def _rename(rec: dict[str, Any], rng: Rng) -> None:
    rec["name"] = f"{rec['name'].split(' (')[0]} ({rng.randrange(1000)})"


def _change_ticket(rec: dict[str, Any], rng: Rng) -> None:
    rec["status_id"] = rng.randrange(1, 10)


def _change_invoice(rec: dict[str, Any], rng: Rng) -> None:
    rec["amountpaid"] = round(rec["total"] * rng.choice((0.5, 1.0)), 2)


def _change_action(rec: dict[str, Any], rng: Rng) -> None:
    rec["timetaken"] = round(rng.uniform(0, 4), 2)


def _change_secret(rec: dict[str, Any], rng: Rng) -> None:
    for name in ("new_access_token", "new_password"):
        if name in rec:
            rec[name] = f"{rec[name].rsplit('~', 1)[0]}~{rng.next64():x}"


_SECRETS = ("new_access_token", "new_refresh_token", "new_client_secret", "new_password")

RESOURCES: dict[str, HaloResource] = {spec.name: spec for spec in (
    HaloResource("Client", "clients", True, (), _client, _rename),
    HaloResource("Tickets", "tickets", True, (), _ticket, _change_ticket),
    HaloResource("Site", "sites", True, (), _site, _rename),
    HaloResource("Users", "Users", True, (), _user, _rename),
    HaloResource("Invoice", "invoices", False, (), _invoice, _change_invoice),
    HaloResource("Actions", "actions", False, (), _action, _change_action),
    HaloResource("XeroDetails", None, False, _SECRETS, _xero, _change_secret),
    HaloResource("QuickBooksDetails", None, False, _SECRETS, _quickbooks, _change_secret),
    HaloResource("SageBusinessCloudDetails", None, False, _SECRETS, _sage, _change_secret),
    HaloResource("MYOBdetails", None, False, _SECRETS, _myob, _change_secret),
    HaloResource("KashflowDetails", None, False, _SECRETS, _kashflow, _change_secret),
)}
RESOURCES_BY_PATH = {name.lower(): spec for name, spec in RESOURCES.items()}
DETAIL_RECORDS = 2
"""Initial records of each ``*Details`` endpoint when ``records`` is one number."""


def check_resource(name: str) -> HaloResource:
    """The endpoint called ``name`` (case-insensitive), or a ValueError listing them."""
    spec = RESOURCES_BY_PATH.get(name.lower())
    if spec is None:
        raise ValueError(f"unknown Halo resource {name!r}; expected one of {sorted(RESOURCES)}")
    return spec


class TenantData:
    """All records of one Halo tenant, generated on first use, keyed by id.

    Args:
        seed: the server seed.
        tenant: the tenant name.
        counts: initial records per resource name (every name present).
    """

    __slots__ = ("_ctx", "_mutations", "_next_id", "tables")

    def __init__(self, seed: int, tenant: str, counts: Mapping[str, int]) -> None:
        self._ctx = _Ctx(seed, tenant, dict(counts))
        self._next_id = {name: counts[name] + 1 for name in RESOURCES}
        self._mutations = 0
        self.tables: dict[str, dict[int, dict[str, Any]]] = {}

    def table(self, resource: str) -> dict[int, dict[str, Any]]:
        """The records of ``resource`` by id, in ascending id order."""
        spec = check_resource(resource)
        table = self.tables.get(spec.name)
        if table is None:
            table = self.tables[spec.name] = {
                i: self._make(spec, i, None) for i in range(1, self._ctx.counts[spec.name] + 1)}
        return table

    def _make(self, spec: HaloResource, i: int, now: float | None) -> dict[str, Any]:
        rng = Rng(f"{self._ctx.seed}/{self._ctx.tenant}/{spec.name}/{i}")
        rec: dict[str, Any] = {"id": i, **spec.make(self._ctx, rng, i)}
        if spec.incremental:
            rec["last_update"] = halo_time(now if now is not None else _EPOCH_2024 + rng.randrange(_TWO_YEARS))
        return rec

    def mutate(self, resource: str, *, add: int, change: int, delete: int, now: float) -> None:
        """Add, change and delete records as Halo users would between two runs.

        Changed and added records get ``last_update = now`` where the endpoint has
        one; deleted records simply disappear (Halo has no deletion feed).

        Raises:
            ValueError: negative counts, or fewer records than ``change + delete``.
        """
        spec = check_resource(resource)
        if min(add, change, delete) < 0:
            raise ValueError("add, change and delete must not be negative")
        table = self.table(spec.name)
        if change + delete > len(table):
            raise ValueError(f"{spec.name} of {self._ctx.tenant} has only {len(table)} records")
        self._mutations += 1
        label = f"{self._ctx.seed}/{self._ctx.tenant}/{spec.name}/mutation/{self._mutations}"
        picked = random.Random(label).sample(sorted(table), change + delete)
        rng = Rng(label)
        for key in picked[:change]:
            spec.change(table[key], rng)
            if spec.incremental:
                table[key]["last_update"] = halo_time(now)
        for key in picked[change:]:
            del table[key]
        for _ in range(add):
            i = self._next_id[spec.name]
            self._next_id[spec.name] = i + 1
            table[i] = self._make(spec, i, now)

    def expected(self, resource: str) -> dict[int, dict[str, Any]]:
        """A deep copy of the records of ``resource`` by id, as served."""
        return copy.deepcopy(self.table(resource))

    def secret_values(self) -> set[str]:
        """Every secret value this tenant's records hold (for "never logged" checks)."""
        found: set[str] = set()
        for spec in RESOURCES.values():
            for rec in self.table(spec.name).values():
                found.update(str(rec[name]) for name in spec.secrets if rec.get(name))
        return found


__all__ = ["DETAIL_RECORDS", "RESOURCES", "HaloResource", "TenantData", "check_resource", "halo_time",
           "parse_halo_time"]
