"""Run one benchmark client in a process of its own and measure it from outside.

Every client (the engine, the raw limits, the peers) runs as a child pinned to
the client core; its CPU seconds (user + system) and peak RSS come from
``wait4``, i.e. from the kernel, the same way for all of them. The child prints
one JSON line last on stdout with what only it can know (records in its store,
the seconds of its run, excluding interpreter start-up and imports).
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.server import CLIENT_CORE, pin

ROOT = Path(__file__).resolve().parent.parent


class ClientFailed(RuntimeError):
    """A client exited non-zero, timed out, or printed no result."""


def run_client(argv: list[str], spec: dict[str, Any], workdir: Path, *, timeout: float,
               label: str) -> dict[str, Any]:
    """Run ``argv --spec <workdir>/spec.json`` pinned to the client core; return its result plus
    ``cpu_seconds``, ``peak_rss_mb`` and ``wall_seconds``."""
    workdir.mkdir(parents=True, exist_ok=True)
    spec = {**spec, "workdir": str(workdir)}
    spec_path = workdir / "spec.json"
    spec_path.write_text(json.dumps(spec))
    log = workdir / "stderr.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0"}
    started = time.perf_counter()
    with log.open("wb") as err:
        process = subprocess.Popen([*argv, "--spec", str(spec_path)], stdout=subprocess.PIPE, stderr=err,
                                   cwd=ROOT, env=env, preexec_fn=lambda: pin(CLIENT_CORE) and None)
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        out = b""
        os.set_blocking(process.stdout.fileno(), False)
        while True:
            chunk = process.stdout.read()
            if chunk:
                out += chunk
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                rest = process.stdout.read()
                out += rest or b""
                break
            if time.monotonic() > deadline:
                process.send_signal(signal.SIGKILL)
                os.wait4(process.pid, 0)
                raise ClientFailed(f"{label}: no result within {timeout:.0f} s (log: {log})")
            time.sleep(0.05)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    lines = [line for line in out.decode(errors="replace").splitlines() if line.strip()]
    if process.returncode != 0 or not lines:
        tail = log.read_text(errors="replace")[-2000:]
        said = lines[-1][:1000] if lines else ""
        raise ClientFailed(f"{label}: exit {process.returncode}; it said {said!r}; stderr ends with:\n{tail}")
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except ValueError as exc:
        raise ClientFailed(f"{label}: last line is not JSON: {lines[-1][:200]!r}") from exc
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    result["wall_seconds"] = wall
    return result


def engine_argv() -> list[str]:
    return [sys.executable, "-m", "benchmarks.clients.engine_client"]


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    info: dict[str, Any] = {
        "python": platform.python_version(), "platform": platform.platform(),
        "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["processor"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    versions = {}
    for module in ("aiohttp", "msgspec", "orjson", "aiosqlite"):
        try:
            versions[module] = __import__(module).__version__
        except (ImportError, AttributeError):
            pass
    import sqlite3

    versions["sqlite"] = sqlite3.sqlite_version
    info["versions"] = versions
    return info
