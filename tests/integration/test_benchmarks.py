"""The benchmark harness keeps working: its smallest case, end to end.

CI does not run the benchmarks (their numbers need a quiet machine and
minutes); this runs ``python -m benchmarks.run --smoke``, which starts the
benchmark server in its own process, runs every scenario's clients against it
at a tiny size and writes the results JSON and table.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_the_smoke_benchmark_runs_every_scenario(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", "--out", str(tmp_path / "results"),
         "--workdir", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = (tmp_path / "results").glob("smoke-*.json")
    results = json.loads(path.read_text())
    scenarios = results["scenarios"]
    assert set(scenarios) == {"throughput", "fleet", "scale"}

    (case,) = scenarios["throughput"]["cases"]
    for name in ("engine", "raw_fetch", "raw_sqlite"):
        client = case["clients"][name]
        assert client["records"] == 4 * 300, (name, client)
        assert client["records_per_s"] > 0 and client["peak_rss_mb"] > 0 and client["cpu_seconds"] > 0

    fleet = scenarios["fleet"]
    # Every division was reached and kept within its windows (the server counts).
    assert fleet["allowed"] > 0 and fleet["used"] > 0 and fleet["over_limit"] == 0, fleet
    assert fleet["engine"]["requests"] > 0

    assert all(run["complete"] for run in scenarios["scale"]["runs"])
    assert "| target | measured | met |" in done.stdout
