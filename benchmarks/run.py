"""One command for every benchmark scenario: ``python -m benchmarks.run``.

    python -m benchmarks.run                 # the quick version (under 5 minutes)
    python -m benchmarks.run --full          # the full version (about 15 minutes)
    python -m benchmarks.run --smoke         # the smallest case, for CI (seconds)
    python -m benchmarks.run --only fleet    # one scenario: throughput, fleet, scale

Results land in ``benchmarks/results/<preset>-<time>.json`` and, for the quick
and full versions, as the Markdown table of ``benchmarks/RESULTS.md``
(``--no-publish`` leaves it alone). See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import fleet, report, scale, throughput
from benchmarks.measure import ROOT, machine

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "smoke": {
        "throughput": {"divisions": 4, "records": 300, "cases": [[60, 0]], "raw_all": True, "timeout": 120},
        "fleet": {"tenants": 40, "minutely": 1, "daily": 2, "factor": 20, "windows": 2, "page": 4,
                  "lead_minutes": 1.5, "grant_size": 20},
        "scale": {"divisions": 2, "records": 100, "timeout": 120},
    },
    "quick": {
        "throughput": {"divisions": 100, "records": 1000,
                       "cases": [[1000, 0], [1000, 20], [60, 0], [60, 20]],
                       "peer_cases": [[1000, 0]], "peers": ["naive", "dlt_sqlite", "dlt_duckdb"]},
        "fleet": {"tenants": 2000, "minutely": 1, "daily": 2, "factor": 6, "windows": 5, "page": 4},
        "scale": {"divisions": 10, "records": 4000},
    },
    "full": {
        "throughput": {"divisions": 250, "records": 2000,
                       "cases": [[1000, 0], [1000, 20], [60, 0], [60, 20]],
                       "peer_cases": [[1000, 0], [1000, 20]], "peers": ["naive", "dlt_sqlite", "dlt_duckdb"],
                       "repeats": 3, "raw_all": True},
        "fleet": {"tenants": 10_000, "minutely": 1, "daily": 2, "factor": 1.5, "windows": 6, "page": 4},
        "scale": {"divisions": 20, "records": 5000},
    },
}
SCENARIOS = {"throughput": throughput.run, "fleet": fleet.run, "scale": scale.run}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--full", action="store_const", const="full", dest="preset")
    group.add_argument("--smoke", action="store_const", const="smoke", dest="preset")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), help="run only these scenarios")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results", help="folder for the JSON")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/replicator-bench"),
                        help="scratch folder for the stores")
    parser.add_argument("--no-publish", action="store_true", help="do not rewrite benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    preset = args.preset or "quick"
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    results: dict[str, Any] = {
        "preset": preset, "when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
        "params": PRESETS[preset], "scenarios": {},
    }
    for name in args.only or list(SCENARIOS):
        log(f"scenario {name}")
        results["scenarios"][name] = SCENARIOS[name](PRESETS[preset][name], args.workdir, log)
    results["seconds"] = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{preset}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=1, default=str))
    table = report.markdown(results)
    print(table)
    if preset != "smoke" and not args.no_publish and not args.only:
        report.publish(results, table, ROOT / "benchmarks/RESULTS.md", path)
    log(f"done: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
