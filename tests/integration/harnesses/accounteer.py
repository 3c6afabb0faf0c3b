"""Conformance harness for Accounteer (see replicator/testing/conformance.py).

A connection is one organisation (the token is bound to it), so the replica has
one tenant here; the fake holds a second organisation that must never show up.
Pages of 20 records make the full sync about 80 calls: more than the 60 the fake
allows per organisation per minute, so the rate-limit check means something.

Accounteer pages carry no next link (page numbers are ours to count), so a next
link to a foreign host cannot happen. What the foreign-next check arms is played
here as its nearest equivalent: a follow-up page answered with a redirect to the
foreign host, which the plugin must refuse without following.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from replicator.clock import Clock
from replicator.decoding import iso_utc
from replicator.testing.fake_accounteer import FakeAccounteerServer
from replicator.testing.fakebase import FaultSwitches

RECORDS = {"contacts": 230, "taxes": 8, "items": 120, "invoices": 500, "purchases": 140, "journals": 400}
RESOURCES = ("organisations", *RECORDS)
PER_PAGE = 20
# In real time (``fast``, the kill -9 checks) the fake has no limit, but the plugin
# still paces itself at 59 calls a minute: pages of 100 keep a run (about 20 calls)
# inside one minute instead of waiting for the next.
FAST_PER_PAGE = 100
RATE_LIMIT = (60, 60.0)


def as_stored(record: dict[str, Any]) -> dict[str, Any]:
    """A record as the fake serves it -> the row the replica holds."""
    out = dict(record)
    for name in ("created_at", "updated_at"):
        if out.get(name) is not None:
            out[name] = iso_utc(datetime.fromisoformat(out[name]))
    if out.get("lines") is not None:
        out["lines"] = orjson.dumps(out["lines"]).decode()
    return out


class RedirectingAccounteerServer(FakeAccounteerServer):
    """The fake, where ``faults.foreign_next`` redirects a page after the first."""

    def add_routes(self, app: web.Application) -> None:
        super().add_routes(app)

        @web.middleware
        async def redirect(request: web.Request, handler: Any) -> web.StreamResponse:
            if request.query.get("page", "1") != "1":
                fault = self.faults.take("foreign_next", None)
                if fault is not None:
                    return web.Response(status=302, headers={"Location": fault.target + request.path_qs})
            response: web.StreamResponse = await handler(request)
            return response

        app.middlewares.append(redirect)


class AccounteerHarness:
    provider = "accounteer"

    def __init__(self, *, records: dict[str, int] | None = None, per_page: int = PER_PAGE,
                 server_class: type[RedirectingAccounteerServer] = RedirectingAccounteerServer,
                 **server_options: Any) -> None:
        """Args (all optional, for tests beyond the conformance checks): the records per
        resource, the ``per_page`` option, the fake's class and its keyword arguments."""
        self.records = RECORDS if records is None else records
        self.server_class = server_class
        self.server_options = server_options
        self.server: RedirectingAccounteerServer | None = None
        self.token = ""
        self.per_page = self.default_per_page = per_page

    async def start(self, clock: Clock, *, fast: bool = False) -> None:
        options: dict[str, Any] = {"organisations": 2, "rate_limit": None if fast else RATE_LIMIT,
                                   **self.server_options}
        self.server = self.server_class(records=self.records, clock=clock, **options)
        self.per_page = FAST_PER_PAGE if fast else self.default_per_page
        await self.server.start()
        self.token = self.server.grant(self.organisation)

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    @property
    def fake(self) -> RedirectingAccounteerServer:
        assert self.server is not None
        return self.server

    @property
    def organisation(self) -> int:
        return self.fake.organisations[0]

    def connection(self) -> str:
        s = self.fake
        return (f'provider = "accounteer"\nbase_url = "{s.base_url}"\nclient_id = "{s.client_id}"\n'
                f'client_secret = "{s.client_secret}"\nrefresh_token = "{self.token}"\n'
                f"options = {{ per_page = {self.per_page} }}\n")

    def expected(self) -> dict[tuple[str, str], dict[Any, dict[str, Any]]]:
        org = self.organisation
        return {(str(org), f"accounteer__{resource}"): {key: as_stored(record) for key, record
                                                         in self.fake.expected(org, resource).items()}
                for resource in RESOURCES}

    def mutate(self) -> None:
        org = self.organisation
        self.fake.mutate(org, "organisations", change=1)
        self.fake.mutate(org, "contacts", add=5, change=7, delete=4)
        self.fake.mutate(org, "invoices", add=30, change=25, delete=12)  # 518: the last page is short
        self.fake.mutate(org, "purchases", delete=20)  # 120: an empty page ends the pass
        self.fake.mutate(org, "taxes", change=2)
        self.fake.mutate(org, "journals", add=1, delete=3)

    def rate_limit_respected(self) -> bool:
        limit = self.fake.limiter
        if limit is None:
            return True
        return all(self.fake.stats.max_calls_in_window(org, limit.period, aligned=True) <= limit.limit
                   for org in self.fake.organisations)

    def rate_limited(self) -> int:
        return self.fake.stats.rate_limited

    @property
    def faults(self) -> FaultSwitches:
        return self.fake.faults


HARNESS = AccounteerHarness
