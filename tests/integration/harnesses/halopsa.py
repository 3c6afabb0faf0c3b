"""Conformance harness for HaloPSA (see replicator/testing/conformance.py).

One connection covers one Halo instance, so the harness serves one tenant of the
fake, with enough records that a full sync needs more than the 300 calls of one
rolling 5-minute window (the rate limit is on unless ``fast``).

Halo has no next links; the one link a client follows is ``auth_url`` from
``/api/authinfo``. The harness's server therefore applies the ``foreign_next``
fault there: a hostile authinfo must not receive the client secret.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from aiohttp import web

from replicator.clock import Clock
from replicator.decoding import columns_of
from replicator.testing.fake_halo import FakeHaloServer
from replicator.testing.fakebase import FaultSwitches, Reply
from replicator_halopsa import ENDPOINTS, HaloPSAProvider
from replicator_halopsa.auth import instance_id
from replicator_halopsa.records import SECRET_FIELDS, parse_halo_time

RECORDS = {"Client": 300, "Tickets": 2000, "Site": 200, "Users": 250, "Invoice": 400, "XeroDetails": 2,
           "QuickBooksDetails": 2, "SageBusinessCloudDetails": 3, "MYOBdetails": 2, "KashflowDetails": 2}
TENANT = "acme"


Intercept = Callable[[web.Request, Reply], Awaitable[Reply | web.StreamResponse | None]]
"""Replaces a reply before it goes out (a Reply, or a response already sent), or None."""


class HostileAuthinfoHalo(FakeHaloServer):
    """The fake, plus ``foreign_next`` applied to authinfo's ``auth_url``, plus an
    ``intercept`` hook for tests of bad and hostile answers."""

    intercept: Intercept | None = None

    async def send(self, request: web.Request, reply: Reply, tenant: Any, *, api: bool = True) -> web.StreamResponse:
        if self.intercept is not None:
            replaced = await self.intercept(request, reply)
            if isinstance(replaced, web.StreamResponse):
                return replaced
            reply = replaced or reply
        if request.path.endswith("/api/authinfo") and reply.status == 200:
            fault = self.faults.take("foreign_next", tenant)
            if fault is not None:
                info = orjson.loads(reply.body)
                info["auth_url"] = f"{fault.target}/{tenant}/auth"
                reply = Reply.json(200, info)
        return await super().send(request, reply, tenant, api=api)


def as_stored(record: dict[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    """A fake record as the replica stores it, for the given (name -> type) columns."""
    undeclared = set(record) - set(columns) - SECRET_FIELDS
    assert not undeclared, f"fields the plugin would drop: {sorted(undeclared)}"
    out: dict[str, Any] = {}
    for name, kind in columns.items():
        value = record.get(name)
        if value is None:
            pass
        elif kind == "timestamp":
            value = str(parse_halo_time(value))
        elif kind == "boolean":
            value = int(value)
        elif kind == "json":
            value = orjson.dumps(value).decode()
        out[name] = value
    return out


class HaloHarness:
    provider = "halopsa"

    def __init__(self, *, records: dict[str, int] | None = None, page_size: int | None = None,
                 include_secrets: bool = False, **server: Any) -> None:
        self.records = RECORDS if records is None else records
        self.page_size = page_size
        self.include_secrets = include_secrets
        self.server_kwargs = server
        self.server: HostileAuthinfoHalo | None = None

    async def start(self, clock: Clock, *, fast: bool = False) -> None:
        kwargs: dict[str, Any] = {"rate_limit": 1_000_000} if fast else {}
        kwargs.update(self.server_kwargs)
        if self.page_size is None:
            # Small pages: more than one rolling window's worth of calls, unless in
            # real time (the kill -9 check), where one window must be enough.
            self.page_size = 15 if fast else 10
        self.server = HostileAuthinfoHalo(tenants=[TENANT], records=self.records, clock=clock, **kwargs)
        await self.server.start()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    @property
    def fake(self) -> HostileAuthinfoHalo:
        assert self.server is not None
        return self.server

    @property
    def tenant(self) -> str:
        """The tenant id the replica stores (the instance, named from its URL)."""
        return instance_id(self.fake.tenant_url(TENANT))

    def options(self) -> str:
        secrets = "true" if self.include_secrets else "false"
        return f"{{ include_secrets = {secrets}, page_size = {self.page_size} }}"

    def connection(self) -> str:
        client_id, secret = self.fake.credentials(TENANT)
        return (f'provider = "halopsa"\nbase_url = "{self.fake.tenant_url(TENANT)}"\n'
                f'client_id = "{client_id}"\nclient_secret = "{secret}"\noptions = {self.options()}\n')

    def expected(self) -> dict[tuple[str, str], dict[Any, dict[str, Any]]]:
        provider = HaloPSAProvider(self.fake.tenant_url(TENANT), {"include_secrets": self.include_secrets})
        out = {}
        for name, endpoint in ENDPOINTS.items():
            columns = {c.name: c.type for c in columns_of(provider.resource(name).record)}
            rows = self.fake.expected(TENANT, endpoint.path)
            out[(self.tenant, f"halopsa__{name}")] = {key: as_stored(rec, columns) for key, rec in rows.items()}
        return out

    def mutate(self) -> None:
        # No deletions in the four incremental endpoints: Halo has no deletion feed,
        # so only full scans (Invoice and the accounting lists, swept) can see them.
        fake = self.fake
        fake.mutate(TENANT, "Client", add=5, change=7)
        fake.mutate(TENANT, "Tickets", add=10, change=20)
        fake.mutate(TENANT, "Site", change=3)
        fake.mutate(TENANT, "Users", add=2)
        fake.mutate(TENANT, "Invoice", add=4, change=6, delete=5)
        fake.mutate(TENANT, "XeroDetails", change=1)
        fake.mutate(TENANT, "QuickBooksDetails", add=1)
        fake.mutate(TENANT, "MYOBdetails", add=1, delete=1)
        fake.mutate(TENANT, "KashflowDetails", delete=1)

    def rate_limit_respected(self) -> bool:
        return self.fake.stats.max_calls_in_window(TENANT, self.fake.limiter.period) <= self.fake.limiter.limit

    def rate_limited(self) -> int:
        return self.fake.stats.rate_limited

    @property
    def faults(self) -> FaultSwitches:
        return self.fake.faults


HARNESS = HaloHarness
