"""Scenarios 1, 4 and 5: throughput, the peers, and the machine's raw limits.

One server process serves every case; between cases it is told the page size
and latency. In each case the engine mirrors every division's transaction lines
into a fresh SQLite file; in the cases named by ``peer_cases`` the peers and
the raw limits run against the same server in the same run, one after another
(never at the same time: each has the client core to itself).
"""

from __future__ import annotations

import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks.measure import ROOT, ClientFailed, engine_argv, run_client
from benchmarks.server import PATH, SELECT, ServerHandle, ServerSpec, spec_dict

TABLE = "exact_online__transaction_lines"


def _rates(result: dict[str, Any]) -> dict[str, Any]:
    records = max(1, int(result["records"]))
    result["records_per_s"] = result["records"] / result["seconds"] if result["seconds"] else 0.0
    result["cpu_s_per_m_records"] = result["cpu_seconds"] / records * 1e6
    return result


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run by records/s, with the spread of all runs."""
    ordered = sorted(runs, key=lambda r: r["records_per_s"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["runs"] = len(runs)
    if len(runs) > 1:
        chosen["records_per_s_all"] = [round(r["records_per_s"]) for r in runs]
        chosen["spread"] = (ordered[-1]["records_per_s"] - ordered[0]["records_per_s"]) / statistics.median(
            r["records_per_s"] for r in runs)
    return chosen


def _peer_argv(python: Path, name: str) -> list[str]:
    if name == "naive":
        return [str(python), str(ROOT / "benchmarks/peers/naive_client.py")]
    destination = name.removeprefix("dlt_")
    return [str(python), str(ROOT / "benchmarks/peers/dlt_client.py"), "--destination", destination]


def run(params: dict[str, Any], workdir: Path, log: Any) -> dict[str, Any]:
    spec = ServerSpec(divisions=params["divisions"], records=params["records"])
    peers_python: Path | None = None
    if params.get("peers"):
        from benchmarks.peers.environment import ensure_peers_env

        log(f"peers: preparing their own environment under {ROOT / 'benchmarks/.peers-venv'}")
        peers_python = ensure_peers_env(ROOT)
    cases: list[dict[str, Any]] = []
    log(f"throughput: starting the server ({spec.divisions} divisions x {spec.records} records)")
    with ServerHandle(spec) as server:
        info = server.info
        engine_spec = {k: info[k] for k in ("base_url", "client_id", "client_secret", "refresh_tokens")}
        peer_spec = {"base_url": info["base_url"], "access_token": info["access_token"],
                     "divisions": info["divisions"], "path": PATH, "select": SELECT}
        for page, latency_ms in params["cases"]:
            server.configure(sync_page_size=page, latency=latency_ms / 1000)
            name = f"{page}-record pages, {latency_ms} ms"
            case: dict[str, Any] = {"page_records": page, "latency_ms": latency_ms, "clients": {}}
            with_peers = [page, latency_ms] in params.get("peer_cases", [])
            timeout = params.get("timeout", 600)
            runs: dict[str, list[dict[str, Any]]] = {}
            # One untimed pass first: the server compresses each page once, and
            # no client should pay for being first.
            run_client([sys.executable, "-m", "benchmarks.clients.raw_fetch"], peer_spec,
                       workdir / f"p{page}-l{latency_ms}" / "warm-up", timeout=timeout, label="warm-up")
            for repeat in range(params.get("repeats", 1)):
                # Interleaved, so that drift on a shared machine hits every client alike.
                order = ["engine"] + (["raw_fetch", "raw_sqlite"] if with_peers or params.get("raw_all") else [])
                for client in order:
                    where = workdir / f"p{page}-l{latency_ms}" / f"{client}-{repeat}"
                    shutil.rmtree(where, ignore_errors=True)
                    if client == "engine":
                        # Exact's refresh tokens are single-use: every run is a new authorisation.
                        argv, spec_ = engine_argv(), {**engine_spec, "refresh_tokens": [server.grant("engine")],
                                                      "max_in_flight": params.get("in_flight", 64)}
                    elif client == "raw_fetch":
                        argv, spec_ = [sys.executable, "-m", "benchmarks.clients.raw_fetch"], peer_spec
                    else:
                        source = workdir / f"p{page}-l{latency_ms}" / f"engine-{repeat}" / "replica.sqlite"
                        argv = [sys.executable, "-m", "benchmarks.clients.raw_sqlite"]
                        spec_ = {"source": str(source), "table": TABLE, "page_rows": page}
                    log(f"  {name}: {client} (run {repeat + 1})")
                    result = _rates(run_client(argv, spec_, where, timeout=timeout, label=client))
                    runs.setdefault(client, []).append(result)
            if with_peers and peers_python is not None:
                for peer in params["peers"]:
                    log(f"  {name}: {peer}")
                    where = workdir / f"p{page}-l{latency_ms}" / peer
                    shutil.rmtree(where, ignore_errors=True)
                    try:
                        result = _rates(run_client(_peer_argv(peers_python, peer), peer_spec, where,
                                                   timeout=timeout, label=peer))
                    except ClientFailed as exc:
                        result = {"error": str(exc)}
                    runs[peer] = [result]
            for client, results in runs.items():
                case["clients"][client] = results[0] if "error" in results[0] else _best(results)
                if "records" in case["clients"][client] and "error" not in results[0]:
                    expected = spec.divisions * spec.records
                    case["clients"][client]["complete"] = case["clients"][client]["records"] == expected
            case["ratios"] = ratios(case["clients"])
            cases.append(case)
            log(f"  {name}: " + ", ".join(f"{k} {v.get('records_per_s', 0):,.0f} rec/s"
                                         for k, v in case["clients"].items()))
        served = server.stats()
    return {"server": spec_dict(spec), "warm_seconds": info["warm_seconds"], "pinned": info["pinned"],
            "cases": cases, "server_429": served["rate_limited"]}


def ratios(clients: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The ratios the targets are stated in (only those whose inputs were measured)."""
    def rate(name: str) -> float | None:
        found = clients.get(name)
        return found.get("records_per_s") if found and "error" not in found else None

    out: dict[str, float] = {}
    engine = rate("engine")
    if engine is None:
        return out
    raws = [r for r in (rate("raw_fetch"), rate("raw_sqlite")) if r]
    if len(raws) == 2:
        out["engine_vs_slower_raw_limit"] = engine / min(raws)
        # Both costs are paid on the client's one core: 1 / (1/a + 1/b) is what a
        # perfect pipeline of the two could reach there.
        out["engine_vs_one_core_pipeline_bound"] = engine * (1 / raws[0] + 1 / raws[1])
    for peer in ("naive", "dlt_sqlite", "dlt_duckdb"):
        other = rate(peer)
        if other:
            out[f"engine_vs_{peer}"] = engine / other
            out[f"engine_rss_vs_{peer}"] = clients["engine"]["peak_rss_mb"] / clients[peer]["peak_rss_mb"]
    return out
