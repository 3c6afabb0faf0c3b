"""The deterministic data model behind :class:`~replicator.testing.fake_horus.FakeHorusServer`.

What it simulates: the records one Horus Office licence (a fiduciary's customer
database) holds in the resources the replicator mirrors. A licence has folders
(one per client company, the tenants under a licence); each folder has
companies, daybooks, book entries, account histories and outstanding sales
invoices. Records reference each other by GUID fields (``FolderId``,
``CompanyId``, ``DaybookId``, ``BookEntryId``), which is what sideloading
(``Include`` / ``Included``) resolves.

The field names and formats are plausible designs, not verified [?]: PascalCase
keys, GUID ids, dates ``YYYY-MM-DD`` and ``Modified`` as UTC ISO 8601 with
milliseconds (``2025-03-14T09:26:53.120Z``). Because every ``Modified`` has the
same shape, ISO strings compare chronologically, which is how ``ModifiedAfter``
is applied.

Every value is a pure function of ``(seed, licence, folder, resource, index)``:
two servers built with the same arguments serve identical data, and a record
does not change when the number of records around it does. Folder tables are
built on first use. The list-body parser (:func:`parse_list_body`) lives here
too, raising :class:`HorusQueryError` with what the fake answers.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from replicator.testing.exact_data import Rng, guid
from replicator.testing.fakebase import OrderedRows

# ---------------------------------------------------------------------------
# Resources


@dataclass(frozen=True, slots=True)
class HorusResource:
    """One listable Horus resource.

    Attributes:
        name: the API resource, the part of ``/{resource}.list`` before ``.list``.
        type_name: the key this resource's records have in an ``Included`` section.
        folder_scoped: a ``FolderId`` is required in the list body.
        includes: ``Include`` path -> sideloaded type (``None`` when sideloading is
            not supported on this resource).
    """

    name: str
    type_name: str
    folder_scoped: bool
    includes: Mapping[str, str] | None


# The seed's example path is "CompanyDetail.Company"; plain "Company" is accepted as
# well because a client that reads the Included keys would naturally ask for it [?].
_PARTY = {"CompanyDetail.Company": "Company", "Company": "Company"}

RESOURCES: dict[str, HorusResource] = {
    spec.name: spec
    for spec in (
        HorusResource("folders", "Folder", False, None),
        HorusResource("companies", "Company", True, {"Folder": "Folder"}),
        HorusResource("book-entries", "BookEntry", True,
                      {**_PARTY, "Daybook": "Daybook", "Folder": "Folder"}),
        HorusResource("account-histories", "AccountHistory", True,
                      {**_PARTY, "Daybook": "Daybook", "Folder": "Folder", "BookEntry": "BookEntry"}),
        HorusResource("invoices.sales.outstanding", "SalesInvoice", True,
                      {**_PARTY, "Daybook": "Daybook", "Folder": "Folder"}),
    )
}
FOLDER_RESOURCES = tuple(name for name, spec in RESOURCES.items() if spec.folder_scoped)
INCLUDE_TYPES = ("Company", "Daybook", "Folder", "BookEntry")
# Which id field of a record points at each sideloaded type.
REFERENCE_FIELDS = {"Company": "CompanyId", "Daybook": "DaybookId", "Folder": "FolderId",
                    "BookEntry": "BookEntryId"}


def check_resource(name: str) -> HorusResource:
    """The spec for ``name``; ``ValueError`` listing the valid names otherwise."""
    try:
        return RESOURCES[name]
    except KeyError:
        raise ValueError(f"unknown resource {name!r}; valid: {', '.join(RESOURCES)}") from None


# ---------------------------------------------------------------------------
# Dates

_EPOCH_2024 = 1_704_067_200  # 2024-01-01 00:00 UTC
_DAY_2024 = date(2024, 1, 1).toordinal()
_DAYS_TWO_YEARS = 731
# Generated history lies in 2024-2025, before the VirtualClock's start in 2026.
_SECONDS_CREATED = (_DAYS_TWO_YEARS - 91) * 86_400


def horus_datetime(epoch: float) -> str:
    """``Modified``-style text for an epoch second: ``2026-01-05T09:00:00.000Z``."""
    moment = datetime.fromtimestamp(round(epoch, 3), UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_horus_datetime(text: str) -> str:
    """A ``ModifiedAfter`` value normalised to :func:`horus_datetime`'s format.

    Accepts any ISO 8601 datetime; one without an offset is taken as UTC [?].
    Sub-millisecond digits are truncated, which keeps ``Modified > after`` exact
    because stored values have millisecond precision.

    Raises:
        ValueError: ``text`` is not an ISO 8601 datetime.
    """
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _day(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


# ---------------------------------------------------------------------------
# Generators: each returns the resource-specific fields of record ``i``.

_NAMES = ("Dubois", "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes",
          "Goossens", "Wouters", "Lambert", "Dupont", "Müller", "Schmit", "Weber")
_TRADES = ("Boulangerie", "Bouw", "Transport", "Conseil", "Techniek", "Immo", "Horeca",
           "Garage", "Architecture", "Logistique")
_FORMS = ("SRL", "BV", "SA", "NV", "SCS", "SARL")
_CITIES = (("Bruxelles", "BE"), ("Antwerpen", "BE"), ("Gent", "BE"), ("Liège", "BE"),
           ("Namur", "BE"), ("Leuven", "BE"), ("Luxembourg", "LU"), ("Esch-sur-Alzette", "LU"))
_DAYBOOKS = (("VEN", "Ventes", "Sales"), ("ACH", "Achats", "Purchases"), ("BNK", "Banque", "Bank"),
             ("FIN", "Financier", "Financial"), ("OD", "Opérations diverses", "Miscellaneous"))
_ACCOUNTS = ("400000", "440000", "550000", "570000", "600000", "700000", "451000", "411000")
_PAYMENT_MODES = ("Transfer", "Direct debit", "Cash", "Card")


class _Ctx:
    """What a generator may read about the folder it generates for."""

    __slots__ = ("counts", "folder", "licence", "seed")

    def __init__(self, seed: int, licence: str, folder: str, counts: Mapping[str, int]) -> None:
        self.seed, self.licence, self.folder, self.counts = seed, licence, folder, counts

    def key(self, resource: str, index: int) -> str:
        """The Id of record ``index`` of ``resource`` in this folder."""
        return guid(self.seed, self.licence, self.folder, resource, index)

    def ref(self, resource: str, rng: Rng) -> str | None:
        """The Id of a random initial record of ``resource`` (``None`` if there are none)."""
        count = self.counts[resource]
        return self.key(resource, rng.randrange(count)) if count else None

    def daybook(self, position: int) -> str:
        """The Id of the folder's daybook at ``position`` of the fixed chart."""
        return self.key("daybooks", position)


def _company_name(rng: Rng) -> str:
    return f"{rng.choice(_NAMES)} {rng.choice(_TRADES)} {rng.choice(_FORMS)}"


def _amount(rng: Rng, low: float, high: float) -> float:
    return round(rng.uniform(low, high), 2)


def _gen_company(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    name = _company_name(rng)
    city, country = rng.choice(_CITIES)
    customer = rng.random() < 0.7
    return {
        "Name": name, "VatNumber": f"{country}0{rng.randrange(10**8, 10**9)}" if rng.random() < 0.8 else None,
        "Iban": f"{country}{rng.randrange(10, 99)}{rng.randrange(10**11, 10**12)}",
        "Email": f"info{i}@{name.split()[0].lower()}.example", "City": city, "CountryCode": country,
        "IsCustomer": customer, "IsSupplier": not customer or rng.random() < 0.2,
        "PaymentMode": rng.choice(_PAYMENT_MODES),
    }


def _gen_book_entry(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    position = rng.randrange(len(_DAYBOOKS))
    code, name, kind = _DAYBOOKS[position]
    day = _DAY_2024 + rng.randrange(_DAYS_TWO_YEARS)
    # Miscellaneous operations have no counterparty: CompanyId null, nothing to sideload.
    company = None if kind == "Miscellaneous" else ctx.ref("companies", rng)
    return {
        "DaybookId": ctx.daybook(position), "CompanyId": company,
        "Number": f"{code}-{date.fromordinal(day).year}-{i + 1:05d}", "Date": _day(day),
        "Amount": _amount(rng, -20_000, 20_000), "Currency": "EUR", "Description": f"{name} {i + 1}",
    }


def _gen_account_history(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    # Two movements per book entry, consistent with it (same daybook, party, date).
    count = ctx.counts["book-entries"]
    entry_index = (i // 2) % count if count else None
    entry: dict[str, Any] = {"DaybookId": ctx.daybook(4), "CompanyId": None, "Date": _day(_DAY_2024),
                             "Amount": _amount(rng, 1, 5_000), "Description": "Opening"}
    if entry_index is not None:
        entry = _gen_book_entry(ctx, _rng(ctx, "book-entries", entry_index), entry_index)
    amount = abs(entry["Amount"])
    debit = i % 2 == 0
    return {
        "BookEntryId": ctx.key("book-entries", entry_index) if entry_index is not None else None,
        "DaybookId": entry["DaybookId"], "CompanyId": entry["CompanyId"],
        "AccountNumber": rng.choice(_ACCOUNTS), "Date": entry["Date"],
        "Debit": amount if debit else 0.0, "Credit": 0.0 if debit else amount,
        "Description": entry["Description"],
        "MatchNumber": rng.randrange(1, 10_000) if rng.random() < 0.4 else None,
    }


def _gen_sales_invoice(ctx: _Ctx, rng: Rng, i: int) -> dict[str, Any]:
    day = _DAY_2024 + rng.randrange(_DAYS_TWO_YEARS)
    amount = _amount(rng, 50, 30_000)
    partial = rng.random() < 0.3
    return {
        "DaybookId": ctx.daybook(0), "CompanyId": ctx.ref("companies", rng),
        "Number": f"VEN-{date.fromordinal(day).year}-{i + 1:05d}", "Date": _day(day),
        "DueDate": _day(day + 30), "Amount": amount,
        "OpenAmount": round(amount * rng.uniform(0.1, 0.9), 2) if partial else amount,
        "Currency": "EUR", "Status": "PartiallyPaid" if partial else "Open",
    }


_Generator = Callable[[_Ctx, Rng, int], dict[str, Any]]
_GENERATORS: dict[str, _Generator] = {
    "companies": _gen_company, "book-entries": _gen_book_entry,
    "account-histories": _gen_account_history, "invoices.sales.outstanding": _gen_sales_invoice,
}


def _rng(ctx: _Ctx, resource: str, i: int) -> Rng:
    return Rng(f"{ctx.seed}/{ctx.licence}/{ctx.folder}/{resource}/{i}")


def _stamps(rng: Rng, now: float | None) -> tuple[str, str]:
    if now is not None:
        text = horus_datetime(now)
        return text, text
    created = _EPOCH_2024 + rng.randrange(_SECONDS_CREATED)
    return horus_datetime(created), horus_datetime(created + rng.randrange(90 * 86_400))


def _change_book_entry(rec: dict[str, Any], rng: Rng) -> None:
    rec["Amount"] = _amount(rng, -20_000, 20_000)
    rec["Description"] = f"Correction {rng.randrange(10**6)}"


def _change_invoice(rec: dict[str, Any], rng: Rng) -> None:
    rec["OpenAmount"] = round(rec["Amount"] * rng.uniform(0.1, 0.9), 2)
    rec["Status"] = "PartiallyPaid"


_Changer = Callable[[dict[str, Any], Rng], None]
_CHANGERS: dict[str, _Changer] = {
    "folders": lambda rec, rng: rec.update(Name=f"{_company_name(rng)} ({rng.randrange(1000)})"),
    "companies": lambda rec, rng: rec.update(Email=f"new{rng.randrange(10**6)}@example.be",
                                             PaymentMode=rng.choice(_PAYMENT_MODES)),
    "book-entries": _change_book_entry,
    "account-histories": lambda rec, rng: rec.update(MatchNumber=rng.randrange(1, 10_000)),
    "invoices.sales.outstanding": _change_invoice,
}


# ---------------------------------------------------------------------------
# Tables (see replicator.testing.fakebase.OrderedRows)


class FolderData:
    """The tables of one folder, generated on first use.

    Args:
        seed: the server seed.
        licence: the licence id.
        folder: the folder Id.
        counts: initial records per folder resource (every name present).
    """

    __slots__ = ("_ctx", "_mutations", "_next_index", "daybooks", "tables")

    def __init__(self, seed: int, licence: str, folder: str, counts: Mapping[str, int]) -> None:
        self._ctx = _Ctx(seed, licence, folder, counts)
        self._next_index = dict(counts)
        self._mutations = 0
        self.tables: dict[str, OrderedRows] = {}
        self.daybooks = OrderedRows("Id")
        for position, (code, name, kind) in enumerate(_DAYBOOKS):
            self.daybooks.put({"Id": self._ctx.daybook(position), "FolderId": folder, "Code": code,
                               "Name": name, "Type": kind})

    def table(self, resource: str) -> OrderedRows:
        """The table of ``resource``."""
        table = self.tables.get(resource)
        if table is None:
            rows = {}
            for i in range(self._ctx.counts[resource]):
                rec = self._make(resource, i, None)
                rows[rec["Id"]] = rec
            table = self.tables[resource] = OrderedRows("Id", rows)
        return table

    def _make(self, resource: str, i: int, now: float | None) -> dict[str, Any]:
        rng = _rng(self._ctx, resource, i)
        rec: dict[str, Any] = {"Id": self._ctx.key(resource, i), "FolderId": self._ctx.folder}
        rec.update(_GENERATORS[resource](self._ctx, rng, i))
        rec["Created"], rec["Modified"] = _stamps(rng, now)
        return rec

    def mutate(self, resource: str, *, add: int, change: int, delete: int, now: float) -> None:
        """See :meth:`LicenceData.mutate`."""
        table = self.table(resource)
        picked = _pick(table, change, delete, f"{self._ctx.folder}/{resource}/{self._mutations}")
        self._mutations += 1
        rng = Rng(f"{self._ctx.seed}/{self._ctx.folder}/{resource}/mutation/{self._mutations}")
        _apply(table, resource, picked[:change], picked[change:], rng, now)
        for _ in range(add):
            i = self._next_index[resource]
            self._next_index[resource] = i + 1
            table.put(self._make(resource, i, now))


def _pick(table: OrderedRows, change: int, delete: int, label: str) -> list[str]:
    if min(change, delete) < 0:
        raise ValueError("add, change and delete must not be negative")
    if change + delete > len(table):
        raise ValueError(f"{label}: only {len(table)} records to change or delete")
    return random.Random(label).sample(sorted(table.rows), change + delete)


def _apply(table: OrderedRows, resource: str, changed: list[str], deleted: list[str], rng: Rng, now: float) -> None:
    stamp = horus_datetime(now)
    for key in changed:
        rec = dict(table.rows[key])
        _CHANGERS[resource](rec, rng)
        rec["Modified"] = stamp
        table.put(rec)
    for key in deleted:
        table.remove(key)


class LicenceData:
    """One licence: its folders and, lazily, each folder's tables.

    Args:
        seed: the server seed.
        licence: the licence id.
        folders: how many folders the licence starts with.
        counts: initial records per folder resource (every name present).
    """

    __slots__ = ("_counts", "_data", "_folder_index", "_mutations", "folders", "licence", "seed", "user_id")

    def __init__(self, seed: int, licence: str, folders: int, counts: Mapping[str, int]) -> None:
        self.seed, self.licence = seed, licence
        self._counts = dict(counts)
        self.user_id = guid(seed, licence, "user")
        self._data: dict[str, FolderData] = {}
        self._mutations = 0
        self.folders = OrderedRows("Id")
        self._folder_index = 0
        for _ in range(folders):
            self.folders.put(self._make_folder(None))

    def _make_folder(self, now: float | None) -> dict[str, Any]:
        i = self._folder_index
        self._folder_index += 1
        rng = Rng(f"{self.seed}/{self.licence}/folders/{i}")
        city, country = rng.choice(_CITIES)
        # The user is responsible for the first folder and about half of the others (Mode 1).
        mine = i == 0 or rng.random() < 0.5
        rec: dict[str, Any] = {
            "Id": guid(self.seed, self.licence, "folders", i), "Name": _company_name(rng),
            "VatNumber": f"{country}0{rng.randrange(10**8, 10**9)}", "Legislation": country, "City": city,
            "ResponsibleUserId": self.user_id if mine else guid(self.seed, self.licence, "colleague", i),
        }
        rec["Created"], rec["Modified"] = _stamps(rng, now)
        return rec

    def folder(self, folder: str) -> FolderData:
        """The data of ``folder``.

        Raises:
            KeyError: the licence has no such folder (or it was deleted).
        """
        if folder not in self.folders.rows:
            raise KeyError(folder)
        data = self._data.get(folder)
        if data is None:
            data = self._data[folder] = FolderData(self.seed, self.licence, folder, self._counts)
        return data

    def table(self, folder: str | None, resource: str) -> OrderedRows:
        """The table of ``resource`` (``folder`` is ``None`` for ``folders``)."""
        spec = check_resource(resource)
        if not spec.folder_scoped:
            return self.folders
        if folder is None:
            raise ValueError(f"{resource} needs a folder")
        return self.folder(folder).table(resource)

    def lookup(self, folder: str, type_name: str, key: str) -> dict[str, Any] | None:
        """The current entity ``key`` of a sideloaded type, if it exists."""
        if type_name == "Folder":
            return self.folders.rows.get(key)
        data = self.folder(folder)
        if type_name == "Daybook":
            return data.daybooks.rows.get(key)
        resource = "companies" if type_name == "Company" else "book-entries"
        return data.table(resource).rows.get(key)

    def mutate(self, folder: str | None, resource: str, *, add: int, change: int, delete: int,
               now: float) -> None:
        """Add, change and delete records as a Horus user would between two runs.

        Changed and added records get ``Modified`` (and added ones ``Created``) =
        ``now``. A deletion simply removes the record: Horus has no deletion feed,
        so a client only notices by a full scan. Deleting a folder removes it
        with everything in it.

        Raises:
            ValueError: negative counts, or more changes plus deletions than records.
            KeyError: unknown folder.
        """
        if min(add, change, delete) < 0:
            raise ValueError("add, change and delete must not be negative")
        if check_resource(resource).folder_scoped:
            if folder is None:
                raise ValueError(f"{resource} needs a folder")
            self.folder(folder).mutate(resource, add=add, change=change, delete=delete, now=now)
            return
        picked = _pick(self.folders, change, delete, f"{self.licence}/folders/{self._mutations}")
        self._mutations += 1
        rng = Rng(f"{self.seed}/{self.licence}/folders/mutation/{self._mutations}")
        _apply(self.folders, "folders", picked[:change], picked[change:], rng, now)
        for key in picked[change:]:
            self._data.pop(key, None)
        for _ in range(add):
            self.folders.put(self._make_folder(now))


# ---------------------------------------------------------------------------
# List bodies


class HorusQueryError(ValueError):
    """A request the fake answers with a Horus error body.

    Attributes:
        status: the HTTP status.
        error_type: the ``ErrorType`` value.
        details: the ``Details`` value.
    """

    def __init__(self, status: int, error_type: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.error_type, self.details = status, error_type, details


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What a ``.list`` body asks for.

    Attributes:
        folder: ``FolderId`` (``None`` on ``folders.list``).
        mode: ``Mode`` of ``folders.list`` (0 all, 1 mine).
        modified_after: ``ModifiedAfter`` normalised for string comparison.
        includes: sideloaded types, in the order asked (each once).
        page: ``Page`` (1-based), if given.
        page_size: ``PageSize``, if given.
    """

    folder: str | None = None
    mode: int = 0
    modified_after: str | None = None
    includes: tuple[str, ...] = ()
    page: int | None = None
    page_size: int | None = None


def _bad(message: str, details: Any = None) -> HorusQueryError:
    return HorusQueryError(400, "invalid_request", message, details)


def _int_field(body: Mapping[str, Any], name: str, low: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    # bool is an int in Python; JSON true is not a page number.
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _bad(f"{name} must be an integer of at least {low}", {name: value})
    return value


def parse_list_body(spec: HorusResource, body: Any) -> ListQuery:
    """Validate the JSON body of ``/{resource}.list``.

    Unknown keys are ignored (filters the fake does not model, e.g. ``Name``).

    Raises:
        HorusQueryError: the body is not an object, a field has the wrong type, a
            required ``FolderId`` is missing, or an ``Include`` path is unsupported.
    """
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object")
    folder = body.get("FolderId")
    if spec.folder_scoped:
        if not isinstance(folder, str) or not folder:
            raise _bad("FolderId is required", {"FolderId": folder})
    else:
        folder = None
    mode = _int_field(body, "Mode", 0) or 0
    if mode not in (0, 1):
        raise _bad("Mode must be 0 (all) or 1 (mine)", {"Mode": mode})
    after_text = body.get("ModifiedAfter")
    after = None
    if after_text is not None:
        try:
            after = parse_horus_datetime(after_text) if isinstance(after_text, str) else None
        except ValueError:
            after = None
        if after is None:
            raise _bad("ModifiedAfter must be an ISO 8601 datetime", {"ModifiedAfter": after_text})
    includes: list[str] = []
    include_text = body.get("Include")
    if include_text not in (None, ""):
        if not isinstance(include_text, str):
            raise _bad("Include must be a comma-separated string", {"Include": include_text})
        if spec.includes is None:
            raise _bad(f"Sideloading is not supported on {spec.name}.list", {"Include": include_text})
        for path in (part.strip() for part in include_text.split(",")):
            type_name = spec.includes.get(path)
            if type_name is None:
                raise _bad(f"Unknown include '{path}' on {spec.name}.list; supported: "
                           f"{', '.join(spec.includes)}", {"Include": path})
            if type_name not in includes:
                includes.append(type_name)
    return ListQuery(folder=folder, mode=mode, modified_after=after, includes=tuple(includes),
                     page=_int_field(body, "Page", 1), page_size=_int_field(body, "PageSize", 1))


__all__ = [
    "FOLDER_RESOURCES", "INCLUDE_TYPES", "REFERENCE_FIELDS", "RESOURCES", "FolderData", "HorusQueryError",
    "HorusResource", "LicenceData", "ListQuery", "OrderedRows", "check_resource", "horus_datetime",
    "parse_horus_datetime", "parse_list_body",
]
