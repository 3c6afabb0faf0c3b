"""Fixtures for end-to-end tests: a fake Exact server on loopback, a SQLite
replica and the engine, all reading one virtual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest_asyncio

from replicator import config as cfg
from replicator.engine import Engine, RunSummary
from replicator.stores.sqlite import SQLiteStore
from replicator.testing.clock import VirtualClock
from replicator.testing.fake_exact import FakeExactServer
from tests.integration.harnesses.exact import as_stored

SMALL = {"transaction_lines": 250, "accounts": 30, "contacts": 20, "sales_invoices": 25,
         "gl_accounts": 12, "items": 10, "vat_codes": 70, "deleted": 0}


def config_text(server: FakeExactServer, tokens: dict[str, str], *, store: str = "replica.sqlite",
                extra: str = "", limits: str = "") -> str:
    default = "" if "max_in_flight" in limits else "max_in_flight = 16\n"
    parts = [f'[store]\nurl = "{store}"\n', f"[limits]\n{default}{limits}\n"]
    for name, token in tokens.items():
        parts.append(
            f"[connections.{name}]\nprovider = \"exact_online\"\nbase_url = \"{server.base_url}\"\n"
            f"client_id = \"{server.client_id}\"\nclient_secret = \"{server.client_secret}\"\n"
            f"refresh_token = \"{token}\"\n{extra}\n")
    return "\n".join(parts)


@dataclass
class Env:
    clock: VirtualClock
    server: FakeExactServer
    store: SQLiteStore
    tmp: Path
    tokens: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def config(self, **kwargs: Any) -> cfg.Config:
        self.text = config_text(self.server, self.tokens, **kwargs)
        path = self.tmp / "replicator.toml"
        path.write_text(self.text)
        return cfg.load(path)

    async def run(self, config: cfg.Config | None = None, **kwargs: Any) -> RunSummary:
        engine = Engine(config or self.config(**kwargs), self.store, clock=self.clock)
        return await engine.run()


async def make_env(tmp_path: Path, **server_kwargs: Any) -> tuple[Env, VirtualClock]:
    clock = VirtualClock()
    server_kwargs.setdefault("records", SMALL)
    server = FakeExactServer(clock=clock, **server_kwargs)
    await server.start()
    store = SQLiteStore(tmp_path / "replica.sqlite", clock=clock)
    await store.open()
    env = Env(clock, server, store, tmp_path)
    env.tokens["acme"] = server.add_grant("acme")
    return env, clock


@pytest_asyncio.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    e, clock = await make_env(tmp_path, divisions=3)
    try:
        yield e
    finally:
        await e.store.close()
        await e.server.close()
        await clock.aclose()


async def replica(store: SQLiteStore, resource: str, connection: str, tenant: int) -> dict[str, dict[str, Any]]:
    key = "InvoiceID" if resource == "sales_invoices" else "ID"
    rows = {}
    async for row in store.export(f"exact_online__{resource}", connection=connection,
                                  tenant=str(tenant)):
        clean = {k: v for k, v in row.items() if not k.startswith("_")}
        rows[clean[key]] = clean
    return rows


async def assert_mirrors(env: Env, connection: str = "acme", grant: str = "acme",
                         resources: tuple[str, ...] = tuple(SMALL)) -> int:
    """Every division and resource of the replica equals the fake's current data."""
    total = 0
    for division in env.server.division_codes(grant):
        for resource in resources:
            expected = {k: as_stored(v) for k, v in env.server.expected(division, resource).items()}
            actual = await replica(env.store, resource, connection, division)
            assert actual.keys() == expected.keys(), (
                f"{resource}/{division}: missing {len(expected.keys() - actual.keys())}, "
                f"extra {len(actual.keys() - expected.keys())}")
            for key, record in expected.items():
                assert actual[key] == record, f"{resource}/{division}/{key}"
            total += len(expected)
    return total
