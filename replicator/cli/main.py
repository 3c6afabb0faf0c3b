"""The ``replicator`` command: run, status, export, providers, demo."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from typing import TextIO

import orjson

from replicator import config as cfg
from replicator.cli.progress import Progress, human
from replicator.engine import Engine, RunSummary
from replicator.errors import ConfigError, ReplicatorError
from replicator.providers import load_providers

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 130


def _err(message: str) -> None:
    sys.stderr.write(f"replicator: error: {message}\n")


def summary_text(summary: RunSummary) -> str:
    s = summary.snapshot
    lines = [
        f"{'stopped' if summary.stopped else 'done'} in {s.elapsed:.1f}s: "
        f"{s.tenants_done}/{s.tenants_total} tenants ok, {s.tenants_failed} failed; "
        f"{s.pages} pages, {s.records_committed} records ({human(s.records_per_second)}/s); "
        f"{s.requests} requests, {s.rate_limited} 429s, {s.retries} retries, {s.errors} errors",
    ]
    for name, why in sorted(summary.failed_connections.items()):
        lines.append(f"  connection {name} FAILED: {why}")
    shown = sorted(summary.failed_tenants.items())
    for name, why in shown[:20]:
        lines.append(f"  tenant {name} FAILED: {why}")
    if len(shown) > 20:
        lines.append(f"  ... and {len(shown) - 20} more failed tenants (see `replicator status`)")
    if summary.fatal:
        lines.append(f"  FATAL: {summary.fatal}")
    return "\n".join(lines)


async def run_engine(config: cfg.Config, *, progress: bool = True, out: TextIO | None = None) -> RunSummary:
    """Open the store, run one pass with progress, close the store."""
    from replicator.stores import open_store

    registry = load_providers()
    store = open_store(config.store.url)
    reporter: Progress | None = None
    # Built before the store is opened: a bad connection refuses to start and
    # leaves no file behind.
    engine = Engine(config, store, registry=registry,
                    listener=lambda level, msg: reporter.log(level, msg) if reporter else None)
    await store.open()
    try:
        reporter = Progress(engine.statistics, stream=out)
        for name, why in registry.failures.items():
            reporter.log("warning", f"provider plugin {name!r} failed to load: {why}")
        engine.install_signal_handlers()
        drawer = asyncio.create_task(reporter.run()) if progress else None
        try:
            summary = await engine.run()
        finally:
            if drawer is not None:
                drawer.cancel()
                try:
                    await drawer
                except asyncio.CancelledError:
                    pass
        return summary
    finally:
        await store.close()


def cmd_run(args: argparse.Namespace) -> int:
    config = cfg.load(args.config)
    summary = asyncio.run(run_engine(config, progress=not args.quiet))
    print(summary_text(summary))
    if summary.stopped:
        return EXIT_STOPPED
    return EXIT_OK if summary.ok else EXIT_FAILED


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "never"


async def _status(config: cfg.Config) -> list[str]:
    from replicator.stores import open_store

    store = open_store(config.store.url)
    await store.open()
    try:
        connections = {c.connection: c for c in await store.connection_statuses()}
        streams = await store.stream_statuses()
    finally:
        await store.close()
    out: list[str] = []
    for name, conn in config.connections.items():
        status = connections.get(name)
        state = status.state if status else "never run"
        flag = "  <-- NEEDS RE-AUTHORISATION" if status and status.state == "needs_reauth" else ""
        out.append(f"connection {name} ({conn.provider}): {state}{flag}")
        if status and status.message:
            out.append(f"  {status.message}")
        mine = [s for s in streams if s.stream.connection == name]
        tenants = sorted({s.stream.tenant for s in mine})
        for tenant in tenants:
            rows = [s for s in mine if s.stream.tenant == tenant]
            errors = [s for s in rows if s.state.last_error]
            last = max((s.state.last_success or 0 for s in rows), default=0)
            out.append(f"  tenant {tenant}: {sum(s.rows for s in rows)} rows, last sync "
                       f"{_when(last)}{', ' + str(len(errors)) + ' error(s)' if errors else ''}")
            for s in sorted(rows, key=lambda s: s.stream.resource):
                cursor = s.state.cursor or "-"
                line = (f"    {s.stream.resource:<20} rows {s.rows:>9}  cursor {cursor:<28} "
                        f"last sync {_when(s.state.last_success)}")
                if s.state.resume_url:
                    line += "  (pass under way)"
                out.append(line)
                if s.state.last_error:
                    out.append(f"      error: {s.state.last_error}")
    return out


def cmd_status(args: argparse.Namespace) -> int:
    config = cfg.load(args.config)
    print("\n".join(asyncio.run(_status(config))))
    return EXIT_OK


async def _export(config: cfg.Config, resource: str, tenant: str | None,
                  connection: str | None, out: TextIO) -> int:
    from replicator.stores import open_store

    registry = load_providers()
    tables: list[tuple[str, str]] = []
    for name, conn in config.connections.items():
        if connection is not None and name != connection:
            continue
        provider = registry.get(conn.provider)
        if any(r.name == resource for r in (*provider.resources, *provider.sideloads)):
            tables.append((name, f"{provider.name}__{resource}"))
    if not tables:
        raise ConfigError(f"no configured connection mirrors a resource (or sideload) named {resource!r}")
    store = open_store(config.store.url)
    await store.open()
    count = 0
    try:
        buffer = out.buffer if hasattr(out, "buffer") else None
        for name, table in tables:
            async for row in store.export(table, connection=name, tenant=tenant):
                data = orjson.dumps(row) + b"\n"
                if buffer is not None:
                    buffer.write(data)
                else:
                    out.write(data.decode())
                count += 1
    finally:
        await store.close()
    out.flush()
    return count


def cmd_export(args: argparse.Namespace) -> int:
    config = cfg.load(args.config)
    count = asyncio.run(_export(config, args.resource, args.tenant, args.connection, sys.stdout))
    sys.stderr.write(f"exported {count} records\n")
    return EXIT_OK


def cmd_providers(args: argparse.Namespace) -> int:
    registry = load_providers()
    for name in sorted(registry.providers):
        provider = registry.providers[name]
        base = provider.default_base_url or "set per connection"
        print(f"{name}: {provider.title or name} (base URL: {base})")
        for resource in provider.resources:
            cursor = f"cursor {resource.cursor.field}" if resource.cursor else "full scan"
            print(f"  {resource.name:<28} {cursor:<22} {resource.description}")
        for sideload in provider.sideloads:
            print(f"  {sideload.name:<28} {'sideload':<22} {sideload.description}")
    for name, why in sorted(registry.failures.items()):
        print(f"{name}: FAILED TO LOAD: {why}")
    return EXIT_FAILED if registry.failures and not registry.providers else EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from replicator.cli.demo import demo

    providers = [p.strip() for p in args.providers.split(",")] if args.providers else None
    return demo(divisions=args.divisions, providers=providers, directory=args.dir, quiet=args.quiet)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="replicator", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="mirror every configured connection once")
    run.add_argument("-c", "--config", required=True, help="the TOML configuration file")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    run.set_defaults(func=cmd_run)
    status = sub.add_parser("status", help="per connection and tenant: last sync, cursors, errors")
    status.add_argument("-c", "--config", required=True)
    status.set_defaults(func=cmd_status)
    export = sub.add_parser("export", help="write a resource's records as JSON lines")
    export.add_argument("-c", "--config", required=True)
    export.add_argument("--resource", required=True)
    export.add_argument("--tenant")
    export.add_argument("--connection")
    export.set_defaults(func=cmd_export)
    providers = sub.add_parser("providers", help="list installed providers and their resources")
    providers.set_defaults(func=cmd_providers)
    demo = sub.add_parser("demo", help="mirror fake providers (a mixed accounting firm) into SQLite")
    demo.add_argument("--divisions", type=int, default=300,
                      help="Exact Online divisions; the other providers get tenants in proportion")
    demo.add_argument("--providers", help="comma-separated provider names (default: all installed)")
    demo.add_argument("--dir", default="replicator-demo", help="where the config and replica go")
    demo.add_argument("-q", "--quiet", action="store_true")
    demo.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except ConfigError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except ReplicatorError as exc:
        _err(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_STOPPED
    except BrokenPipeError:
        # `replicator export ... | head`: the reader left; that is not an error.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
