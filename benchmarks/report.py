"""Turn a results JSON into the Markdown table of ``RESULTS.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
CLIENTS = {
    "engine": "replicator (engine, SQLite)",
    "raw_fetch": "raw limit: fetch + gunzip + decode",
    "raw_sqlite": "raw limit: batched SQLite upserts",
    "naive": "naive requests + json + sqlite3",
    "dlt_sqlite": "dlt rest_api → SQLite",
    "dlt_duckdb": "dlt rest_api → DuckDB",
}


def _n(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _throughput(result: dict[str, Any]) -> list[str]:
    server = result["server"]
    lines = [f"### Throughput, peers and raw limits ({server['divisions']} divisions x "
             f"{server['records']:,} records, no rate limits)", "",
             "| pages | latency | client | records | records/s | x engine | CPU s / M records | peak RSS MB |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for case in result["cases"]:
        engine = case["clients"].get("engine", {}).get("records_per_s")
        for name, client in case["clients"].items():
            if "error" in client:
                lines.append(f"| {case['page_records']} | {case['latency_ms']} ms | {CLIENTS.get(name, name)} "
                             f"| failed: {client['error'][:80]} | | | | |")
                continue
            rate = client["records_per_s"]
            spread = f" (±{client['spread'] / 2:.0%})" if client.get("spread") else ""
            mark = "" if client.get("complete", True) else " (incomplete!)"
            lines.append(
                f"| {case['page_records']} | {case['latency_ms']} ms | {CLIENTS.get(name, name)} | "
                f"{client['records']:,}{mark} | {_n(rate)}{spread} | "
                f"{_n(engine / rate if engine and rate else None, 2)} | "
                f"{_n(client['cpu_s_per_m_records'], 1)} | {_n(client['peak_rss_mb'])} |")
    return lines


def _fleet(r: dict[str, Any]) -> list[str]:
    server = r["server"]
    return [
        f"### Rate-limited fleet ({r['tenants']:,} divisions, {server['minutely_limit']}/minute and "
        f"{server['daily_limit']}/day each, clock x{r['factor']:g}, {r['measured_from'][11:16]}-"
        f"{r['measured_to'][11:16]} Amsterdam, across midnight)", "",
        "| windows | calls allowed | calls used | budget used | 429s from the server | Jain's index "
        "| scheduler µs / request | client CPU µs / request | peak RSS KB / tenant |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {r['windows']} | {r['allowed']:,} | {r['used']:,} | {r['share']:.2%} | {r['server_429']} | "
        f"{r['jain']:.4f} | {r['scheduler_us_per_request']:.1f} | {r['client_cpu_us_per_request']:.0f} | "
        f"{r['rss_kb_per_tenant']:.1f} |",
    ]


def _scale(r: dict[str, Any]) -> list[str]:
    lines = [f"### Scale with data ({r['divisions']} divisions)", "",
             "| records / division | records | records/s | peak RSS MB |", "|---:|---:|---:|---:|"]
    for run in r["runs"]:
        lines.append(f"| {run['records_per_tenant']:,} | {run['records']:,} | {_n(run['records_per_s'])} | "
                     f"{_n(run['peak_rss_mb'], 1)} |")
    lines.append(f"\nPeak RSS grew {r['rss_growth']:+.1%} for ten times the records.")
    return lines


def targets(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for every target the run measured."""
    out: list[tuple[str, str, bool | None]] = []
    scenarios = results["scenarios"]
    tp = scenarios.get("throughput")
    if tp:
        first = next((c for c in tp["cases"] if c["page_records"] == 1000 and c["latency_ms"] == 0), None)
        ratios = first["ratios"] if first else {}
        if "engine_vs_slower_raw_limit" in ratios:
            value = ratios["engine_vs_slower_raw_limit"]
            out.append(("end to end ≥ 80% of the slower raw limit", f"{value:.0%} "
                        f"({ratios['engine_vs_one_core_pipeline_bound']:.0%} of both limits paid on one core)",
                        value >= 0.8))
        for peer, goal in (("dlt_sqlite", 6.0), ("dlt_duckdb", 4.0)):
            if f"engine_vs_{peer}" in ratios:
                value = ratios[f"engine_vs_{peer}"]
                out.append((f"≥ {goal:g}x {CLIENTS[peer]}", f"{value:.2f}x", value >= goal))
                rss = ratios[f"engine_rss_vs_{peer}"]
                out.append((f"peak RSS ≤ ½ of {CLIENTS[peer]}", f"{rss:.2f}x", rss <= 0.5))
    fl = scenarios.get("fleet")
    if fl:
        out.append(("fleet: ≥ 97% of the allowed budget used", f"{fl['share']:.2%}", fl["share"] >= 0.97))
        out.append(("fleet: 0 429s caused by the engine", str(fl["server_429"]), fl["server_429"] == 0))
        out.append(("fleet: Jain's fairness index ≥ 0.99", f"{fl['jain']:.4f}", fl["jain"] >= 0.99))
    sc = scenarios.get("scale")
    if sc:
        out.append(("memory flat (within 10%) at 10x the records", f"{sc['rss_growth']:+.1%}",
                    abs(sc["rss_growth"]) <= 0.10))
    return out


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [f"Run `{results['preset']}` on {results['when']}, {results['seconds'] / 60:.1f} minutes: "
             f"{m.get('processor')}, {m.get('cpus')} CPUs, {m.get('memory_gib', '?')} GiB, Python {m['python']}, "
             + ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items()) + ".", "",
             "| target | measured | met |", "|---|---|---|"]
    for name, measured, met in targets(results):
        lines.append(f"| {name} | {measured} | {'yes' if met else '**no**'} |")
    scenarios = results["scenarios"]
    for name, render in (("throughput", _throughput), ("fleet", _fleet), ("scale", _scale)):
        if name in scenarios:
            lines += ["", *render(scenarios[name])]
    return "\n".join(lines) + "\n"


def publish(results: dict[str, Any], table: str, path: Path, source: Path) -> None:
    """Replace the generated part of ``RESULTS.md``; the hand-written analysis around it stays."""
    block = f"{BEGIN}\n<!-- generated by `python -m benchmarks.run` from {source.name} -->\n\n{table}\n{END}"
    text = path.read_text() if path.exists() else f"# Benchmark results\n\n{BEGIN}\n{END}\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text += "\n" + block + "\n"
    path.write_text(text)
