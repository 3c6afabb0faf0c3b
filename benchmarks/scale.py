"""Scenario 3: memory stays flat as the records per tenant grow tenfold.

The same divisions are mirrored twice, each time by a fresh engine into a fresh
store: once with ``records`` transaction lines per division, once with ten
times as many. Pages stream through (fetch, decode, write, forget), so peak
RSS should not follow the data; the ratio of the two peaks is the result.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from benchmarks.measure import engine_argv, run_client
from benchmarks.server import ServerHandle, ServerSpec


def run(params: dict[str, Any], workdir: Path, log: Any) -> dict[str, Any]:
    runs = []
    for records in (params["records"], params["records"] * 10):
        spec = ServerSpec(divisions=params["divisions"], records=records)
        log(f"scale: {spec.divisions} divisions x {records:,} records")
        with ServerHandle(spec) as server:
            info = server.info
            engine_spec = {k: info[k] for k in ("base_url", "client_id", "client_secret", "refresh_tokens")}
            where = workdir / f"scale-{records}"
            shutil.rmtree(where, ignore_errors=True)
            result = run_client(engine_argv(), engine_spec, where, timeout=params.get("timeout", 900),
                                label=f"scale {records}")
        result["records_per_tenant"] = records
        result["records_per_s"] = result["records"] / result["seconds"]
        result["complete"] = result["records"] == spec.divisions * records
        runs.append(result)
    small, large = runs
    return {"divisions": params["divisions"], "runs": runs,
            "rss_growth": large["peak_rss_mb"] / small["peak_rss_mb"] - 1.0}
