"""Peer "naive": the sequential integration most people would write by hand.

    <peers-venv>/bin/python benchmarks/peers/naive_client.py --spec SPEC.json

``requests`` (one ``Session``, gzip), ``response.json()``, stdlib ``sqlite3`` with
its defaults; one division after another, one page after another following
``d.__next``; the table is created from the first page's keys; every page is one
``executemany`` of ``INSERT OR REPLACE`` and one commit. Deliberately no
concurrency, no batching across pages, no pragmas: it is the baseline, not a
contender. Prints ``{"records", "seconds", "store_bytes"}`` as its last stdout line.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import requests

TABLE = "transaction_lines"
DB_NAME = "naive.sqlite"
TIMEOUT = 60.0  # seconds per request: a hung server must fail the run, not stall it


def _fail(message: str) -> None:
    print(f"naive_client: {message}", file=sys.stderr)
    sys.exit(1)


def _create_table(db: sqlite3.Connection, columns: list[str]) -> None:
    # Untyped columns (SQLite's affinity takes what comes), ID as the primary key so that
    # INSERT OR REPLACE is an upsert: what a hand-written mirror does.
    definitions = ", ".join(f'"{c}" TEXT PRIMARY KEY' if c == "ID" else f'"{c}"' for c in columns)
    db.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({definitions})")


def mirror(spec: dict[str, Any], db: sqlite3.Connection) -> None:
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {spec['access_token']}", "Accept": "application/json",
                            "Accept-Encoding": "gzip"})
    columns: list[str] | None = None
    insert = ""
    for division in spec["divisions"]:
        url: str | None = f"{spec['base_url']}/api/v1/{division}/{spec['path']}"
        params: dict[str, str] | None = {"$select": spec["select"], "$filter": "Timestamp gt 1L"}
        while url:
            response = session.get(url, params=params, timeout=TIMEOUT)
            if not response.ok:
                _fail(f"HTTP {response.status_code} from {response.url}: {response.text[:300]}")
            page = response.json()["d"]
            rows = page["results"]
            if rows and columns is None:
                columns = [key for key in rows[0] if key != "__metadata"]
                _create_table(db, columns)
                quoted = ", ".join(f'"{c}"' for c in columns)
                insert = f"INSERT OR REPLACE INTO {TABLE} ({quoted}) VALUES ({', '.join('?' * len(columns))})"
            if rows:
                assert columns is not None
                db.executemany(insert, [tuple(row.get(c) for c in columns) for row in rows])
                db.commit()
            # __next already carries $select, $filter and $skiptoken: follow it as it is.
            url, params = page.get("__next"), None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, required=True)
    # Accepted so that every peer takes the same command line; this one only writes SQLite.
    parser.add_argument("--destination", choices=("sqlite",), default="sqlite")
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    workdir = Path(spec["workdir"])
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / DB_NAME
    path.unlink(missing_ok=True)  # a fresh store each run: the measure is a full first sync
    db = sqlite3.connect(path)
    started = time.perf_counter()
    try:
        mirror(spec, db)
    except requests.RequestException as exc:
        _fail(f"request failed: {exc}")
    seconds = time.perf_counter() - started
    try:
        records = db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
    except sqlite3.OperationalError:  # no page had a row: no table was created
        records = 0
    db.close()
    store_bytes = sum(p.stat().st_size for p in workdir.glob(DB_NAME + "*"))
    print(json.dumps({"records": records, "seconds": seconds, "store_bytes": store_bytes}))


if __name__ == "__main__":
    main()
