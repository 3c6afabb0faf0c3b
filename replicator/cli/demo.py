"""``replicator demo``: a fake Exact Online licence on loopback, mirrored into SQLite.

The fake server runs in a child process (pinned to another core when there are
two), like a real API would be on another machine; the engine runs here with
the same code path as ``replicator run``.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import sys
from multiprocessing.connection import Connection
from pathlib import Path

from replicator import config as cfg
from replicator.cli.main import run_engine, summary_text


def _pin(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        try:
            os.sched_setaffinity(0, {core})
        except OSError:
            pass


def _serve(pipe: Connection, scale: int, providers: list[str] | None) -> None:
    _pin(1)

    async def main() -> None:
        from replicator.clock import SystemClock
        from replicator.testing.fleet import start_fleet

        fleet = await start_fleet(SystemClock(), scale=scale, providers=providers)
        try:
            pipe.send({"connections": fleet.toml(), "count": len(fleet.connections)})
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, pipe.recv)  # wait for "stop"
            pipe.send({"rate_limited": fleet.rate_limited()})
        finally:
            await fleet.close()

    asyncio.run(main())


def write_config(directory: Path, connections: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "replicator.toml"
    path.write_text(
        "# Written by `replicator demo`: fake providers on loopback, one firm's clients.\n"
        "[store]\n"
        'url = "sqlite:///demo.sqlite"\n\n'
        "[limits]\n"
        "max_in_flight = 64\n\n"
        f"{connections}"
    )
    return path


async def _tables(path: Path) -> dict[str, int]:
    from replicator.stores.sqlite import SQLiteStore

    store = SQLiteStore(path)
    await store.open()
    try:
        return {t: await store.count(t) for t in await store.table_names()}
    finally:
        await store.close()


def demo(*, divisions: int = 300, providers: list[str] | None = None, directory: str = "replicator-demo",
         quiet: bool = False) -> int:
    print(f"demo: starting fake providers on 127.0.0.1 ({divisions} Exact divisions, and the other "
          "providers' tenants in proportion)", file=sys.stderr)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(child, divisions, providers), daemon=True)
    process.start()
    try:
        if not parent.poll(180):
            print("demo: the fake servers did not start", file=sys.stderr)
            return 1
        fleet = parent.recv()
        if "connections" not in fleet:
            print(f"demo: the fake servers failed: {fleet}", file=sys.stderr)
            return 1
        path = write_config(Path(directory), fleet["connections"])
        replica = Path(directory) / "demo.sqlite"
        print(f"demo: {fleet['count']} connections written to {path}; mirroring into {replica}",
              file=sys.stderr)
        _pin(0)
        summary = asyncio.run(run_engine(cfg.load(path), progress=not quiet))
        parent.send("stop")
        server_stats = parent.recv() if parent.poll(10) else {}
    finally:
        process.join(5)
        if process.is_alive():
            process.terminate()
    print(summary_text(summary))
    by_provider: dict[str, int] = {}
    for table, rows in asyncio.run(_tables(replica)).items():
        provider = table.split("__", 1)[0]
        by_provider[provider] = by_provider.get(provider, 0) + rows
    for provider, rows in sorted(by_provider.items()):
        print(f"demo: {provider:<14} {rows:>9,} rows")
    print(f"demo: the servers answered {server_stats.get('rate_limited', '?')} requests with 429")
    print(f"demo: inspect with `replicator status -c {path}` or `sqlite3 {replica} .tables`")
    return 0 if summary.ok else 1
