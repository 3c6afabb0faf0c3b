"""The machine's limit for batched SQLite upserts of the engine's own rows.

    python -m benchmarks.clients.raw_sqlite --spec SPEC.json

SPEC: ``source`` (a replica the engine wrote), ``table``, ``workdir``, and
optionally ``page_rows`` (default 1000) and ``pages_per_transaction`` (default
20, the engine's ``batch_pages``; at most the writer's ``MAX_ROWS`` rows). The
rows are read into memory first (not
timed); then the same table (same DDL, same primary key) is created in a fresh
file with the engine's pragmas, and the rows are upserted with plain
``sqlite3``: one ``executemany`` and one commit per transaction, no thread hop,
no cursor bookkeeping. What the engine's store adds on top of this is its cost.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from replicator.engine.writer import MAX_ROWS


def run(spec: dict[str, Any]) -> dict[str, Any]:
    table = spec["table"]
    with sqlite3.connect(spec["source"]) as source:
        ddl = source.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                             (table,)).fetchone()[0]
        columns = [row[1] for row in source.execute(f'PRAGMA table_info("{table}")')]
        key = [row[1] for row in sorted(source.execute(f'PRAGMA table_info("{table}")'), key=lambda r: r[5])
               if row[5]]
        rows = source.execute(f'SELECT * FROM "{table}"').fetchall()
    target_path = Path(spec["workdir"]) / "raw.sqlite"
    for leftover in target_path.parent.glob("raw.sqlite*"):
        leftover.unlink()
    names = ", ".join(f'"{c}"' for c in columns)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in key)
    upsert = (f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))}) '
              f'ON CONFLICT ({", ".join(chr(34) + k + chr(34) for k in key)}) DO UPDATE SET {updates}')
    # The engine's writer's batches: ``batch_pages`` pages, at most MAX_ROWS rows.
    per_transaction = min(int(spec.get("page_rows", 1000)) * int(spec.get("pages_per_transaction", 20)),
                          MAX_ROWS)
    db = sqlite3.connect(target_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA cache_size=-16384")  # the engine's own
    db.execute(ddl)
    started = time.perf_counter()
    for start in range(0, len(rows), per_transaction):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(upsert, rows[start:start + per_transaction])
        db.execute("COMMIT")
    seconds = time.perf_counter() - started
    count = db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    db.close()
    return {"records": count, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    spec = json.loads(Path(parser.parse_args().spec).read_text())
    print(json.dumps(run(spec)))


if __name__ == "__main__":
    main()
