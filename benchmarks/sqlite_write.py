"""Measure SQLiteStore.write throughput (a measurement script, not a test).

Writes 200k rows of 15 columns with a random text GUID key, in 1000-row pages
grouped 20 pages per ``write()`` (one transaction each), into a fresh file; then
writes the same keys again (every row an overwrite). Prints rows/s for both.

    PYTHONPATH=. python benchmarks/sqlite_write.py [--without-rowid] [--rows N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from pathlib import Path

from replicator.stores import sqlite as sqlite_module
from replicator.stores.base import Column, PageWrite, StreamKey, StreamState, TableSpec
from replicator.stores.sqlite import SQLiteStore

PAGE = 1000
PAGES_PER_WRITE = 20

TABLE = TableSpec(
    name="transaction_lines",
    key="ID",
    columns=(
        Column("ID", "text"),
        Column("Division", "integer"),
        Column("AccountCode", "text"),
        Column("AccountName", "text"),
        Column("AmountDC", "real"),
        Column("AmountFC", "real"),
        Column("Currency", "text"),
        Column("Date", "timestamp"),
        Column("Description", "text"),
        Column("EntryNumber", "integer"),
        Column("FinancialYear", "integer"),
        Column("FinancialPeriod", "integer"),
        Column("GLAccount", "text"),
        Column("Modified", "timestamp"),
        Column("Reversed", "boolean"),
    ),
)


def make_rows(n: int, rng: random.Random) -> list[tuple[object, ...]]:
    """Rows shaped like Exact Online transaction lines (GUID keys, ISO timestamps)."""
    return [
        (
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            rng.randrange(100_000, 999_999),
            f"{rng.randrange(1000, 9999)}",
            f"Account {rng.randrange(10_000)} B.V.",
            round(rng.uniform(-1e5, 1e5), 2),
            round(rng.uniform(-1e5, 1e5), 2),
            "EUR",
            f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T00:00:00Z",
            f"Invoice {rng.randrange(10**6)} for services rendered",
            rng.randrange(10**8),
            2026,
            rng.randrange(1, 13),
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            f"2026-11-{rng.randrange(1, 29):02d}T12:{rng.randrange(60):02d}:00Z",
            rng.randrange(2),
        )
        for _ in range(n)
    ]


def batches(rows: list[tuple[object, ...]]) -> list[list[PageWrite]]:
    pages = [
        PageWrite(
            stream=StreamKey("bench", f"{i % 10}", "transaction_lines"),
            table=TABLE,
            rows=rows[i : i + PAGE],
            state=StreamState(cursor=f'"{i}"', records=i + PAGE),
        )
        for i in range(0, len(rows), PAGE)
    ]
    return [pages[i : i + PAGES_PER_WRITE] for i in range(0, len(pages), PAGES_PER_WRITE)]


async def timed_pass(store: SQLiteStore, work: list[list[PageWrite]]) -> float:
    start = time.perf_counter()
    for batch in work:
        await store.write(batch)
    return time.perf_counter() - start


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--without-rowid", action="store_true")
    args = parser.parse_args()
    if args.without_rowid:
        sqlite_module._TABLE_OPTIONS = " WITHOUT ROWID"

    rows = make_rows(args.rows, random.Random(42))
    work = batches(rows)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db")
        await store.open()
        await store.prepare([TABLE])
        inserted = await timed_pass(store, work)
        overwritten = await timed_pass(store, work)
        assert await store.count(TABLE.name) == args.rows
        await store.close()
    kind = "WITHOUT ROWID" if args.without_rowid else "rowid"
    print(f"{kind}: {args.rows} rows, {PAGE}-row pages, {PAGES_PER_WRITE} pages per write")
    print(f"  insert    {args.rows / inserted:10,.0f} rows/s  ({inserted:.2f} s)")
    print(f"  overwrite {args.rows / overwritten:10,.0f} rows/s  ({overwritten:.2f} s)")


if __name__ == "__main__":
    asyncio.run(main())
