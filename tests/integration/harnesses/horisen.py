"""Conformance harness for HORISEN Finance Documents (see replicator/testing/conformance.py).

HORISEN is one tenant per connection (each white-label host has its own client),
so the harness configures two connections from ``connection()``: the body of the
first, then a ``[connections.*]`` table of its own for the second.

- ``horisen1``: the default mode, increments on ``statusDt``. Deletions at the
  source are invisible to increments, so its mutation adds and changes only.
- ``horisen2``: ``full_scan = true``, swept every pass: its mutation deletes too.

The fake does not put next links in its pages; the harness serves them the way a
Fractal paginator does (``meta.pagination.links.next``) so that a foreign link can
be planted, and the plugin checks every link it is given.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from replicator.clock import Clock
from replicator.testing.fake_horisen import FakeHorisenServer
from replicator.testing.fakebase import FaultSwitches, Reply
from replicator_horisen.records import parse_time

TENANTS = ("horisen1", "horisen2")
MODES = {"horisen1": "", "horisen2": "full_scan = true, "}
RECORDS = 1_000
PAGE_SIZE = 25
PER_MINUTE = 60  # the plugin's default budget, and the fake's limit when not fast

TIMES = frozenset({"insertDt", "statusDt", "paymentStatusDate", "syncStatusDt", "docsDeliveryStatusDate"})
_NESTED = frozenset({"bizPartner", "dataSource"})


class LinkingHorisenServer(FakeHorisenServer):
    """The fake plus Fractal-style ``links.next`` on every page but the last."""

    def _export(self, request: web.Request, tenant: str, params: list[tuple[str, str]]) -> Reply:
        reply = super()._export(request, tenant, params)
        if reply.status != 200:
            return reply
        page = orjson.loads(reply.body)
        pagination = page["meta"]["pagination"]
        if pagination["currentPage"] < pagination["totalPages"]:
            query = [(k, v) for k, v in params if k != "page_number"]
            query.append(("page_number", str(pagination["currentPage"] + 1)))
            pagination["links"] = {"next": self.link(f"{request.path}?{urlencode(query)}", tenant)}
            reply = Reply(200, orjson.dumps(page))
        return reply


def as_stored(document: dict[str, Any], times: frozenset[str] = TIMES) -> tuple[dict[str, Any],
                                                                                dict[str, dict[str, Any]]]:
    """A served document -> (its documents row, its items rows by key), as the replica has them.

    ``times``: the date-time fields (a modification field the fake added, too).
    """
    row: dict[str, Any] = {}
    for name, value in document.items():
        if name == "items":
            continue
        if name in times and value is not None:
            value = str(parse_time(value))
        elif name in _NESTED and value is not None:
            value = orjson.dumps(value).decode()
        row[name] = value
    items = document.get("items") or []
    row["itemCount"] = len(items)
    rows = {}
    for position, item in enumerate(items, 1):
        key = f"{document['id']}:{position}"
        stored = {**item, "key": key, "parentId": document["id"], "position": position}
        if stored.get("dataSource") is not None:
            stored["dataSource"] = orjson.dumps(stored["dataSource"]).decode()
        rows[key] = stored
    return row, rows


class HorisenHarness:
    provider = "horisen"

    def __init__(self) -> None:
        self.server: LinkingHorisenServer | None = None
        self.per_minute = PER_MINUTE

    async def start(self, clock: Clock, *, fast: bool = False) -> None:
        # Fast (real time, no limit at the fake): the plugin need not pace itself either.
        self.per_minute = 100_000 if fast else PER_MINUTE
        self.server = LinkingHorisenServer(tenants=list(TENANTS), records=RECORDS, clock=clock,
                                           rate_limit=None if fast else PER_MINUTE, rate_window=60.0)
        await self.server.start()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    @property
    def fake(self) -> LinkingHorisenServer:
        assert self.server is not None
        return self.server

    def _body(self, tenant: str) -> str:
        client_id, secret = self.fake.credentials(tenant)
        return (f'provider = "horisen"\nbase_url = "{self.fake.tenant_url(tenant)}"\n'
                f'client_id = "{client_id}"\nclient_secret = "{secret}"\n'
                f'options = {{ {MODES[tenant]}tenant = "{tenant}", page_size = {PAGE_SIZE}, '
                f'requests_per_minute = {self.per_minute} }}\n')

    def connection(self) -> str:
        first, *others = TENANTS
        return "\n".join([self._body(first), *(f"[connections.conn_{t}]\n{self._body(t)}" for t in others)])

    def expected(self) -> dict[tuple[str, str], dict[Any, dict[str, Any]]]:
        out: dict[tuple[str, str], dict[Any, dict[str, Any]]] = {}
        for tenant in TENANTS:
            documents = out.setdefault((tenant, "horisen__documents"), {})
            items = out.setdefault((tenant, "horisen__items"), {})
            for key, document in self.fake.expected(tenant).items():
                documents[key], rows = as_stored(document)
                items.update(rows)
        return out

    def mutate(self) -> None:
        self.fake.mutate("horisen1", add=7, change=11)
        self.fake.mutate("horisen2", add=5, change=6, delete=8)

    def rate_limit_respected(self) -> bool:
        return all(self.fake.stats.max_calls_in_window(t, 60, aligned=True) <= PER_MINUTE for t in TENANTS)

    def rate_limited(self) -> int:
        return self.fake.stats.rate_limited

    @property
    def faults(self) -> FaultSwitches:
        return self.fake.faults


HARNESS = HorisenHarness
