"""Conformance harness for Exact Online (see replicator/testing/conformance.py)."""

from __future__ import annotations

from typing import Any

from replicator.clock import Clock
from replicator.testing.fake_exact import FakeExactServer
from replicator.testing.fakebase import FaultSwitches
from replicator_exact.records import parse_exact_date

RECORDS = {"transaction_lines": 2_500, "accounts": 300, "contacts": 200, "sales_invoices": 250,
           "gl_accounts": 120, "items": 100, "vat_codes": 70, "deleted": 0}
KEYS = {"sales_invoices": "InvoiceID"}


def as_stored(record: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in record.items():
        if isinstance(value, str) and value.startswith("/Date("):
            value = str(parse_exact_date(value))
        elif isinstance(value, bool):
            value = int(value)
        out[name] = value
    return out


class ExactHarness:
    provider = "exact_online"

    def __init__(self, divisions: int = 3, page_size: int = 500) -> None:
        self.divisions = divisions
        self.page_size = page_size
        self.server: FakeExactServer | None = None
        self.token = ""

    async def start(self, clock: Clock, *, fast: bool = False) -> None:
        limits = {"minutely_limit": 100_000, "daily_limit": 10_000_000} if fast else {}
        self.server = FakeExactServer(divisions=self.divisions, records=RECORDS, clock=clock,
                                      sync_page_size=self.page_size, **limits)
        await self.server.start()
        self.token = self.server.add_grant("conn")

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    @property
    def fake(self) -> FakeExactServer:
        assert self.server is not None
        return self.server

    def connection(self) -> str:
        s = self.fake
        return (f'provider = "exact_online"\nbase_url = "{s.base_url}"\nclient_id = "{s.client_id}"\n'
                f'client_secret = "{s.client_secret}"\nrefresh_token = "{self.token}"\n')

    def expected(self) -> dict[tuple[str, str], dict[Any, dict[str, Any]]]:
        out = {}
        for division in self.fake.division_codes("conn"):
            for resource in RECORDS:
                rows = self.fake.expected(division, resource)
                key = KEYS.get(resource, "ID")
                out[(str(division), f"exact_online__{resource}")] = {
                    r[key]: as_stored(r) for r in rows.values()}
        return out

    def mutate(self) -> None:
        first, second, *rest = self.fake.division_codes("conn")
        self.fake.mutate(first, "transaction_lines", add=40, change=30, delete=25)
        self.fake.mutate(second, "accounts", add=3, change=4, delete=5)
        self.fake.mutate(second, "vat_codes", add=2, change=3)
        for division in rest:
            self.fake.mutate(division, "items", add=1, delete=1)

    def rate_limit_respected(self) -> bool:
        return all(self.fake.stats.max_calls_in_any_minute(d) <= self.fake.minutely_limit
                   for d in self.fake.division_codes("conn"))

    def rate_limited(self) -> int:
        return self.fake.stats.rate_limited

    @property
    def faults(self) -> FaultSwitches:
        return self.fake.faults


HARNESS = ExactHarness
