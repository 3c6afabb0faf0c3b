"""Peer "dlt": the same mirror written with dlt's declarative ``rest_api`` source.

    <peers-venv>/bin/python benchmarks/peers/dlt_client.py --spec SPEC.json --destination sqlite|duckdb

Configured the way dlt's documentation shows it, with no tuning beyond it:

* ``client``: the API root, bearer auth, the three headers, and a ``json_link``
  paginator on ``d.__next`` (Exact's next link already carries ``$select``,
  ``$filter`` and ``$skiptoken``; dlt follows it verbatim and drops its own params).
* one resource per division, all writing to one table ``transaction_lines``,
  extracted with ``parallelized=True``: the docs' way of fetching several
  independent endpoints at once (see ``_config`` for why not a ``resolve`` parent).
* ``data_selector: d.results``; ``write_disposition: merge`` on ``ID`` (dlt's
  default ``delete-insert`` strategy, which both destinations support);
  ``__metadata`` is left to dlt's default, which flattens it into two columns.
* destination ``sqlalchemy`` with a ``sqlite:///`` URL (its default typed-jsonl
  load files), or ``duckdb`` with parquet load files, as dlt's DuckDB page
  recommends for speed; dlt's defaults for buffers and workers.

Prints ``{"records", "seconds", "store_bytes"}`` as its last stdout line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

# Before dlt is imported: dlt's anonymous telemetry would otherwise post to the Internet
# from a thread of ours; the benchmark keeps all traffic on 127.0.0.1.
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"

import dlt
from dlt.common.destination import TLoaderFileFormat
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt.sources.rest_api import rest_api_source
from dlt.sources.rest_api.typing import RESTAPIConfig

TABLE = "transaction_lines"
DATASET = "exact"
# None: the destination's preferred format (typed-jsonl for sqlalchemy). DuckDB's preferred
# insert_values is one huge INSERT ... VALUES statement, which DuckDB parses at about 1-2k rows/s;
# dlt's DuckDB page says "if you are okay with installing pyarrow, we suggest switching to
# parquet ... Loading is faster", so that is what a user after speed does.
FILE_FORMATS: dict[str, TLoaderFileFormat | None] = {"sqlite": None, "duckdb": "parquet"}


def _config(spec: dict[str, Any]) -> RESTAPIConfig:
    """The rest_api configuration.

    One resource per division rather than one ``resolve``-d child of a division list:
    the division codes are known up front (no parent endpoint to call), and dlt runs a
    parallelized *dependent* resource by collecting each parent's pages into one list
    before yielding, i.e. a whole division in memory; independent resources stream
    page by page and are what ``parallelized`` in the docs is for.
    """
    return {
        "client": {
            "base_url": f"{spec['base_url']}/api/v1/",
            "auth": {"type": "bearer", "token": spec["access_token"]},
            "headers": {"Accept": "application/json", "Accept-Encoding": "gzip"},
            "paginator": {"type": "json_link", "next_url_path": "d.__next"},
        },
        "resource_defaults": {
            "table_name": TABLE,
            "primary_key": "ID",
            "write_disposition": "merge",
            "endpoint": {
                "data_selector": "d.results",
                "params": {"$select": spec["select"], "$filter": "Timestamp gt 1L"},
            },
        },
        "resources": [
            {"name": f"{TABLE}_{division}", "endpoint": {"path": f"{division}/{spec['path']}"}}
            for division in spec["divisions"]
        ],
    }


def _destination(kind: str, store: Path) -> Any:
    if kind == "sqlite":
        # dlt keeps each dataset of a SQLite destination in a file of its own next to this
        # one (``peer__exact.db``, plus ``peer__exact_staging.db`` for merges).
        return dlt.destinations.sqlalchemy(f"sqlite:///{store / 'peer.db'}")
    return dlt.destinations.duckdb(str(store / "peer.duckdb"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--destination", choices=("sqlite", "duckdb"), default="sqlite")
    parser.add_argument("--loader-file-format", choices=("typed-jsonl", "insert_values", "parquet"),
                        help="override FILE_FORMATS (to compare)")
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    workdir = Path(spec["workdir"])
    # A fresh store and fresh pipeline state each run: the measure is a full first sync.
    # The pipeline's working files live in the workdir too, not in ~/.dlt.
    store, pipelines = workdir / f"dlt-{args.destination}", workdir / f"dlt-{args.destination}-pipelines"
    for path in (store, pipelines):
        shutil.rmtree(path, ignore_errors=True)
    store.mkdir(parents=True)

    source = rest_api_source(_config(spec), name="exact_online", parallelized=True)
    pipeline = dlt.pipeline(pipeline_name=f"peer_{args.destination}", pipelines_dir=str(pipelines),
                            destination=_destination(args.destination, store), dataset_name=DATASET)
    started = time.perf_counter()
    try:
        file_format: TLoaderFileFormat | None = args.loader_file_format or FILE_FORMATS[args.destination]
        # None is run()'s own default (the destination's preferred format); its annotation omits it.
        info = pipeline.run(source, loader_file_format=file_format)  # type: ignore[arg-type]
    except PipelineStepFailed as exc:
        # An HTTP error surfaces here, wrapped in the step that failed (extract); its cause says what.
        print(f"dlt_client: {exc.step} failed: {exc.__cause__ or exc}", file=sys.stderr)
        sys.exit(1)
    seconds = time.perf_counter() - started
    info.raise_on_failed_jobs()
    print(info, file=sys.stderr)

    with pipeline.sql_client() as client:
        rows = client.execute_sql(f"SELECT count(*) FROM {client.make_qualified_table_name(TABLE)}")
    records = rows[0][0] if rows else 0
    store_bytes = sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
    print(json.dumps({"records": records, "seconds": seconds, "store_bytes": store_bytes}))


if __name__ == "__main__":
    main()
