"""The engine as a benchmark client: one pass (or a timed window) into SQLite.

    python -m benchmarks.clients.engine_client --spec SPEC.json

SPEC: ``base_url``, ``client_id``, ``client_secret``, ``refresh_tokens`` (one
connection each), ``workdir``, and optionally ``max_in_flight``,
``batch_pages``, ``clock`` (``[origin, factor, real_origin]`` of a
:class:`~replicator.clock.ScaledClock`) and ``duration`` (real seconds after
which the run is stopped gracefully, for the rate-limited fleet).

Prints one JSON line: records in the store, seconds of the run, requests, and
the CPU spent in the scheduler and the tenant budgets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from replicator import config as cfg
from replicator.clock import Clock, ScaledClock, SystemClock
from replicator.engine.runner import Engine
from replicator.engine.scheduler import Scheduler
from replicator.limits.budget import TenantBudget
from replicator.stores import open_store

TABLE = "exact_online__transaction_lines"


class _Meter:
    """Accumulates perf_counter time spent inside wrapped synchronous methods."""

    seconds = 0.0
    calls = 0

    @classmethod
    def wrap(cls, owner: type, name: str) -> None:
        inner = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                cls.seconds += time.perf_counter() - start
                cls.calls += 1

        setattr(owner, name, timed)


def _config(spec: dict[str, Any]) -> cfg.Config:
    workdir = Path(spec["workdir"])
    connections = "".join(
        f"\n[connections.bench{i}]\nprovider = \"exact_online\"\nbase_url = \"{spec['base_url']}\"\n"
        f"client_id = \"{spec['client_id']}\"\nclient_secret = \"{spec['client_secret']}\"\n"
        f"refresh_token = \"{token}\"\nresources = [\"transaction_lines\"]\n"
        for i, token in enumerate(spec["refresh_tokens"]))
    text = (f"[store]\nurl = \"sqlite:///{workdir / 'replica.sqlite'}\"\n\n"
            f"[limits]\nmax_in_flight = {spec.get('max_in_flight', 64)}\n"
            f"batch_pages = {spec.get('batch_pages', 20)}\n{connections}")
    path = workdir / "replicator.toml"
    path.write_text(text)
    return cfg.load(path)


async def _run(spec: dict[str, Any]) -> dict[str, Any]:
    config = _config(spec)
    clock: Clock = SystemClock() if spec.get("clock") is None else ScaledClock(*spec["clock"])
    store = open_store(config.store.url)
    engine = Engine(config, store, clock=clock)
    await store.open()
    try:
        if spec.get("duration"):
            asyncio.get_running_loop().call_later(float(spec["duration"]), engine.stop)
        started, cpu_started = time.perf_counter(), time.process_time()
        summary = await engine.run()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        await store.close()
    snap = summary.snapshot
    return {"seconds": seconds, "run_cpu_seconds": cpu, "requests": snap.requests, "pages": snap.pages,
            "rate_limited_seen": snap.rate_limited, "retries": snap.retries, "errors": snap.errors,
            "failed": {**summary.failed_tenants, **summary.failed_connections, "fatal": summary.fatal}
            if not summary.ok else {}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    spec = json.loads(Path(parser.parse_args().spec).read_text())
    Path(spec["workdir"]).mkdir(parents=True, exist_ok=True)
    _Meter.wrap(Scheduler, "push")
    for name in ("acquire", "release", "observe"):
        _Meter.wrap(TenantBudget, name)
    result = asyncio.run(_run(spec))
    replica = Path(spec["workdir"]) / "replica.sqlite"
    with sqlite3.connect(replica) as db:
        result["records"] = db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
    result["store_bytes"] = sum(p.stat().st_size for p in replica.parent.glob("replica.sqlite*"))
    result["scheduler_seconds"] = _Meter.seconds
    result["scheduler_calls"] = _Meter.calls
    print(json.dumps(result))
    sys.exit(0 if not result["failed"] else 1)


if __name__ == "__main__":
    main()
