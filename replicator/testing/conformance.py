"""The conformance kit: the same end-to-end checks for every provider plugin.

A plugin author writes one :class:`Harness` (how to start the provider's fake
server, what the connection's configuration looks like, what the replica should
hold) and gets the checks every built-in provider passes, over real loopback
HTTP, in virtual time:

- :func:`check_full_sync`: a first run mirrors exactly what the source has;
- :func:`check_incremental`: after additions, changes and deletions at the
  source, the next run mirrors them too;
- :func:`check_rate_limits`: the run never exceeds the provider's windows
  (the fake server counts; a 429 the engine caused is a defect);
- :func:`check_faults`: 5xx, resets, truncated gzip and HTML pages are survived;
- :func:`check_hostile_next`: a next link to a foreign host is refused and
  nothing is sent there.

Kill -9 resilience runs the CLI in a subprocess; see
``tests/integration/test_conformance.py`` for how it drives a harness.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from replicator import config as cfg
from replicator.clock import Clock
from replicator.engine import Engine, RunSummary
from replicator.stores.sqlite import SQLiteStore
from replicator.testing.fakebase import FaultSwitches


class Harness(Protocol):
    """One provider's fake server, seen from the conformance checks.

    Tenants and keys are given as the replica stores them: ``_tenant`` text and
    the record key's value.
    """

    provider: str
    """The entry-point name (``provider = "..."`` in the configuration)."""

    async def start(self, clock: Clock, *, fast: bool = False) -> None:
        """Start the fake server(s) on 127.0.0.1. ``fast``: no rate limit (for
        runs in real time, such as the kill -9 check)."""
        ...

    async def close(self) -> None: ...

    def connection(self) -> str:
        """The body of a ``[connections.<name>]`` table: provider, base_url,
        credentials, options (TOML lines)."""
        ...

    def expected(self) -> dict[tuple[str, str], dict[Any, dict[str, Any]]]:
        """(tenant, table) -> key -> row (columns as the replica stores them,
        metadata columns left out), for every table the run should fill."""
        ...

    def mutate(self) -> None:
        """Add, change and delete records at the source, across tenants and resources."""
        ...

    def rate_limit_respected(self) -> bool:
        """True when no tenant's calls ever exceeded the provider's windows."""
        ...

    def rate_limited(self) -> int:
        """429s the server gave."""
        ...

    @property
    def faults(self) -> FaultSwitches: ...


def config_text(harness: Harness, *, store: str = "replica.sqlite", limits: str = "",
                name: str = "conn") -> str:
    """A whole configuration file for one connection of ``harness``."""
    default = "" if "max_in_flight" in limits else "max_in_flight = 16\n"
    return (f'[store]\nurl = "{store}"\n\n[limits]\n{default}{limits}\n\n'
            f"[connections.{name}]\n{harness.connection()}\n")


@dataclass
class Run:
    """A replica file, its configuration and the clock the engine reads."""

    directory: Path
    clock: Clock
    harness: Harness

    @property
    def config_path(self) -> Path:
        return self.directory / "replicator.toml"

    def write_config(self, **kwargs: Any) -> cfg.Config:
        self.config_path.write_text(config_text(self.harness, **kwargs))
        return cfg.load(self.config_path)

    async def run(self, **kwargs: Any) -> RunSummary:
        config = self.write_config(**kwargs)
        store = SQLiteStore(self.directory / "replica.sqlite", clock=self.clock)
        await store.open()
        try:
            return await Engine(config, store, clock=self.clock).run()
        finally:
            await store.close()

    async def replica(self) -> dict[tuple[str, str], dict[Any, dict[str, Any]]]:
        """(tenant, table) -> key -> row, for the tables the harness expects."""
        store = SQLiteStore(self.directory / "replica.sqlite", clock=self.clock)
        await store.open()
        try:
            out: dict[tuple[str, str], dict[Any, dict[str, Any]]] = {}
            tables = {table for _, table in self.harness.expected()}
            known = set(await store.table_names())
            for table in sorted(tables & known):
                spec_key = await store.key_of(table)
                async for row in store.export(table):
                    clean = {k: v for k, v in row.items() if not k.startswith("_")}
                    out.setdefault((row["_tenant"], table), {})[clean[spec_key]] = clean
            return out
        finally:
            await store.close()

    async def assert_mirrors(self) -> int:
        """The replica equals the source; returns the number of rows compared."""
        expected = {k: v for k, v in self.harness.expected().items() if v}
        actual = await self.replica()
        assert set(actual) == set(expected), (
            f"tables/tenants differ: missing {sorted(set(expected) - set(actual))}, "
            f"extra {sorted(set(actual) - set(expected))}")
        total = 0
        for where, rows in expected.items():
            got = actual[where]
            assert got.keys() == rows.keys(), (
                f"{where}: missing {sorted(rows.keys() - got.keys())[:5]}, "
                f"extra {sorted(got.keys() - rows.keys())[:5]}")
            for key, row in rows.items():
                assert got[key] == row, f"{where}/{key}: replica {got[key]} != source {row}"
            total += len(rows)
        return total


async def check_full_sync(run: Run) -> RunSummary:
    summary = await run.run()
    assert summary.ok, summary
    assert await run.assert_mirrors() > 0
    assert run.harness.rate_limited() == 0, "the engine caused 429s"
    assert run.harness.rate_limit_respected()
    return summary


async def check_incremental(run: Run, advance: Callable[[float], None]) -> None:
    assert (await run.run()).ok
    run.harness.mutate()
    advance(3600)
    summary = await run.run()
    assert summary.ok, summary
    await run.assert_mirrors()
    assert run.harness.rate_limited() == 0


async def check_faults(run: Run, arm: Callable[[FaultSwitches], None]) -> RunSummary:
    arm(run.harness.faults)
    summary = await run.run()
    assert summary.ok, summary
    assert summary.snapshot.retries > 0
    assert run.harness.faults.pending() == {}, run.harness.faults.pending()
    await run.assert_mirrors()
    return summary


async def check_hostile_next(run: Run, foreign_server: Callable[[], Awaitable[tuple[str, list[Any]]]]) -> None:
    url, seen = await foreign_server()
    run.harness.faults.foreign_next(url)
    summary = await run.run()
    assert not summary.ok
    assert seen == [], "a request went to the foreign host"
    assert any(url.split("//", 1)[1] in why for why in summary.failed_tenants.values()), summary
