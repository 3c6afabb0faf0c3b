"""The fake Exact Online server of the benchmarks, in a process of its own.

Every client measured (the engine, the raw limits, the peers) talks HTTP over
loopback to this process, which is pinned to the other core when there are two,
like a real API on another machine. It is the fake of the test suite
(:class:`~replicator.testing.fake_exact.FakeExactServer`) with three additions
that only a benchmark needs:

* a fixed **latency** before every answer (a middleware);
* **warm-up**: every division's transaction lines are generated and encoded
  before the first client starts, so the server's one-time work is not billed to
  whoever comes first;
* a **scaled clock** for the rate-limited fleet, shared with the client through
  three numbers, so that Exact's minute and day windows fit in a run of minutes.

The parent drives it through a :class:`ServerHandle`: commands go down a pipe
and each answer comes back the same way.
"""

from __future__ import annotations

import asyncio
import gzip
import multiprocessing as mp
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
from aiohttp import web

from replicator.clock import Clock, ScaledClock, SystemClock
from replicator.testing.exact_data import RESOURCES
from replicator.testing.fake_exact import FakeExactServer
from replicator.testing.fakebase import Reply, Tenant

RESOURCE = "transaction_lines"
PATH = RESOURCES[RESOURCE].path
# Every field of a transaction line: what the engine selects by default, and
# what the peers are asked to select too.
SELECT = ",".join(RESOURCES[RESOURCE].fields)
SERVER_CORE = 1
CLIENT_CORE = 0


def pin(core: int) -> bool:
    """Run this process on ``core`` only (a no-op on one core or without affinity)."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        return False
    try:
        os.sched_setaffinity(0, {core})
    except OSError:
        return False
    return True


@dataclass
class ServerSpec:
    """What the server serves.

    ``clock`` is ``(origin, factor, real_origin)`` of a
    :class:`~replicator.clock.ScaledClock`, or ``None`` for the system clock.
    """

    divisions: int
    records: int
    sync_page_size: int = 1000
    latency: float = 0.0
    minutely_limit: int = 10**9
    daily_limit: int = 10**9
    clock: tuple[float, float, float] | None = None
    grants: int = 1
    grant_size: int | None = None  # divisions per grant (connection); None: every grant sees all
    warm: bool = True
    spent: dict[int, int] = field(default_factory=dict)  # division -> calls already used today


class _BenchServer(FakeExactServer):
    latency = 0.0
    # Compressing a 1000-record page costs the server ~4 ms, which would make it,
    # not the client, the bottleneck of the raw limits. The data does not change
    # during a benchmark, so each sync page is compressed once; headers stay per call.

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._gzipped: dict[tuple[str, int, int], bytes] = {}
        self.refusals: list[tuple[int, float, str]] = []  # (division, clock time, window) of each 429

    def _spend(self, division: int, budget: Any) -> Reply | None:
        refused = super()._spend(division, budget)
        if refused is not None:
            window = "daily" if budget.day_used >= self.daily_limit else "minutely"
            self.refusals.append((division, self.clock.time(), window))
        return refused

    async def send(self, request: web.Request, reply: Reply, tenant: Tenant | None, *,
                   api: bool = True) -> web.StreamResponse:
        # Only sync pages: their body is a function of the URL and the page size
        # while the data does not change (current/Me, say, depends on the token).
        if (reply.status != 200 or not reply.body or "/sync/" not in request.path
                or "gzip" not in request.headers.get("Accept-Encoding", "")):
            return await super().send(request, reply, tenant, api=api)
        key = (request.path_qs, self.sync_page_size, len(reply.body))
        body = self._gzipped.get(key)
        if body is None:
            body = self._gzipped[key] = gzip.compress(reply.body, compresslevel=1, mtime=0)
        self.stats.responses[200] += 1
        headers = {**reply.headers, "Content-Type": reply.content_type, "Content-Encoding": "gzip",
                   "Vary": "Accept-Encoding"}
        return web.Response(status=200, body=body, headers=headers)

    def add_routes(self, app: web.Application) -> None:
        super().add_routes(app)

        @web.middleware
        async def delay(request: web.Request,
                        handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
            if self.latency > 0:
                # Real time, even under a scaled clock: latency is the network's.
                await asyncio.sleep(self.latency)
            return await handler(request)

        app.middlewares.append(delay)


async def _access_token(server: FakeExactServer, refresh_token: str) -> str:
    async with aiohttp.ClientSession() as session, session.post(
            f"{server.base_url}/api/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token,
                  "client_id": server.client_id, "client_secret": server.client_secret}) as reply:
        return str((await reply.json())["access_token"])


def _warm(server: FakeExactServer) -> None:
    select = RESOURCES[RESOURCE].fields
    for division in server.division_codes():
        data = server._division_data(division)
        table = data.table(RESOURCE)
        uri_base = f"{server.base_url}/api/v1/{division}/{PATH}"
        table.encoded(select, uri_base, range(len(table.order()[0])))


def _stats(server: _BenchServer) -> dict[str, Any]:
    stats = server.stats
    return {
        "responses": {str(k): v for k, v in stats.responses.items()},
        "rate_limited": stats.rate_limited,
        "pages_served": stats.pages_served,
        "records_served": stats.records_served.total(),
        "accepted": {str(tenant): times for tenant, times in stats.accepted_times().items()},
        "now": server.clock.time(),
        "refusals": server.refusals[:100],
    }


def _serve(pipe: Connection, spec: ServerSpec) -> None:
    pinned = pin(SERVER_CORE)

    async def main() -> None:
        clock: Clock = SystemClock() if spec.clock is None else ScaledClock(*spec.clock)
        server = _BenchServer(
            divisions=spec.divisions, records={RESOURCE: spec.records}, clock=clock,
            minutely_limit=spec.minutely_limit, daily_limit=spec.daily_limit,
            token_lifetime=86_400, sync_page_size=spec.sync_page_size,
            # Discovery is not what is measured: all divisions in one page.
            regular_page_size=max(60, spec.divisions))
        server.latency = spec.latency
        await server.start()
        try:
            started = time.perf_counter()
            if spec.warm:
                _warm(server)
            codes = server.division_codes()
            if spec.grant_size:
                tokens = [server.add_grant(f"bench{i}", codes[i:i + spec.grant_size])
                          for i in range(0, len(codes), spec.grant_size)]
            else:
                tokens = [server.add_grant(f"bench{i}") for i in range(spec.grants)]
            if isinstance(clock, ScaledClock) and not clock.real_origin:
                # The scaled clock starts now that the server is ready, so that
                # the window the run begins in does not depend on the warm-up.
                clock.real_origin = time.time()
            for division, calls in spec.spent.items():
                server.spend(division, calls)
            peer_token = await _access_token(server, server.add_grant("peers"))
            pipe.send({
                "base_url": server.base_url, "divisions": server.division_codes("peers"),
                "client_id": server.client_id, "client_secret": server.client_secret,
                "refresh_tokens": tokens, "access_token": peer_token, "pinned": pinned,
                "warm_seconds": round(time.perf_counter() - started, 2),
                "clock": None if not isinstance(clock, ScaledClock) else
                [clock.origin, clock.factor, clock.real_origin],
            })
            loop = asyncio.get_running_loop()
            while True:
                op, arg = await loop.run_in_executor(None, pipe.recv)
                if op == "stop":
                    break
                if op == "stats":
                    pipe.send(_stats(server))
                elif op == "configure":
                    server.latency = float(arg.get("latency", server.latency))
                    server.sync_page_size = int(arg.get("sync_page_size", server.sync_page_size))
                    pipe.send(True)
                elif op == "grant":
                    pipe.send(server.add_grant(str(arg)))
                else:
                    pipe.send({"error": f"unknown command {op!r}"})
        finally:
            await server.close()

    try:
        asyncio.run(main())
    except BaseException as exc:  # the parent must hear why, not wait forever
        pipe.send({"error": f"{type(exc).__name__}: {exc}"})
        raise


class ServerHandle:
    """A running benchmark server: ``info`` has its URL, division codes and tokens."""

    def __init__(self, spec: ServerSpec, *, timeout: float = 600.0) -> None:
        ctx = mp.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, spec), daemon=True)
        self._process.start()
        if not self._pipe.poll(timeout):
            self.close()
            raise RuntimeError(f"the benchmark server did not start within {timeout:.0f} s")
        self.info: dict[str, Any] = self._pipe.recv()
        if "error" in self.info:
            self.close()
            raise RuntimeError(f"the benchmark server failed: {self.info['error']}")
        self.spec = spec

    def _call(self, op: str, arg: Any = None) -> Any:
        self._pipe.send((op, arg))
        if not self._pipe.poll(120):
            raise RuntimeError(f"the benchmark server did not answer {op!r}")
        return self._pipe.recv()

    def stats(self) -> dict[str, Any]:
        return dict(self._call("stats"))

    def configure(self, **values: float) -> None:
        self._call("configure", values)

    def grant(self, name: str) -> str:
        return str(self._call("grant", name))

    def close(self) -> None:
        if self._process.is_alive():
            try:
                self._pipe.send(("stop", None))
            except (BrokenPipeError, OSError):
                pass
            self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def spec_dict(spec: ServerSpec) -> dict[str, Any]:
    """The spec as JSON-able values, for the results file."""
    values = asdict(spec)
    values.pop("spent")
    return values
