"""Scenario 2: a rate-limited fleet of thousands of Exact divisions.

Exact allows 60 calls per clock-aligned minute and 5,000 per Amsterdam day per
division; 10,000 divisions at that rate would be 10,000 requests a second, which
no single client core (nor the one server core) can serve. The fleet keeps
Exact's window *shapes* (a clock-aligned minute and an Amsterdam day, the six
``X-RateLimit-*`` headers, 429s past either) and scales the limits down so that
the allowed rate fits the machine: ``minutely`` calls a minute and ``daily`` a
day per division, with the clock running ``factor`` times faster than real
time. The run starts a few (virtual) minutes before Amsterdam midnight, so that
the daily limit binds before midnight and frees again after it: both windows
are exercised.

Every division has more pages than the run can fetch, so every window of every
division could be used in full. Measured over the whole minute windows between
the first one after discovery and the last one before the stop:

* **budget used**: calls the server accepted / calls the windows allowed, where
  a window allows ``min(minutely, daily - calls accepted earlier that day)``;
* **429s** the server gave (nobody else spends these divisions' budget, so each
  one is the engine's);
* **Jain's fairness index** of the calls accepted per division;
* **scheduler CPU per request**: time inside the scheduler's heap and the
  tenant budgets, per request sent;
* **memory per tenant**: the client's peak RSS over the number of divisions.
"""

from __future__ import annotations

import math
import shutil
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.measure import engine_argv, run_client
from benchmarks.server import ServerHandle, ServerSpec, spec_dict

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _before_midnight(minutes: float) -> float:
    """An epoch second ``minutes`` before an Amsterdam midnight (a fixed, ordinary day)."""
    midnight = datetime(2026, 11, 24, tzinfo=AMSTERDAM)
    return (midnight - timedelta(minutes=minutes)).timestamp()


def _day_of(t: float) -> str:
    return datetime.fromtimestamp(t, AMSTERDAM).date().isoformat()


def jain(values: list[int]) -> float:
    """Jain's fairness index: 1.0 when all are equal, 1/n when one gets everything."""
    total = sum(values)
    squares = sum(v * v for v in values)
    return total * total / (len(values) * squares) if squares else 1.0


def budget_use(accepted: dict[str, list[float]], tenants: list[str], first: float, last: float,
               minutely: int, daily: int) -> dict[str, Any]:
    """Used and allowed calls in the minute windows ``[first, last)`` (both on minute edges)."""
    windows = round((last - first) / 60)
    used_total = allowed_total = 0
    per_tenant: list[int] = []
    over = 0
    for tenant in tenants:
        times = sorted(accepted.get(tenant, []))
        per_minute = Counter(math.floor(t / 60) for t in times)
        per_day = Counter(_day_of(t) for t in times if t < first)
        used_here = 0
        for w in range(windows):
            start = first + 60 * w
            minute = math.floor(start / 60)
            day = _day_of(start)
            allowed = max(0, min(minutely, daily - per_day[day]))
            used = per_minute.get(minute, 0)
            over += max(0, used - allowed)
            allowed_total += allowed
            used_total += min(used, allowed)
            used_here += used
            per_day[day] += used
        per_tenant.append(used_here)
    return {"windows": windows, "allowed": allowed_total, "used": used_total,
            "share": used_total / allowed_total if allowed_total else 0.0,
            "over_limit": over, "jain": jain(per_tenant),
            "per_tenant_min": min(per_tenant, default=0), "per_tenant_max": max(per_tenant, default=0)}


def run(params: dict[str, Any], workdir: Path, log: Any) -> dict[str, Any]:
    tenants, minutely, daily = params["tenants"], params["minutely"], params["daily"]
    factor, windows = params["factor"], params["windows"]
    lead = params.get("lead_minutes", 3.5)
    # Each division needs more pages than the run can take: one a window, plus room.
    pages = windows + 4
    spec = ServerSpec(divisions=tenants, records=pages * params["page"], sync_page_size=params["page"],
                      minutely_limit=minutely, daily_limit=daily, grant_size=params.get("grant_size", 1000),
                      clock=(_before_midnight(lead), factor, 0.0))
    log(f"fleet: {tenants:,} divisions, {minutely}/minute and {daily}/day each, clock x{factor}, "
        f"{windows} minute windows")
    where = workdir / "fleet"
    shutil.rmtree(where, ignore_errors=True)
    with ServerHandle(spec) as server:
        info = server.info
        engine_spec = {k: info[k] for k in ("base_url", "client_id", "client_secret", "refresh_tokens")}
        engine_spec.update(clock=info["clock"], max_in_flight=params.get("in_flight", 64),
                           duration=(windows + 1.5) * 60 / factor)
        result = run_client(engine_argv(), engine_spec, where, timeout=(windows + 4) * 60 / factor + 120,
                            label="fleet engine")
        served = server.stats()
    accepted = served["accepted"]
    tenant_ids = [str(d) for d in info["divisions"]]
    starts = [min(times) for times in accepted.values() if times]
    # From the first whole minute in which every division had been reached.
    first = math.ceil(max(starts, default=served["now"]) / 60) * 60
    last = math.floor(served["now"] / 60) * 60
    use = budget_use(accepted, tenant_ids, first, last, minutely, daily)
    requests = max(1, result["requests"])
    return {
        "server": spec_dict(spec), "tenants": tenants, "factor": factor,
        "measured_from": datetime.fromtimestamp(first, AMSTERDAM).isoformat(),
        "measured_to": datetime.fromtimestamp(last, AMSTERDAM).isoformat(),
        **use,
        "server_429": served["rate_limited"],
        "refusals": [(d, datetime.fromtimestamp(t, AMSTERDAM).isoformat(), w) for d, t, w in served["refusals"]],
        "engine": result,
        "scheduler_us_per_request": result["scheduler_seconds"] / requests * 1e6,
        "client_cpu_us_per_request": result["cpu_seconds"] / requests * 1e6,
        "rss_kb_per_tenant": result["peak_rss_mb"] * 1024 / tenants,
    }
