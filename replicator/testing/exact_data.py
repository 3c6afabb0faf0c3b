"""The deterministic data model behind :class:`~replicator.testing.fake_exact.FakeExactServer`.

What it simulates: the rows one Exact Online division holds in the entities the
replicator mirrors (transaction lines, accounts, contacts, sales invoices, GL
accounts, items, VAT codes) and the ``sync/Deleted`` feed, with Exact's own
quirks kept intact:

* every sync row carries ``Timestamp``, an Int64 rowversion taken from **one**
  strictly increasing counter per division (shared by all of its entities);
* dates are ``"/Date(<ms>)/"`` strings whose milliseconds count the
  Europe/Amsterdam *wall clock*, not UTC (see :func:`exact_date`);
* keys are GUID strings, references between entities point at real keys.

Every value is a pure function of ``(seed, division, resource, index)``, so two
servers built with the same arguments serve byte-identical data, and a record
does not change when the number of records around it does. Tables are built
lazily on first use and rows are kept as tuples (not dicts) because benchmarks
hold millions of them; JSON for a ``$select`` is encoded once per row and cached.

The OData query options the fake understands (``$select``, ``$filter`` on
Timestamp or Created/Modified, ``$skiptoken``, ``$top``) are parsed here too, as
pure functions raising :class:`QueryError` with the text Exact would answer 400 with.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import random
import re
import struct
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import orjson

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_EPOCH_NAIVE = datetime(1970, 1, 1)
_DATE_RE = re.compile(r"/Date\((-?\d+)\)/")
_DAY_MS = 86_400_000
T = TypeVar("T")

# ---------------------------------------------------------------------------
# Dates


def exact_date(dt: datetime) -> str:
    """Format a datetime the way Exact serialises it: ``"/Date(<ms>)/"``.

    The milliseconds are those of the Europe/Amsterdam wall-clock time read as if
    it were UTC (Exact's CET/CEST quirk). A naive ``dt`` is taken to be that wall
    clock already.
    """
    local = dt if dt.tzinfo is None else dt.astimezone(AMSTERDAM).replace(tzinfo=None)
    return f"/Date({(local - _EPOCH_NAIVE) // timedelta(milliseconds=1)})/"


def parse_exact_date(value: str) -> datetime:
    """Inverse of :func:`exact_date`: an aware Europe/Amsterdam datetime.

    Raises:
        ValueError: ``value`` is not a ``/Date(<ms>)/`` string.
    """
    match = _DATE_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"not an Exact date: {value!r}")
    naive = _EPOCH_NAIVE + timedelta(milliseconds=int(match.group(1)))
    return naive.replace(tzinfo=AMSTERDAM)


def exact_ms(epoch: float) -> int:
    """Exact's wall-clock milliseconds for an epoch second (see :func:`exact_date`)."""
    return round(epoch * 1000) + _offset_ms(int(epoch // 3600))


@functools.lru_cache(maxsize=1 << 16)
def _offset_ms(hour: int) -> int:
    # Amsterdam switches between CET and CEST on whole UTC hours, so one lookup per
    # hour is exact; generating records calls this hundreds of thousands of times.
    offset = datetime.fromtimestamp(hour * 3600, AMSTERDAM).utcoffset() or timedelta(0)
    return offset // timedelta(milliseconds=1)


def exact_date_from_epoch(epoch: float) -> str:
    """``"/Date(<ms>)/"`` for an epoch second, e.g. the injected clock's ``time()``."""
    return f"/Date({exact_ms(epoch)})/"


def _day(ordinal: int) -> str:
    # A date-only field is local midnight, which in Exact's encoding is UTC midnight.
    return f"/Date({(ordinal - _ORDINAL_1970) * _DAY_MS})/"


_ORDINAL_1970 = date(1970, 1, 1).toordinal()
_DAY_2024 = date(2024, 1, 1).toordinal()
_DAYS_TWO_YEARS = 731
_EPOCH_2024 = 1_704_063_600  # 2024-01-01 00:00 Amsterdam
# Initial rows are created in 2024-2025 and modified at most 90 days later, so the
# whole generated history precedes 2026, where the VirtualClock starts.
_SECONDS_CREATED = (_DAYS_TWO_YEARS - 91) * 86_400
_SECONDS_TWO_YEARS = _DAYS_TWO_YEARS * 86_400


def guid(*parts: object) -> str:
    """A deterministic GUID string (version 4 layout) derived from ``parts``.

    Equal to ``str(uuid.UUID(bytes=<blake2b-128 of parts>, version=4))``, formatted
    by hand because ``uuid.UUID`` costs more than the rest of a record.
    """
    h = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=16).hexdigest()
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


_UNPACK8 = struct.Struct("<8Q").unpack


class Rng:
    """Deterministic numbers drawn from BLAKE2b digests of a seed string.

    ``random.Random(str)`` spends 3-4 us initialising its state, more than
    building the record it is for; one 64-byte digest gives eight 64-bit draws,
    which covers most records, and a counter extends the stream when needed.
    """

    __slots__ = ("_pool", "_round", "_seed")

    def __init__(self, seed: str) -> None:
        self._seed = seed.encode()
        self._round = 0
        self._pool: list[int] = []

    def next64(self) -> int:
        """The next 64-bit value."""
        if not self._pool:
            digest = hashlib.blake2b(self._seed, salt=self._round.to_bytes(16, "little"))
            self._pool = list(_UNPACK8(digest.digest()))
            self._round += 1
        return self._pool.pop()

    def randrange(self, start: int, stop: int | None = None) -> int:
        """An int in ``[0, start)`` or ``[start, stop)`` (modulo bias is irrelevant here)."""
        if stop is None:
            return self.next64() % start
        return start + self.next64() % (stop - start)

    def random(self) -> float:
        """A float in ``[0, 1)``."""
        return self.next64() / 18446744073709551616.0

    def uniform(self, low: float, high: float) -> float:
        """A float in ``[low, high)``."""
        return low + (high - low) * self.random()

    def choice(self, seq: Sequence[T]) -> T:
        """One element of ``seq``."""
        return seq[self.next64() % len(seq)]


# ---------------------------------------------------------------------------
# Resources


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """One Exact entity as the fake serves it.

    Attributes:
        name: the replicator's resource name (``transaction_lines``).
        path: the URL tail after ``/api/v1/{division}/``.
        key: the key field.
        fields: every field, in the order the API serialises them.
        model: the ``__metadata.type`` of a row.
        sync: a ``sync/`` endpoint (Timestamp paging) rather than a regular one.
        entity_type: the ``EntityType`` code the ``sync/Deleted`` feed uses.
    """

    name: str
    path: str
    key: str
    fields: tuple[str, ...]
    model: str
    sync: bool = True
    entity_type: int | None = None

    def index(self, field: str) -> int:
        """Position of ``field`` in a row tuple."""
        return self.fields.index(field)


_COMMON = ("Timestamp", "Division")
_AUDIT = ("Created", "Modified")

RESOURCES: dict[str, ResourceSpec] = {
    spec.name: spec
    for spec in (
        ResourceSpec(
            "transaction_lines", "sync/Financial/TransactionLines", "ID",
            ("ID", *_COMMON, "Date", "FinancialYear", "FinancialPeriod", "EntryNumber",
             "JournalCode", "GLAccount", "GLAccountCode", "Account", "AmountDC", "AmountFC",
             "Currency", "Description", "VATCode", "Type", *_AUDIT),
            "Exact.Web.Api.Models.Sync.Financial.TransactionLine", entity_type=1,
        ),
        ResourceSpec(
            "accounts", "sync/CRM/Accounts", "ID",
            ("ID", *_COMMON, "Code", "Name", "Email", "Phone", "City", "Country", "VATNumber",
             "IsSupplier", "Status", *_AUDIT),
            "Exact.Web.Api.Models.Sync.CRM.Account", entity_type=2,
        ),
        ResourceSpec(
            "contacts", "sync/CRM/Contacts", "ID",
            ("ID", *_COMMON, "Account", "FirstName", "LastName", "FullName", "Email", "Phone",
             "JobTitleDescription", "BirthDate", *_AUDIT),
            "Exact.Web.Api.Models.Sync.CRM.Contact", entity_type=5,
        ),
        ResourceSpec(
            "sales_invoices", "sync/SalesInvoice/SalesInvoices", "InvoiceID",
            ("InvoiceID", *_COMMON, "InvoiceNumber", "InvoiceTo", "OrderedBy", "InvoiceDate",
             "DueDate", "Currency", "AmountDC", "VATAmountDC", "Status", "Description", *_AUDIT),
            "Exact.Web.Api.Models.Sync.SalesInvoice.SalesInvoice", entity_type=13,
        ),
        ResourceSpec(
            "gl_accounts", "sync/Financial/GLAccounts", "ID",
            ("ID", *_COMMON, "Code", "Description", "Type", "BalanceSide", "BalanceType",
             *_AUDIT),
            "Exact.Web.Api.Models.Sync.Financial.GLAccount", entity_type=7,
        ),
        ResourceSpec(
            "items", "sync/Logistics/Items", "ID",
            ("ID", *_COMMON, "Code", "Description", "IsSalesItem", "IsStockItem",
             "CostPriceStandard", "Unit", *_AUDIT),
            "Exact.Web.Api.Models.Sync.Logistics.Item", entity_type=9,
        ),
        ResourceSpec(
            "deleted", "sync/Deleted", "ID",
            ("ID", *_COMMON, "EntityKey", "EntityType", "DeletedBy", "DeletedDate"),
            "Exact.Web.Api.Models.Sync.Deleted",
        ),
        ResourceSpec(
            "vat_codes", "vat/VATCodes", "ID",
            ("ID", "Division", "Code", "Description", "Percentage", "Type", *_AUDIT),
            "Exact.Web.Api.Models.VAT.VATCode", sync=False,
        ),
    )
}
RESOURCES_BY_PATH: dict[str, ResourceSpec] = {spec.path: spec for spec in RESOURCES.values()}
DIVISION_FIELDS = ("Code", "Description", "HID", "Customer", "Country", "Currency", "Main",
                   *_AUDIT)

# Initial rows interleave their rowversions: record i of the resource in slot s
# gets base + i * _STRIDE + s, so a table can be generated alone (lazily)
# without knowing the others, and the division's counter still never repeats.
_STRIDE = 8
_SLOTS = {name: slot for slot, name in enumerate(n for n, s in RESOURCES.items() if s.sync)}


def check_resource(name: str) -> ResourceSpec:
    """The spec for ``name``; ``ValueError`` listing the valid names otherwise."""
    try:
        return RESOURCES[name]
    except KeyError:
        raise ValueError(f"unknown resource {name!r}; valid: {', '.join(RESOURCES)}") from None


# ---------------------------------------------------------------------------
# Record generators: each returns the resource-specific fields of record ``i``.

_FIRST = ("Anna", "Bram", "Daan", "Emma", "Femke", "Jan", "Julia", "Lars", "Lotte", "Noah",
          "Sanne", "Sem", "Tess", "Thijs", "Eva", "Ruben", "Zoë", "Chloé")
_LAST = ("de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer",
         "de Boer", "Mulder", "Bos", "Vos", "Peters", "Hendriks", "Müller")
_CITIES = (("Amsterdam", "NL"), ("Rotterdam", "NL"), ("Utrecht", "NL"), ("Eindhoven", "NL"),
           ("Groningen", "NL"), ("'s-Hertogenbosch", "NL"), ("Antwerpen", "BE"),
           ("Gent", "BE"), ("Düsseldorf", "DE"))
_TRADES = ("Bakkerij", "Installatie", "Bouw", "Transport", "Advies", "Techniek",
           "Groothandel", "Zorg", "Media", "Logistiek")
_FORMS = ("B.V.", "V.O.F.", "N.V.", "& Zonen", "Holding B.V.")
_JOBS = ("Directeur", "Boekhouder", "Inkoper", "Office manager", "Controller", "Eigenaar")
_JOURNALS = (("10", "Kas"), ("20", "Bank"), ("60", "Inkoop"), ("70", "Verkoop"),
             ("90", "Memoriaal"))
_CHART = (("Kas", 10, "D", "B"), ("Bank", 12, "D", "B"), ("Debiteuren", 20, "D", "B"),
          ("Crediteuren", 22, "C", "B"), ("Te betalen btw", 24, "C", "B"),
          ("Omzet", 110, "C", "W"), ("Inkoopwaarde omzet", 111, "D", "W"),
          ("Huisvestingskosten", 121, "D", "W"), ("Lonen en salarissen", 121, "D", "W"),
          ("Algemene kosten", 121, "D", "W"))
_PRODUCTS = ("Koffiebonen", "Montage", "Adviesuur", "Kabel", "Pallet", "Licentie", "Schroef",
             "Onderhoud")
_UNITS = ("pc", "hr", "kg", "m")
_VAT = (("Hoog", 0.21), ("Laag", 0.09), ("Nul", 0.0), ("Verlegd", 0.0))


class _Ctx:
    """What a generator may read about the division it generates for."""

    __slots__ = ("_keys", "counts", "division", "seed")

    def __init__(self, seed: int, division: int, counts: Mapping[str, int]) -> None:
        self.seed = seed
        self.division = division
        self.counts = counts
        self._keys: dict[tuple[str, int], str] = {}

    def key(self, resource: str, index: int) -> str:
        """The key of record ``index`` of ``resource`` (memoised: referenced often)."""
        found = self._keys.get((resource, index))
        if found is None:
            found = self._keys[(resource, index)] = guid(self.seed, self.division, resource, index)
        return found

    def ref(self, resource: str, rng: Rng) -> str:
        """The key of a random existing record of ``resource`` (index 0 if it is empty)."""
        return self.key(resource, rng.randrange(max(1, self.counts[resource])))


def _company(rng: Rng) -> str:
    return f"{rng.choice(_LAST)} {rng.choice(_TRADES)} {rng.choice(_FORMS)}"


def _amount(rng: Rng, low: float, high: float) -> float:
    return round(rng.uniform(low, high), 2)


def _gen_transaction_line(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    day = _DAY_2024 + rng.randrange(_DAYS_TWO_YEARS)
    when = date.fromordinal(day)
    journal, journal_name = rng.choice(_JOURNALS)
    gl = rng.randrange(max(1, ctx.counts["gl_accounts"]))
    amount = _amount(rng, -10_000, 10_000)
    currency = "EUR" if rng.random() < 0.9 else "USD"
    entry = (when.year % 100) * 1_000_000 + i // 3 + 1
    return {
        "Date": _day(day), "FinancialYear": when.year, "FinancialPeriod": when.month,
        "EntryNumber": entry, "JournalCode": journal,
        "GLAccount": ctx.key("gl_accounts", gl),
        "GLAccountCode": _gl_code(gl),
        "Account": ctx.ref("accounts", rng) if rng.random() < 0.7 else None,
        "AmountDC": amount,
        "AmountFC": amount if currency == "EUR" else round(amount * 1.08, 2),
        "Currency": currency, "Description": f"{journal_name} {entry}",
        "VATCode": rng.choice(("1", "2", "5", None)), "Type": rng.choice((20, 30, 40, 50, 90)),
    }


def _gen_account(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    city, country = rng.choice(_CITIES)
    name = _company(rng)
    return {
        "Code": str(1000 + i), "Name": name,
        "Email": f"info{i}@{name.split()[0].lower()}.example",
        "Phone": f"+31 20 {rng.randrange(10**6, 10**7)}", "City": city, "Country": country,
        "VATNumber": f"{country}{rng.randrange(10**8, 10**9)}B01" if rng.random() < 0.6 else None,
        "IsSupplier": rng.random() < 0.3, "Status": rng.choice(("C", "P", "S", "A")),
    }


def _gen_contact(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    birth = _DAY_2024 - 365 * 20 - rng.randrange(365 * 40)
    return {
        "Account": ctx.ref("accounts", rng), "FirstName": first, "LastName": last,
        "FullName": f"{first} {last}", "Email": f"contact{i}@example.nl",
        "Phone": f"+31 6 {rng.randrange(10**7, 10**8)}", "JobTitleDescription": rng.choice(_JOBS),
        "BirthDate": _day(birth) if rng.random() < 0.5 else None,
    }


def _gen_sales_invoice(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    day = _DAY_2024 + rng.randrange(_DAYS_TWO_YEARS)
    amount = _amount(rng, 10, 25_000)
    customer = ctx.ref("accounts", rng)
    return {
        "InvoiceNumber": 24_000_000 + i + 1, "InvoiceTo": customer,
        "OrderedBy": customer if rng.random() < 0.8 else ctx.ref("accounts", rng),
        "InvoiceDate": _day(day), "DueDate": _day(day + 30), "Currency": "EUR",
        "AmountDC": amount, "VATAmountDC": round(amount * 0.21 / 1.21, 2),
        "Status": rng.choice((10, 20, 50)), "Description": f"Factuur {rng.choice(_PRODUCTS)}",
    }


def _gl_code(i: int) -> str:
    return str(1000 + i * 10)


def _gen_gl_account(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    name, kind, side, balance = _CHART[i % len(_CHART)]
    suffix = f" {i // len(_CHART) + 1}" if i >= len(_CHART) else ""
    return {"Code": _gl_code(i), "Description": name + suffix, "Type": kind,
            "BalanceSide": side, "BalanceType": balance}


def _gen_item(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    return {
        "Code": f"ART{i:06d}", "Description": f"{rng.choice(_PRODUCTS)} {rng.choice(_TRADES)}",
        "IsSalesItem": rng.random() < 0.8, "IsStockItem": rng.random() < 0.5,
        "CostPriceStandard": _amount(rng, 0.5, 900), "Unit": rng.choice(_UNITS),
    }


def _gen_deleted(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    # Rows deleted before the fake's history starts: their keys never existed here.
    return {
        "EntityKey": guid(ctx.seed, ctx.division, "deleted-before", i),
        "EntityType": rng.choice((1, 2, 5, 7, 9, 13)),
        "DeletedBy": guid(ctx.seed, "user", ctx.division),
        "DeletedDate": f"/Date({exact_ms(_EPOCH_2024 + rng.randrange(_SECONDS_TWO_YEARS))})/",
    }


def _gen_vat_code(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    name, pct = _VAT[i % len(_VAT)]
    return {"Code": str(i + 1), "Description": f"BTW {name} {i + 1}", "Percentage": pct,
            "Type": rng.choice(("B", "E", "I", "N"))}


_Generator = Callable[[_Ctx, Rng, int], dict[str, Any]]
_GENERATORS: dict[str, _Generator] = {
    "transaction_lines": _gen_transaction_line, "accounts": _gen_account,
    "contacts": _gen_contact, "sales_invoices": _gen_sales_invoice,
    "gl_accounts": _gen_gl_account, "items": _gen_item, "deleted": _gen_deleted,
    "vat_codes": _gen_vat_code,
}

# What a "change" mutation rewrites (besides Modified and Timestamp).
_Changer = Callable[[dict[str, Any], Rng], None]


def _change_amount(rec: dict[str, Any], rng: Rng) -> None:
    amount = _amount(rng, -10_000, 10_000)
    rec["AmountDC"] = amount
    rec["AmountFC"] = amount if rec["Currency"] == "EUR" else round(amount * 1.08, 2)
    rec["Description"] = f"Correctie {rng.randrange(10**6)}"


def _change_invoice(rec: dict[str, Any], rng: Rng) -> None:
    amount = _amount(rng, 10, 25_000)
    rec.update(AmountDC=amount, VATAmountDC=round(amount * 0.21 / 1.21, 2), Status=50)


_CHANGERS: dict[str, _Changer] = {
    "transaction_lines": _change_amount,
    "accounts": lambda rec, rng: rec.update(Phone=f"+31 10 {rng.randrange(10**6, 10**7)}",
                                            Name=_company(rng)),
    "contacts": lambda rec, rng: rec.update(JobTitleDescription=rng.choice(_JOBS),
                                            Email=f"nieuw{rng.randrange(10**6)}@example.nl"),
    "sales_invoices": _change_invoice,
    "gl_accounts": lambda rec, rng: rec.update(
        Description=f"{rec['Description'].split(' (')[0]} ({rng.randrange(1000)})"),
    "items": lambda rec, rng: rec.update(CostPriceStandard=_amount(rng, 0.5, 900),
                                         Description=f"{rng.choice(_PRODUCTS)} (nieuw)"),
    "vat_codes": lambda rec, rng: rec.update(Description=f"BTW {rng.randrange(1000)}"),
}


# ---------------------------------------------------------------------------
# Query options, as Exact's OData layer reads them


class QueryError(ValueError):
    """A query option Exact answers 400 to; the message is the error text to serve."""


_TS_FILTER = re.compile(r"\s*Timestamp\s+gt\s+(\d+)L?\s*", re.IGNORECASE)
_TS_SKIP = re.compile(r"\s*(\d+)L?\s*")
_GUID_SKIP = re.compile(r"\s*guid'([0-9a-fA-F-]{36})'\s*")
_DATE_FILTER = re.compile(
    r"\s*(Created|Modified)\s+(eq|ne|gt|ge|lt|le)\s+"
    r"datetime'(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?)'\s*"
)
_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "gt": operator.gt,
    "ge": operator.ge, "lt": operator.lt, "le": operator.le,
}
Predicate = Callable[[dict[str, Any]], bool]


def parse_select(fields: tuple[str, ...], text: str, model: str) -> tuple[str, ...]:
    """The fields ``$select`` names, in model order (OData ignores the order asked)."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    if not names:
        raise QueryError("$select is mandatory")
    unknown = sorted(names - set(fields))
    if unknown:
        raise QueryError(f"The property '{unknown[0]}', used in a query expression, "
                         f"is not defined in type '{model}'.")
    return tuple(name for name in fields if name in names)


def parse_timestamp_filter(text: str | None) -> int:
    """N of ``Timestamp gt N`` or ``Timestamp gt NL`` (0 without a filter)."""
    if text is None:
        return 0
    match = _TS_FILTER.fullmatch(text)
    if match is None:
        raise QueryError("Only 'Timestamp gt <value>' is supported in $filter on sync endpoints")
    return int(match.group(1))


def parse_timestamp_skiptoken(text: str | None) -> int:
    """The last Timestamp (or Code) of the previous page, from ``$skiptoken=NL``."""
    if text is None:
        return 0
    match = _TS_SKIP.fullmatch(text)
    if match is None:
        raise QueryError(f"Invalid $skiptoken: {text}")
    return int(match.group(1))


def parse_guid_skiptoken(text: str) -> str:
    """The last key of the previous page, from ``$skiptoken=guid'...'``."""
    match = _GUID_SKIP.fullmatch(text)
    if match is None:
        raise QueryError(f"Invalid $skiptoken: {text}")
    return match.group(1).lower()


def parse_top(text: str | None) -> int | None:
    """``$top`` as a positive int, if given."""
    if text is None:
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise QueryError(f"Invalid $top: {text}")
    return int(text)


def parse_date_filter(text: str | None, fields: tuple[str, ...]) -> Predicate | None:
    """A row predicate for ``Modified ge datetime'2026-01-05T10:00:00'`` and kin.

    The literal is Amsterdam local time, compared with the ``/Date(ms)/`` wall
    clock: both are local time read as UTC, so they compare directly.
    """
    if text is None:
        return None
    match = _DATE_FILTER.fullmatch(text)
    if match is None or match.group(1) not in fields:
        raise QueryError(f"Unsupported $filter: {text}")
    name, compare = match.group(1), _COMPARE[match.group(2)]
    local = datetime.fromisoformat(match.group(3))
    limit = (local - _EPOCH_NAIVE) // timedelta(milliseconds=1)

    def accept(rec: dict[str, Any]) -> bool:
        return compare(int(rec[name][6:-2]), limit)

    return accept


# ---------------------------------------------------------------------------
# Tables


Row = tuple[Any, ...]


class ResourceTable:
    """The current rows of one resource in one division, in serving order.

    Sync tables keep ``rows`` in Timestamp order (a changed row is moved to the
    end, which is where its new rowversion puts it); regular tables are served
    ordered by key. ``version`` moves on every mutation.
    """

    __slots__ = ("_encoded", "_keys", "_stamps", "rows", "spec", "version")

    def __init__(self, spec: ResourceSpec, rows: dict[str, Row]) -> None:
        self.spec = spec
        self.rows = rows
        self.version = 0
        self._keys: list[str] | None = None
        self._stamps: list[int] = []
        self._encoded: dict[tuple[tuple[str, ...], str], list[bytes | None]] = {}

    def put(self, key: str, row: Row) -> None:
        """Insert or replace a row; it moves to the end of the serving order."""
        self.rows.pop(key, None)
        self.rows[key] = row
        self._invalidate()

    def remove(self, key: str) -> None:
        """Drop a row."""
        del self.rows[key]
        self._invalidate()

    def _invalidate(self) -> None:
        self.version += 1
        self._keys = None
        self._encoded.clear()

    def order(self) -> tuple[list[str], list[int]]:
        """Keys in serving order and, for sync tables, their Timestamps (ascending)."""
        if self._keys is None:
            if self.spec.sync:
                self._keys = list(self.rows)
                at = self.spec.index("Timestamp")
                self._stamps = [row[at] for row in self.rows.values()]
            else:
                self._keys = sorted(self.rows)
        return self._keys, self._stamps

    def first_after(self, timestamp: int) -> int:
        """Position of the first row whose Timestamp is greater than ``timestamp``."""
        return bisect_right(self.order()[1], timestamp)

    def encoded(
        self, select: tuple[str, ...], uri_base: str, positions: Iterable[int]
    ) -> list[bytes]:
        """JSON of the rows at ``positions`` (of :meth:`order`) with only ``select``.

        Each row is encoded once per ``(select, uri_base)`` and cached until the
        next mutation, so serving a page again costs a join.
        """
        keys, _ = self.order()
        cache = self._encoded.get((select, uri_base))
        if cache is None:
            cache = self._encoded[(select, uri_base)] = [None] * len(keys)
        at = [self.spec.index(name) for name in select]
        whole = list(at) == list(range(len(self.spec.fields)))
        # The __metadata object goes first, like Exact's; the fields follow as one
        # dict(zip()) encoded in C, its opening brace cut off to splice them in.
        head = b'{"__metadata":{"uri":'
        middle = b',"type":' + orjson.dumps(self.spec.model) + b"},"
        out: list[bytes] = []
        for pos in positions:
            blob = cache[pos]
            if blob is None:
                key = keys[pos]
                row = self.rows[key]
                values = row if whole else [row[i] for i in at]
                blob = cache[pos] = b"".join((
                    head, orjson.dumps(f"{uri_base}(guid'{key}')"), middle,
                    orjson.dumps(dict(zip(select, values, strict=True)))[1:]))
            out.append(blob)
        return out

    def record(self, key: str) -> dict[str, Any]:
        """The row ``key`` as a field -> value dict."""
        return dict(zip(self.spec.fields, self.rows[key], strict=True))


class DivisionData:
    """All tables of one division plus its rowversion counter; tables are built on demand.

    Args:
        seed: the server seed.
        division: the division code.
        counts: initial number of records per resource name (every name present).
    """

    __slots__ = ("_ctx", "_mutations", "_next_index", "_next_ts", "_ts_base", "division",
                 "seed", "tables", "user_id")

    def __init__(self, seed: int, division: int, counts: Mapping[str, int]) -> None:
        self.seed = seed
        self.division = division
        self._ctx = _Ctx(seed, division, counts)
        # Large enough to overflow an Int32, which is what clients get wrong.
        self._ts_base = 5_000_000_000 + Rng(f"{seed}/{division}/timestamps").randrange(
            85_000_000_000)
        biggest = max((counts[name] for name in _SLOTS), default=0)
        self._next_ts = self._ts_base + (biggest + 1) * _STRIDE
        self._next_index = dict(counts)
        self._mutations = 0
        self.tables: dict[str, ResourceTable] = {}
        self.user_id = guid(seed, "user", division)

    def table(self, resource: str) -> ResourceTable:
        """The table of ``resource``, generated on first use."""
        table = self.tables.get(resource)
        if table is None:
            spec = RESOURCES[resource]
            rows: dict[str, Row] = {}
            slot = _SLOTS.get(resource, 0)
            for i in range(self._ctx.counts[resource]):
                stamp = self._ts_base + i * _STRIDE + slot
                key, row = self._make(spec, i, stamp, None)
                rows[key] = row
            table = self.tables[resource] = ResourceTable(spec, rows)
        return table

    def _make(self, spec: ResourceSpec, i: int, stamp: int, now: float | None) -> tuple[str, Row]:
        rng = Rng(f"{self.seed}/{self.division}/{spec.name}/{i}")
        rec = _GENERATORS[spec.name](self._ctx, rng, i)
        key = guid(self.seed, self.division, spec.name, i)
        rec[spec.key] = key
        rec["Division"] = self.division
        if spec.sync:
            rec["Timestamp"] = stamp
        if "Created" in spec.fields:
            created: float
            modified: float
            if now is None:
                created = _EPOCH_2024 + rng.randrange(_SECONDS_CREATED)
                modified = created + rng.randrange(90 * 86_400)
            else:
                created = modified = now
            rec["Created"] = exact_date_from_epoch(created)
            rec["Modified"] = exact_date_from_epoch(modified)
        return key, tuple(rec[name] for name in spec.fields)

    def _stamp(self) -> int:
        stamp = self._next_ts
        self._next_ts += 1
        return stamp

    def mutate(self, resource: str, *, add: int, change: int, delete: int, now: float) -> None:
        """Add, change and delete records as a user of Exact would between two runs.

        Deletions leave a ``sync/Deleted`` row behind; every touched sync row gets a
        fresh Timestamp; ``Modified`` (and ``Created`` of new rows) is ``now``.

        Raises:
            ValueError: the resource cannot be mutated that way, or there are fewer
                rows than asked to change plus delete.
        """
        spec = check_resource(resource)
        if resource == "deleted":
            raise ValueError("sync/Deleted is written by delete= on another resource")
        if delete and not spec.sync:
            raise ValueError(f"{resource} has no deletion feed in Exact; cannot delete")
        if min(add, change, delete) < 0:
            raise ValueError("add, change and delete must not be negative")
        table = self.table(resource)
        if change + delete > len(table.rows):
            raise ValueError(f"{resource} of {self.division} has only {len(table.rows)} rows")
        self._mutations += 1
        label = f"{self.seed}/{self.division}/{resource}/mutation/{self._mutations}"
        picked = random.Random(label).sample(list(table.rows), change + delete)
        rng = Rng(label)
        stamp_text = exact_date_from_epoch(now)
        for key in picked[:change]:
            rec = table.record(key)
            _CHANGERS[resource](rec, rng)
            rec["Modified"] = stamp_text
            if spec.sync:
                rec["Timestamp"] = self._stamp()
            table.put(key, tuple(rec[name] for name in spec.fields))
        if delete:
            gone = self.table("deleted")
            for key in picked[change:]:
                table.remove(key)
                tomb = guid(self.seed, self.division, "deleted-now", self._mutations, key)
                gone.put(tomb, (tomb, self._stamp(), self.division, key, spec.entity_type,
                                self.user_id, stamp_text))
        for _ in range(add):
            i = self._next_index[resource]
            self._next_index[resource] = i + 1
            key, row = self._make(spec, i, self._stamp(), now)
            table.put(key, row)

    def division_record(self, hid: int, main: bool) -> dict[str, Any]:
        """This division as ``system/Divisions`` lists it."""
        rng = Rng(f"{self.seed}/{self.division}/division")
        created = _EPOCH_2024 - rng.randrange(5 * 365 * 86_400)
        return {
            "Code": self.division, "Description": f"{_company(rng)} ({self.division})",
            "HID": hid, "Customer": guid(self.seed, "customer", self.division),
            "Country": "NL", "Currency": "EUR", "Main": main,
            "Created": exact_date_from_epoch(created),
            "Modified": exact_date_from_epoch(created + rng.randrange(365 * 86_400)),
        }


__all__ = [
    "AMSTERDAM", "DIVISION_FIELDS", "RESOURCES", "RESOURCES_BY_PATH", "DivisionData",
    "QueryError", "ResourceSpec", "ResourceTable", "Rng", "check_resource", "exact_date",
    "exact_date_from_epoch", "exact_ms", "guid", "parse_date_filter", "parse_exact_date",
    "parse_guid_skiptoken", "parse_select", "parse_timestamp_filter",
    "parse_timestamp_skiptoken", "parse_top",
]
