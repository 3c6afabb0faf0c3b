"""Documents and URL filtering behind :class:`~replicator.testing.fake_horisen.FakeHorisenServer`.

What it simulates: the finance documents of one HORISEN tenant as the seed's
``/documents-export`` examples show them, every document with its ``items``
nested, its ``bizPartner`` and ``dataSource`` objects (``billingTotalBalance`` for
POSTPAID/PREPAID documents, ``billingAccount`` with ``smsConnections`` or a
PART-PAYMENT ``documentId`` for items, ``null`` otherwise), dates as
``YYYY-MM-DD`` and date-times as ``YYYY-MM-DDTHH:MM:SSZ``.

The seed names no modification timestamp. The fake moves ``statusDt`` (the
document's status date-time, present on every document) on every change, so it is
the default field for increments; ``modified_field`` names another one, which is
then added to every document (a [?] switch until the real API is known).

The URL filtering of the seed is implemented by :func:`select`: ``op(field)=value``
with ``eq, neq, lt, lte, gt, gte, in, notin, between, notbetween, startswith,
isnull, isnotnull, isempty, isnotempty``, a bare ``field=value`` meaning ``eq``,
``q=`` a general search (document number and partner name) and ``sort=-a,b``. Only
top-level fields filter and sort; date and date-time fields compare as instants,
numeric fields as numbers, strings case-insensitively (as a MySQL collation would).
Bad parameters raise :class:`QueryError` with the seed's code (``BAD_PARAM``).
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from replicator.testing.exact_data import Rng, guid

_EPOCH_2024 = 1_704_067_200  # 2024-01-01 00:00 UTC
_SPAN = 2 * 365 * 86_400 - 120 * 86_400
_PARTNERS = ("Acme Telecom", "Globex SMS", "Initech Mobile", "Hooli Messaging", "Stark Carrier", "Wayne Wireless")
_CURRENCIES = ((978, "EUR"), (756, "CHF"), (840, "USD"))
_DOMESTIC = ((752, "SEK", 10.7287), (756, "CHF", 0.9612), (978, "EUR", 1.0))
_TYPES = ((5, "Bulk Invoice", "POSTPAID", ""), (26, "Bulk Invoice - Postpaid Part Payment", "POSTPAID", "PART-PAYMENT"),
          (19, "Bulk Invoice - Prepaid", "PREPAID", ""), (7, "Manual Invoice", "", ""))

NUMBER_FIELDS = frozenset({
    "id", "instanceId", "bizPartnerId", "bizPartnerCountry", "documentNumberNum", "currency", "amountNoVat",
    "amountVat", "vatPercent", "vat", "rounding", "total", "totalUnpaid", "totalPaid", "domesticCurrency",
    "domesticCurrencyRate", "domesticAmountNoVat", "domesticAmountVat", "domesticRounding", "domesticTotal",
    "domainId", "dataSourceId", "documentType"})
TIME_FIELDS = frozenset({
    "documentDate", "deliveryDate", "dueDate", "periodStart", "periodEnd", "insertDt", "statusDt",
    "paymentStatusDate", "syncStatusDt", "docsDeliveryStatusDate"})
OPERATORS = frozenset({"eq", "neq", "lt", "lte", "gt", "gte", "in", "notin", "between", "notbetween", "startswith",
                       "isnull", "isnotnull", "isempty", "isnotempty"})
_STRING_FIELDS = frozenset({
    "documentUuid", "bizPartnerExternalRefId", "documentNumber", "documentNumberMask", "currencyCode",
    "domesticCurrencyCode", "status", "paymentStatus", "domainCodeName", "documentClassCodeName",
    "documentClassDomain", "documentClassArea", "selfBilling", "dataSourceCodeName", "dataSourceSelector", "lang",
    "documentTypeName", "syncStatus", "disputeStatus", "docsDeliveryStatus"})
RESERVED = frozenset({"page_number", "page_size", "paging", "sort", "q"})
_FILTER_RE = re.compile(r"(\w+)\((\w+)\)")


def horisen_time(epoch: float) -> str:
    """A date-time as the seed writes them: ``2019-10-01T11:08:59Z``."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%d")


def _instant(text: str) -> float:
    parsed = datetime.fromisoformat(text.strip())
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


class QueryError(ValueError):
    """A parameter the API would refuse: ``status``, the seed's ``code`` and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ---------------------------------------------------------------------------
# Documents


def _data_source(code: str, selector: str, rng: Rng, partner: int, item_doc: int | None) -> dict[str, Any] | None:
    if code == "" or (item_doc is not None and code == "PREPAID"):
        return None
    ident = rng.randrange(100, 100_000)
    if item_doc is not None and selector == "PART-PAYMENT":
        return {"id": ident, "documentId": item_doc}
    balance = {"id": rng.randrange(1000, 9999), "instanceId": 12, "bizPartnerId": partner, "currency": 978,
               "currencyCode": "EUR", "billingTypeCodeName": code, "name": f"BP{partner % 100} {code.lower()} EUR",
               "customAttributes": [{"codeName": "CONTRACT_NAME", "value": f"DD{rng.randrange(10**6, 10**7)}"}]}
    if item_doc is None:
        return {"id": ident, "billingTotalBalance": balance}
    account = {**balance, "name": "DIR", "smsConnections": [
        {"id": rng.randrange(10_000, 99_999), "instanceId": 12, "name": "DIR", "authName": f"{partner}_DIR",
         "protocol": rng.choice(("SMPP", "HTTP"))}]}
    return {"id": ident, "billingAccount": account}


def make_document(seed: int, tenant: str, i: int, now: float | None) -> dict[str, Any]:
    """Document number ``i`` of ``tenant``: a pure function of its arguments."""
    rng = Rng(f"{seed}/{tenant}/document/{i}")
    doc_id = 22_000 + i
    partner = 87_600_000 + rng.randrange(1, 500)
    currency, code = rng.choice(_CURRENCIES)
    dom, dom_code, rate = rng.choice(_DOMESTIC)
    doc_type, type_name, source, selector = rng.choice(_TYPES)
    inserted = now if now is not None else _EPOCH_2024 + rng.randrange(_SPAN)
    status_at = inserted if now is not None else inserted + rng.randrange(86_400)
    day = _date(inserted - 86_400)
    items: list[dict[str, Any]] = []
    for n in range(1, 2 + rng.randrange(3)):
        qty, price = rng.randrange(0, 50), round(rng.uniform(0, 100), 3)
        net = round(qty * price, 3)
        items.append({"id": doc_id * 10 + n, "documentId": doc_id, "ordNum": n, "name": f"Account: DIR{n}",
                      "quantity": qty, "measureUnit": "PIECE", "price": price, "totalNoVat": net, "totalVat": net,
                      "dataSourceId": 2 if source else 0, "dataSourceCodeName": source,
                      "dataSourceForeignKey": rng.randrange(10_000, 99_999) if source else 0,
                      "dataSourceSelector": selector,
                      "dataSource": _data_source(source, selector, rng, partner, doc_id)})
    amount = round(sum(float(item["totalNoVat"]) for item in items), 2)
    vat_percent = rng.choice((0, 0, 8.1, 21))
    vat = round(amount * vat_percent / 100, 2)
    paid = rng.random() < 0.5
    return {
        "documentUuid": guid(seed, tenant, "document", i), "id": doc_id, "instanceId": 41,
        "bizPartnerId": partner, "bizPartnerCountry": 384, "bizPartnerExternalRefId": f"XZ{partner % 10**6}-S33",
        "bizPartner": {"name": rng.choice(_PARTNERS), "briefName": f"BP {partner % 100}", "partnerType": "wholesale",
                       "attn": "", "address": "", "post": "", "city": "", "vatNumber": "",
                       "customAttributes": [{"codeName": "OBJECT_EXAMPLE",
                                             "value": {"propertyA": "value A", "propertyB": "value B"}}]},
        "documentDate": day, "deliveryDate": day, "documentNumber": f"{day.replace('-', '')[2:]}-{i}",
        "documentNumberMask": f"{day.replace('-', '')[2:]}-%d", "documentNumberNum": i,
        "dueDate": _date(inserted + 29 * 86_400), "periodStart": day[:8] + "01", "periodEnd": day,
        "currency": currency, "currencyCode": code, "amountNoVat": amount, "amountVat": round(amount + vat, 2),
        "vatPercent": vat_percent, "vat": vat, "rounding": 0, "total": round(amount + vat, 2),
        "totalUnpaid": 0 if paid else round(amount + vat, 2), "totalPaid": round(amount + vat, 2) if paid else 0,
        "domesticCurrency": dom, "domesticCurrencyCode": dom_code, "domesticCurrencyRate": rate,
        "domesticAmountNoVat": round(amount * rate, 2), "domesticAmountVat": round((amount + vat) * rate, 2),
        "domesticRounding": 0, "domesticTotal": round((amount + vat) * rate, 2),
        "status": "approved", "insertDt": horisen_time(inserted), "statusDt": horisen_time(status_at),
        "paymentStatus": "paid" if paid else "open", "paymentStatusDate": horisen_time(status_at),
        "domainId": 1, "domainCodeName": "BULK", "documentClassCodeName": "CUSTOMER_INVOICE",
        "documentClassDomain": "invoice", "documentClassArea": "sales", "selfBilling": "no",
        "dataSourceId": 2 if source else 0, "dataSourceCodeName": source, "dataSourceSelector": selector,
        "dataSource": _data_source(source, selector, rng, partner, None), "lang": "en",
        "documentType": doc_type, "documentTypeName": type_name, "syncStatus": "none", "syncStatusDt": None,
        "disputeStatus": "none", "docsDeliveryStatus": "none", "docsDeliveryStatusDate": None, "items": items,
    }


class TenantDocuments:
    """The documents of one tenant by id (ascending), generated on first use.

    Args:
        seed: the server seed.
        tenant: the tenant name.
        count: initial number of documents.
        modified_field: the date-time every change moves (added when the seed has
            no such field).
    """

    __slots__ = ("_docs", "_mutations", "_next", "count", "modified_field", "seed", "tenant")

    def __init__(self, seed: int, tenant: str, count: int, modified_field: str = "statusDt") -> None:
        self.seed, self.tenant, self.count, self.modified_field = seed, tenant, count, modified_field
        self._docs: dict[int, dict[str, Any]] | None = None
        self._next = count + 1
        self._mutations = 0

    def _make(self, i: int, now: float | None) -> dict[str, Any]:
        doc = make_document(self.seed, self.tenant, i, now)
        doc.setdefault(self.modified_field, doc["statusDt"])
        return doc

    @property
    def documents(self) -> dict[int, dict[str, Any]]:
        """The live documents by id, in ascending id order."""
        if self._docs is None:
            docs = (self._make(i, None) for i in range(1, self.count + 1))
            self._docs = {doc["id"]: doc for doc in docs}
        return self._docs

    def mutate(self, *, add: int, change: int, delete: int, now: float) -> None:
        """Pay, cancel or re-send documents, add new ones, delete some for good.

        Every changed or added document gets ``statusDt`` (and the modified field)
        ``= now``; deleted documents simply disappear.

        Raises:
            ValueError: negative counts, or fewer documents than ``change + delete``.
        """
        docs = self.documents
        if min(add, change, delete) < 0:
            raise ValueError("add, change and delete must not be negative")
        if change + delete > len(docs):
            raise ValueError(f"{self.tenant} has only {len(docs)} documents")
        self._mutations += 1
        label = f"{self.seed}/{self.tenant}/documents/mutation/{self._mutations}"
        picked = random.Random(label).sample(sorted(docs), change + delete)
        rng = Rng(label)
        stamp = horisen_time(now)
        for key in picked[:change]:
            doc = docs[key]
            if doc["paymentStatus"] == "open":
                doc.update(paymentStatus="paid", paymentStatusDate=stamp, totalPaid=doc["total"], totalUnpaid=0)
            else:
                doc.update(docsDeliveryStatus=rng.choice(("sent", "waiting")), docsDeliveryStatusDate=stamp)
            doc["statusDt"] = doc[self.modified_field] = stamp
        for key in picked[change:]:
            del docs[key]
        for _ in range(add):
            doc = self._make(self._next, now)
            self._next += 1
            docs[doc["id"]] = doc

    def expected(self) -> dict[int, dict[str, Any]]:
        """A deep copy of the documents by id, items nested as served."""
        return copy.deepcopy(self.documents)


# ---------------------------------------------------------------------------
# URL filtering and sorting


def _converter(field: str, modified_field: str) -> Callable[[str], Any]:
    if field in NUMBER_FIELDS:
        return float
    if field in TIME_FIELDS or field == modified_field:
        return _instant
    return str.casefold


def _predicate(op: str, field: str, raw: str, convert: Callable[[str], Any]) -> Callable[[Any], bool]:
    if op in ("isnull", "isnotnull", "isempty", "isnotempty"):
        want = op in ("isnull", "isempty")
        if op.endswith("null"):
            return lambda v: (v is None) == want
        return lambda v: (v is None or v == "") == want
    values = [convert(part) for part in raw.split(",")] if op in ("in", "notin", "between", "notbetween") else []
    if op in ("between", "notbetween") and len(values) != 2:
        raise ValueError(f"{op}({field}) needs two comma-separated values")
    one = convert(raw) if not values else None
    tests: dict[str, Callable[[Any], bool]] = {
        "eq": lambda v: v == one, "neq": lambda v: v != one, "lt": lambda v: v < one, "lte": lambda v: v <= one,
        "gt": lambda v: v > one, "gte": lambda v: v >= one, "in": lambda v: v in values,
        "notin": lambda v: v not in values, "between": lambda v: values[0] <= v <= values[1],
        "notbetween": lambda v: not values[0] <= v <= values[1],
        "startswith": lambda v: isinstance(v, str) and v.startswith(str(one)),
    }
    test = tests[op]
    return lambda v: v is not None and test(v)


def _sort_key(field: str, convert: Callable[[str], Any]) -> Callable[[dict[str, Any]], tuple[bool, Any]]:
    def key(doc: dict[str, Any]) -> tuple[bool, Any]:
        value = doc.get(field)
        return (False, 0) if value is None else (True, convert(str(value)))
    return key


def select(docs: Iterable[dict[str, Any]], params: Iterable[tuple[str, str]], *,
           modified_field: str = "statusDt") -> list[dict[str, Any]]:
    """The documents matching the filters of ``params``, sorted as ``sort`` asks.

    Raises:
        QueryError: an unknown field or operator, or a value of the wrong type
            (404 ``BAD_PARAM``, the seed's answer for a bad parameter).
    """
    fields = NUMBER_FIELDS | TIME_FIELDS | _STRING_FIELDS | {modified_field}
    checks: list[tuple[str, Callable[[str], Any], Callable[[Any], bool]]] = []
    search: str | None = None
    sort = ""
    for name, raw in params:
        if name == "q":
            search = raw.casefold()
            continue
        if name == "sort":
            sort = raw
        if name in RESERVED:
            continue
        match = _FILTER_RE.fullmatch(name)
        op, field = (match.group(1), match.group(2)) if match else ("eq", name)
        if (op, field) == ("eq", "q"):
            search = raw.casefold()
            continue
        if op not in OPERATORS or field not in fields:
            raise QueryError(404, "BAD_PARAM", f"Bad parameter '{name}'")
        convert = _converter(field, modified_field)
        try:
            checks.append((field, convert, _predicate(op, field, raw, convert)))
        except ValueError:
            raise QueryError(404, "BAD_PARAM", f"Bad parameter '{name}': {raw!r}") from None
    chosen = []
    for doc in docs:
        if search is not None and not any(search in str(text).casefold() for text in
                                          (doc["documentNumber"], doc["bizPartner"]["name"])):
            continue
        if all(test(None if doc.get(f) is None else convert(str(doc[f]))) for f, convert, test in checks):
            chosen.append(doc)
    for key in reversed([part.strip() for part in sort.split(",") if part.strip()]):
        field, descending = key.lstrip("-+"), key.startswith("-")
        if field not in fields:
            raise QueryError(404, "BAD_PARAM", f"Bad parameter 'sort': unknown field {field!r}")
        convert = _converter(field, modified_field)
        # Nulls first when ascending, as SQL sorts them.
        chosen.sort(key=_sort_key(field, convert), reverse=descending)
    return chosen


def counts(tenants: Iterable[str], records: int | Mapping[str, int]) -> dict[str, int]:
    """Initial documents per tenant from one number or a dict by tenant name."""
    names = list(tenants)
    if isinstance(records, int):
        return dict.fromkeys(names, records)
    return {name: records.get(name, 0) for name in names}


__all__ = ["NUMBER_FIELDS", "OPERATORS", "TIME_FIELDS", "QueryError", "TenantDocuments", "counts", "horisen_time",
           "make_document", "select"]
