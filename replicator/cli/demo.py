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
from typing import Any

from replicator import config as cfg
from replicator.cli.main import run_engine, summary_text

# Records per division per resource, relative to ``records`` transaction lines.
SHARES = {"transaction_lines": 1.0, "accounts": 0.1, "contacts": 0.1, "sales_invoices": 0.1,
          "gl_accounts": 0.05, "items": 0.05, "vat_codes": 0.01, "deleted": 0.0}


def _pin(core: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        try:
            os.sched_setaffinity(0, {core})
        except OSError:
            pass


def _serve(pipe: Connection, divisions: int, records: dict[str, int]) -> None:
    _pin(1)

    async def main() -> None:
        from replicator.testing.fake_exact import FakeExactServer

        server = FakeExactServer(divisions=divisions, records=records)
        base_url = await server.start()
        token = server.add_grant("demo")
        pipe.send({"base_url": base_url, "refresh_token": token,
                   "client_id": server.client_id, "client_secret": server.client_secret})
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, pipe.recv)  # wait for "stop"
        pipe.send({"rate_limited": server.stats.rate_limited})
        await server.close()

    asyncio.run(main())


def write_config(directory: Path, server: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "replicator.toml"
    path.write_text(
        "# Written by `replicator demo`: a fake Exact Online licence on loopback.\n"
        "[store]\n"
        'url = "sqlite:///demo.sqlite"\n\n'
        "[limits]\n"
        "max_in_flight = 64\n\n"
        "[connections.demo]\n"
        'provider = "exact_online"\n'
        f'base_url = "{server["base_url"]}"\n'
        f'client_id = "{server["client_id"]}"\n'
        f'client_secret = "{server["client_secret"]}"\n'
        f'refresh_token = "{server["refresh_token"]}"\n'
    )
    return path


def demo(*, divisions: int = 300, records: int = 2000, directory: str = "replicator-demo",
         quiet: bool = False) -> int:
    per_resource = {name: int(records * share) for name, share in SHARES.items()}
    total = sum(per_resource.values()) * divisions
    print(f"demo: starting a fake Exact Online server with {divisions} divisions "
          f"(~{total:,} records) on 127.0.0.1", file=sys.stderr)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(child, divisions, per_resource), daemon=True)
    process.start()
    try:
        if not parent.poll(120):
            print("demo: the fake server did not start", file=sys.stderr)
            return 1
        server = parent.recv()
        path = write_config(Path(directory), server)
        print(f"demo: config written to {path}; mirroring into "
              f"{Path(directory) / 'demo.sqlite'}", file=sys.stderr)
        _pin(0)
        summary = asyncio.run(run_engine(cfg.load(path), progress=not quiet))
        parent.send("stop")
        server_stats = parent.recv() if parent.poll(10) else {}
    finally:
        process.join(5)
        if process.is_alive():
            process.terminate()
    print(summary_text(summary))
    print(f"demo: the server answered {server_stats.get('rate_limited', '?')} requests with 429")
    print(f"demo: inspect with `replicator status -c {path}` or "
          f"`sqlite3 {Path(directory) / 'demo.sqlite'} .tables`")
    return 0 if summary.ok else 1
