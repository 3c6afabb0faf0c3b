"""A mixed accounting firm on loopback: fake servers of every provider, and the
configuration that mirrors all of them at once (``replicator demo``).

Each provider's connections are built by a small function registered in
:data:`BUILDERS`; a provider whose plugin is not installed is left out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from replicator.clock import Clock
from replicator.providers import load_providers
from replicator.testing.fakebase import FakeServerBase


@dataclass
class Fleet:
    """Running fake servers and the ``[connections.*]`` tables that reach them."""

    servers: list[FakeServerBase] = field(default_factory=list)
    connections: dict[str, str] = field(default_factory=dict)  # name -> TOML body
    records: dict[str, int] = field(default_factory=dict)      # provider -> records at the source

    async def close(self) -> None:
        for server in self.servers:
            await server.close()

    def rate_limited(self) -> int:
        return sum(server.stats.rate_limited for server in self.servers)

    def toml(self) -> str:
        return "\n".join(f"[connections.{name}]\n{body}" for name, body in self.connections.items())


def _toml(**values: Any) -> str:
    lines = []
    for key, value in values.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} = {_scalar(v)}" for k, v in value.items())
            lines.append(f"{key} = {{ {inner} }}")
        else:
            lines.append(f"{key} = {_scalar(value)}")
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


Builder = Callable[[Fleet, Clock, int], Awaitable[None]]


async def _exact(fleet: Fleet, clock: Clock, scale: int) -> None:
    from replicator.testing.fake_exact import FakeExactServer

    per = {"transaction_lines": 2000, "accounts": 200, "contacts": 200, "sales_invoices": 200,
           "gl_accounts": 100, "items": 100, "vat_codes": 20, "deleted": 0}
    server = FakeExactServer(divisions=scale, records=per, clock=clock)
    await server.start()
    fleet.servers.append(server)
    fleet.connections["exact"] = _toml(
        provider="exact_online", base_url=server.base_url, client_id=server.client_id,
        client_secret=server.client_secret, refresh_token=server.add_grant("demo"))
    fleet.records["exact_online"] = scale * sum(per.values())


async def _horus(fleet: Fleet, clock: Clock, scale: int) -> None:
    from replicator.testing.fake_horus import FakeHorusServer

    licences = max(1, scale // 100)
    server = FakeHorusServer(licences=licences, folders=20, records=200, clock=clock)
    await server.start()
    fleet.servers.append(server)
    for licence in server.licences:
        api_url, token = server.grant(licence)
        fleet.connections[f"horus_{licence}"] = _toml(
            provider="horus", base_url=api_url, client_id=server.client_id,
            client_secret=server.client_secret, refresh_token=token,
            # Horus publishes no limit: the plugin assumes 60 a minute per licence;
            # this fake has none, and a deployment that knows its own sets it so.
            options={"api_host_pattern": "127.0.0.1", "allow_insecure_loopback": True,
                     "rate_limit_calls": 600, "max_concurrency": 8})


async def _halo(fleet: Fleet, clock: Clock, scale: int) -> None:
    from replicator.testing.fake_halo import FakeHaloServer

    server = FakeHaloServer(tenants=max(1, scale // 60), records=500, clock=clock)
    await server.start()
    fleet.servers.append(server)
    for tenant in server.tenants:
        client_id, secret = server.credentials(tenant)
        fleet.connections[f"halo_{tenant}"] = _toml(
            provider="halopsa", base_url=server.tenant_url(tenant), client_id=client_id, client_secret=secret)


async def _horisen(fleet: Fleet, clock: Clock, scale: int) -> None:
    from replicator.testing.fake_horisen import FakeHorisenServer

    server = FakeHorisenServer(tenants=max(1, scale // 60), records=2000, clock=clock)
    await server.start()
    fleet.servers.append(server)
    for tenant in server.tenants:
        client_id, secret = server.credentials(tenant)
        fleet.connections[f"horisen_{tenant}"] = _toml(
            provider="horisen", base_url=server.tenant_url(tenant), client_id=client_id, client_secret=secret,
            options={"requests_per_minute": 600})  # unknown limit [?]; this fake has none


async def _accounteer(fleet: Fleet, clock: Clock, scale: int) -> None:
    from replicator.testing.fake_accounteer import FakeAccounteerServer

    server = FakeAccounteerServer(organisations=max(1, scale // 60), records=300, clock=clock)
    await server.start()
    fleet.servers.append(server)
    for organisation in server.organisations:
        fleet.connections[f"accounteer_{organisation}"] = _toml(
            provider="accounteer", base_url=server.base_url, client_id=server.client_id,
            client_secret=server.client_secret, refresh_token=server.grant(organisation))


BUILDERS: dict[str, Builder] = {
    "exact_online": _exact,
    "horus": _horus,
    "halopsa": _halo,
    "horisen": _horisen,
    "accounteer": _accounteer,
}


async def start_fleet(clock: Clock, *, scale: int = 300, providers: list[str] | None = None) -> Fleet:
    """Start fakes for ``providers`` (default: every installed one that has a fake).

    ``scale`` is the number of Exact divisions; the other providers get tenants in
    proportion (an accounting firm's mix: mostly Exact).
    """
    installed = load_providers().providers
    wanted = providers or [name for name in BUILDERS if name in installed]
    unknown = [name for name in wanted if name not in BUILDERS]
    if unknown:
        raise ValueError(f"no fake server for {', '.join(unknown)}; have {', '.join(BUILDERS)}")
    fleet = Fleet()
    try:
        for name in wanted:
            await BUILDERS[name](fleet, clock, scale)
    except BaseException:
        await fleet.close()
        raise
    return fleet
