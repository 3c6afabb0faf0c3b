"""Conformance harness for Horus Office (see replicator/testing/conformance.py).

One connection is one licence; its folders are the tenants. The fake pages with a
paging object, to which :class:`LinkedPagesServer` adds a ``Next`` link: the fake
serves no links of its own, and a server-named link is the only way a Horus page
could point at a foreign host (the ``foreign_next`` check). The other paging shapes
are covered end to end in ``tests/integration/test_horus.py``.

Sideload tables are predicted, not read off the source: an ``Included`` entity is
stored as it was when a listing last brought it along, so after an increment the
replica holds the earlier entities (deleted ones included), overwritten by the
current version of those the increment's records refer to.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from aiohttp import web

from replicator.clock import Clock
from replicator.testing.fake_horus import FakeHorusServer, PagingMode
from replicator.testing.fakebase import FaultSwitches, Reply, Tenant
from replicator.testing.horus_data import REFERENCE_FIELDS
from replicator_horus import MODIFIED_MARGIN, SIDELOADS
from replicator_horus.options import HorusOptions
from replicator_horus.records import modified_after

RECORDS = {"companies": 130, "book-entries": 260, "account-histories": 220, "invoices.sales.outstanding": 70}
PAGE_SIZE = 50
RATE = (30, 60.0)  # calls per minute per licence, armed at the fake and declared in the options
FULL_SCAN = ("companies", "account-histories")

Included = dict[str, dict[str, dict[str, Any]]]  # type -> Id -> entity


def as_stored(record: dict[str, Any]) -> dict[str, Any]:
    return {k: int(v) if isinstance(v, bool) else v for k, v in record.items()}


class LinkedPagesServer(FakeHorusServer):
    """The fake, with ``Paging.Next`` naming the next page's URL (what ``link`` makes of it)."""

    async def send(self, request: web.Request, reply: Reply, tenant: Tenant | None, *,
                   api: bool = True) -> web.StreamResponse:
        if api and reply.status == 200 and request.path.endswith(".list"):
            doc = orjson.loads(reply.body)
            paging = doc.get("Paging")
            if paging and paging["Page"] < paging["TotalPages"]:
                paging["Next"] = self.link(request.path, tenant)
                reply = Reply.json(200, doc, reply.headers)
        return await super().send(request, reply, tenant, api=api)


def toml_value(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return orjson.dumps(value).decode()  # strings and numbers: TOML reads JSON's forms


class HorusHarness:
    """The conformance harness; its arguments let ``test_horus.py`` vary the fake and options.

    Args:
        folders: folders of the licence (the tenants).
        records: records per folder per resource.
        paging_mode: the fake's paging shape.
        server: the fake's class (the default adds ``Paging.Next`` links).
        options: connection options on top of the harness's own.
    """

    provider = "horus"

    def __init__(self, folders: int = 3, *, records: Mapping[str, int] = RECORDS,
                 paging_mode: PagingMode = "object", server: Callable[..., FakeHorusServer] = LinkedPagesServer,
                 options: Mapping[str, str | int | float | bool] | None = None) -> None:
        self.folders = folders
        self.records = dict(records)
        self.paging_mode: PagingMode = paging_mode
        self.server_class = server
        self.options = dict(options or {})
        self.server: FakeHorusServer | None = None
        self.api_url = ""
        self.token = ""
        self.fast = False
        # Per folder, frozen by mutate(): the sideload tables after the last run,
        # and the ModifiedAfter each incremental resource's next pass sends.
        self._base: dict[str, Included] = {}
        self._since: dict[str, dict[str, str | None]] = {}

    async def start(self, clock: Clock, *, fast: bool = False) -> None:
        self.fast = fast
        self.server = self.server_class(licences=2, folders=self.folders, records=self.records, clock=clock,
                                        paging_mode=self.paging_mode,
                                        rate_limit=None if fast else (RATE[0], RATE[1]))
        await self.server.start()
        self.api_url, self.token = self.server.grant(self.licence)

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    @property
    def fake(self) -> FakeHorusServer:
        assert self.server is not None
        return self.server

    @property
    def licence(self) -> str:
        return self.fake.licences[0]

    def connection_options(self) -> dict[str, str | int | float | bool]:
        return {"api_host_pattern": "127.0.0.1", "allow_insecure_loopback": True, "page_size": PAGE_SIZE,
                "full_scan": ",".join(FULL_SCAN), "rate_limit_calls": 1_000_000 if self.fast else RATE[0],
                "rate_limit_period": RATE[1], **self.options}

    def connection(self) -> str:
        s = self.fake
        table = ", ".join(f'"{k}" = {toml_value(v)}' for k, v in self.connection_options().items())
        return (f'provider = "horus"\nbase_url = "{self.api_url}"\nclient_id = "{s.client_id}"\n'
                f'client_secret = "{s.client_secret}"\nrefresh_token = "{self.token}"\n'
                f"options = {{ {table} }}\n")

    # -- what the replica should hold ------------------------------------------------

    def expected(self) -> dict[tuple[str, str], dict[Any, dict[str, Any]]]:
        out: dict[tuple[str, str], dict[Any, dict[str, Any]]] = {}
        folders = self.fake.expected(self.licence, None, "folders")
        for folder in self.fake.folder_ids(self.licence):
            out[(folder, "horus__folders")] = {folder: as_stored(folders[folder])}
            for resource in self.records:
                rows = self.fake.expected(self.licence, folder, resource)
                out[(folder, f"horus__{resource}")] = {k: as_stored(v) for k, v in rows.items()}
            for type_name, entities in self._included(folder).items():
                table = f"horus__{SIDELOADS[type_name].name}"
                out[(folder, table)] = {k: as_stored(v) for k, v in entities.items()}
        return out

    def _sideloading(self) -> tuple[dict[str, list[str]], set[str]]:
        """Resource -> included types, and the resources read by full scans (from the options)."""
        settings = HorusOptions.parse(self.connection_options())
        types = {name: [path.rsplit(".", 1)[-1] for path in text.split(",")]
                 for name, text in settings.includes.items() if name in self.records}
        return types, {*settings.full_scan, "invoices.sales.outstanding"}

    def _included(self, folder: str) -> Included:
        """The sideload tables of ``folder`` after a run over the current source."""
        since = self._since.get(folder)
        out = copy.deepcopy(self._base.get(folder, {}))
        included, scanned = self._sideloading()
        for resource, types in included.items():
            rows = self.fake.expected(self.licence, folder, resource).values()
            cut = since.get(resource) if since is not None and resource not in scanned else None
            read = [row for row in rows if cut is None or row["Modified"] > cut]
            for type_name in types:
                refs = {row[REFERENCE_FIELDS[type_name]] for row in read} - {None}
                current = self.fake.expected_included(self.licence, folder, resource, type_name)
                out.setdefault(type_name, {}).update({k: v for k, v in current.items() if k in refs})
        return out

    def mutate(self) -> None:
        # What the last run left, and where each increment starts (its cursor, the
        # highest Modified it saw, less the margin the provider sends).
        for folder in self.fake.folder_ids(self.licence):
            self._base[folder] = self._included(folder)
            self._since[folder] = {}
            for resource in self.records:
                stamps = [r["Modified"] for r in self.fake.expected(self.licence, folder, resource).values()]
                self._since[folder][resource] = modified_after(max(stamps), MODIFIED_MARGIN) if stamps else None
        first, second, third = self.fake.folder_ids(self.licence)[:3]
        lic = self.licence
        self.fake.mutate(lic, first, "companies", add=3, change=4, delete=5)
        self.fake.mutate(lic, second, "companies", change=2)
        self.fake.mutate(lic, second, "book-entries", add=6, change=5)  # increments never see deletions
        self.fake.mutate(lic, third, "account-histories", add=4, change=3, delete=2)
        self.fake.mutate(lic, first, "invoices.sales.outstanding", add=2, change=3, delete=4)
        self.fake.mutate(lic, second, "invoices.sales.outstanding", change=1, delete=1)
        # A new folder is a new tenant; a deleted one would stay in the replica
        # (the engine has no notion of a tenant that went away).
        self.fake.mutate(lic, None, "folders", add=1, change=1)

    # -- limits and faults ------------------------------------------------------------

    def rate_limit_respected(self) -> bool:
        return self.fake.stats.max_calls_in_window(self.licence, RATE[1], aligned=True) <= RATE[0]

    def rate_limited(self) -> int:
        return self.fake.stats.rate_limited

    @property
    def faults(self) -> FaultSwitches:
        return self.fake.faults


HARNESS = HorusHarness
