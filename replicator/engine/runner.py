"""The engine: from a validated configuration to a replica, in one asyncio process.

How a page travels (see docs/architecture.md for the long version):

1. Start-up, per connection: load the stored (rotated) tokens, get an access
   token, discover the tenants, load every stream's committed state, and push
   each stream into the :class:`Scheduler`.
2. The dispatcher takes a global in-flight slot, then asks the scheduler for the
   next stream that may send now (its tenant's budget already charged), and
   starts a step for it in the task group.
3. A step sends the stream's request through its connection's ``exchange``
   (token, transport, budget release and calibration), decodes the page with the
   provider, checks where the next link points, turns records into rows, and
   queues a :class:`PageWrite` (rows + the stream's new state) for the writer.
4. The writer commits batches of pages, rows and cursors in one transaction.
5. The stream goes back into the scheduler with its next request, or finishes;
   failures are retried with backoff, waited out (429), or end that stream only.
"""

from __future__ import annotations

import asyncio
import signal
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from replicator import config as cfg
from replicator.clock import Clock, SystemClock
from replicator.engine.connection import ConnectionApi, ConnectionRuntime
from replicator.engine.inflight import RecordsInFlight
from replicator.engine.scheduler import Scheduler
from replicator.engine.stats import RunStats, Snapshot
from replicator.engine.streams import FanoutPage, Stream, TenantSlot
from replicator.engine.writer import Writer
from replicator.errors import (
    AuthError,
    ClientError,
    ConfigError,
    DecodeError,
    NeedsReauth,
    PagingError,
    RateLimited,
    ReplicatorError,
    RetryableError,
    StoreError,
    TransportError,
    Unauthorized,
    Where,
)
from replicator.http import Backoff, Transport
from replicator.providers import BoundResource, Page, Provider, Registry, load_providers
from replicator.stores.base import ConnectionState, PageWrite, Store, TableSpec
from replicator.types import Request, origin_of

# Fan-out pages of one stream in the scheduler at once: enough to fill a tenant's
# budget, few enough that a tenant with 1,000 pages does not push the others back.
FANOUT_WIDTH = 4


@dataclass
class RunSummary:
    """How a run ended: the final counters and what failed, by name."""

    snapshot: Snapshot
    failed_tenants: dict[str, str] = field(default_factory=dict)
    failed_connections: dict[str, str] = field(default_factory=dict)
    fatal: str | None = None
    stopped: bool = False

    @property
    def ok(self) -> bool:
        return not (self.failed_tenants or self.failed_connections or self.fatal)


Listener = Callable[[str, str], None]
"""Receives (level, message) for log lines: "info", "warning", "error"."""


def build_connections(config: cfg.Config, registry: Registry, *, store: Store, transport: Transport,
                      clock: Clock, stats: RunStats) -> list[ConnectionRuntime]:
    """Resolve every connection of ``config`` (providers, resources, secrets).

    Raises:
        ConfigError: a provider, resource, field or secret is wrong; nothing starts.
    """
    runtimes = []
    for name, conn in config.connections.items():
        key = f"connections.{name}"
        try:
            provider_cls = registry.get(conn.provider)
        except ReplicatorError as exc:
            raise ConfigError(f"{key}.provider: {exc.message}") from None
        try:
            provider: Provider = provider_cls(conn.base_url, conn.options)
        except ReplicatorError as exc:
            raise ConfigError(f"{key}: {exc.message}") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{key}.options: {exc}") from None
        names = conn.resources or [r.name for r in provider.resources]
        bound: list[BoundResource] = []
        for resource_name in names:
            try:
                resource = provider.resource(resource_name)
            except KeyError as exc:
                raise ConfigError(f"{key}.resources: {exc.args[0]}") from None
            try:
                bound.append(BoundResource(provider.name, resource, conn.fields.get(resource_name)))
            except ReplicatorError as exc:
                raise ConfigError(f"{key}.fields.{resource_name}: {exc.message}") from None
        unknown = set(conn.fields) - set(names)
        if unknown:
            raise ConfigError(f"{key}.fields: not a mirrored resource: {', '.join(sorted(unknown))}")
        secrets = cfg.secrets(name, conn)
        runtimes.append(ConnectionRuntime(name, provider, secrets, bound, store=store,
                                          transport=transport, clock=clock, stats=stats,
                                          tenant_filter=conn.tenants))
    return runtimes


class Engine:
    """Runs one pass over every stream of every tenant of every connection.

    Args:
        config: the validated configuration.
        store: an opened replica store.
        clock: time for budgets, backoff and tokens (virtual in tests).
        registry: the providers (default: the ``replicator.providers`` entry points).
        listener: receives log lines.
    """

    def __init__(self, config: cfg.Config, store: Store, *, clock: Clock | None = None,
                 registry: Registry | None = None, listener: Listener | None = None,
                 backoff: Backoff | None = None, stop_grace: float = 5.0) -> None:
        self.config = config
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.registry = registry or load_providers()
        self.listener = listener or (lambda level, message: None)
        self.backoff = backoff or Backoff(attempts=config.limits.max_attempts)
        self.stop_grace = stop_grace
        limits = config.limits
        self.transport = Transport(pool_size=limits.pool_size or limits.max_in_flight,
                                   timeout=limits.request_timeout)
        self.stats = RunStats(self.clock.time())
        self.scheduler = Scheduler(self.clock)
        self._slots = asyncio.Semaphore(limits.max_in_flight)
        self._records = RecordsInFlight(limits.max_records_in_flight)
        self.writer = Writer(store, max_pages=limits.batch_pages, on_commit=self._committed)
        self.connections = build_connections(config, self.registry, store=store,
                                             transport=self.transport, clock=self.clock,
                                             stats=self.stats)
        self._steps: set[asyncio.Task[None]] = set()
        self._failed_tenants: dict[str, str] = {}
        self._failed_connections: dict[str, str] = {}
        self._stopped = False

    # -- public ----------------------------------------------------------------------

    def statistics(self) -> Snapshot:
        return self.stats.snapshot(self.clock.time(), self.scheduler.limited)

    def stop(self) -> None:
        """Graceful stop: no new requests; pages in flight get ``stop_grace`` seconds
        to finish, then are abandoned (their streams resume from the last commit)."""
        if self._stopped:
            return
        self._stopped = True
        self.listener("warning", "stopping: finishing pages in flight and committing")
        self.scheduler.stop()
        loop = asyncio.get_running_loop()
        loop.call_later(self.stop_grace, self._cancel_steps)

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.stop)
            except (NotImplementedError, RuntimeError):
                pass

    async def run(self) -> RunSummary:
        tables = [b.table for conn in self.connections
                  for b in (*conn.bound, *conn.sideloads.values())]
        await self.store.prepare(_unique_tables(tables))
        self.stats.connections = len(self.connections)
        await self.transport.open()
        try:
            async with asyncio.TaskGroup() as outer:
                writer = outer.create_task(self.writer.run(), name="writer")
                try:
                    async with asyncio.TaskGroup() as work:
                        for conn in self.connections:
                            self.scheduler.live += 1
                            self._own(work.create_task(self._start(conn), name=f"start:{conn.name}"))
                        work.create_task(self._dispatch(work), name="dispatcher")
                finally:
                    await self.writer.close()
                await writer
        finally:
            await self.transport.close()
        await self._record_connection_states()
        fatal = self.writer.failure.message if self.writer.failure else None
        return RunSummary(self.statistics(), dict(self._failed_tenants),
                          dict(self._failed_connections), fatal, self._stopped)

    # -- start-up --------------------------------------------------------------------

    async def _start(self, conn: ConnectionRuntime) -> None:
        try:
            await conn.auth.load()
            api = ConnectionApi(conn, self._slots, self.clock, self.backoff)
            tenants = await conn.provider.discover(api)
            if conn.tenant_filter is not None:
                tenants = [t for t in tenants if t.id in conn.tenant_filter]
            await self.store.save_tenants(conn.name, [(t.id, t.name) for t in tenants])
            states = await self.store.load_states(conn.name)
        except ReplicatorError as exc:
            self._connection_failed(conn, exc.at(Where(connection=conn.name)))
            return
        except Exception as exc:
            self._connection_failed(conn, ReplicatorError(
                f"discovery failed: {type(exc).__name__}: {exc}", Where(connection=conn.name)))
            return
        finally:
            self.scheduler.live -= 1
            self.scheduler.poke()
        self.listener("info", f"{conn.name}: {len(tenants)} tenant(s), "
                              f"{len(conn.bound)} resource(s) each")
        now = self.clock.time()
        for tenant in tenants:
            slot = TenantSlot(conn, tenant, conn.budget(tenant.id))
            self.stats.tenants_total += 1
            for bound in conn.bound:
                stream = Stream(slot, bound, states.get((tenant.id, bound.name)))
                slot.remaining += 1
                self.stats.streams_total += 1
                self.scheduler.live += 1
                if bound.resource.deletions:
                    slot.held.append(stream)
                else:
                    slot.remaining_records += 1
                    stream.begin(now)
                    self.scheduler.push(stream, now)
            if slot.remaining_records == 0:
                self._release_held(slot)

    def _connection_failed(self, conn: ConnectionRuntime, exc: ReplicatorError) -> None:
        reauth = isinstance(exc, NeedsReauth)
        conn.kill(exc.message, needs_reauth=reauth)
        self._failed_connections[conn.name] = str(exc)
        self.stats.connections_failed += 1
        self.stats.errors += 1
        self.listener("error", f"{conn.name}: {'needs re-authorisation: ' if reauth else ''}{exc}")

    # -- dispatch --------------------------------------------------------------------

    async def _dispatch(self, work: asyncio.TaskGroup) -> None:
        while True:
            await self._slots.acquire()
            await self._records.acquire()
            item = await self.scheduler.next()
            if item is None:
                self._records.release()
                self._slots.release()
                return
            assert isinstance(item, (Stream, FanoutPage))
            self._own(work.create_task(self._step(item)))

    def _own(self, task: asyncio.Task[None]) -> None:
        # Tracked so that a stop can cancel what outlives its grace period.
        self._steps.add(task)
        task.add_done_callback(self._steps.discard)

    def _cancel_steps(self) -> None:
        for task in list(self._steps):
            task.cancel()

    async def _step(self, item: Stream | FanoutPage) -> None:
        stream = item if isinstance(item, Stream) else item.stream
        try:
            if isinstance(item, Stream):
                await self._fetch_page(item)
            else:
                await self._fetch_fanout_page(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in a provider or here ends this stream only
            await self._fail(item, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            self._records.release()
            self._slots.release()
            if not stream.done and self.scheduler.stopping:
                # Leave it: its committed state is where the next run resumes.
                stream.done = True
                self.scheduler.live -= 1
            self.scheduler.poke()

    async def _get_page(self, item: Stream | FanoutPage, stream: Stream, request: Request) -> Page | None:
        """Exchange and decode one page; None when the failure was dealt with."""
        conn = stream.slot.connection
        where = Where(conn.name, stream.slot.tenant.id, stream.bound.name, request.url)
        now = self.clock.time()
        try:
            response = await conn.exchange(request, stream.slot.tenant.id, where)
            page = conn.provider.decode(stream.bound, response)
            self._records.observe(len(page.records))
            for follow_up in (page.next, *page.fanout):
                if follow_up is not None and origin_of(follow_up.url) != conn.origin:
                    raise PagingError(f"next page on foreign origin {origin_of(follow_up.url)}", where)
            return page
        except NeedsReauth as exc:
            if not conn.dead:
                self._connection_failed(conn, exc)
            await self._fail(item, f"connection needs re-authorisation: {exc.message}")
        except RateLimited as exc:
            self.scheduler.push(item, exc.retry_at or now + 60.0, limited=True)
        except ClientError as exc:
            if item is stream and stream.resuming:
                self.listener("warning", f"{stream.key}: stored resume point refused "
                                         f"({exc.message}); restarting the pass from the cursor")
                stream.restart(self.clock.time())
                self.scheduler.push(stream, self.clock.time())
            else:
                await self._fail(item, str(exc.at(where)))
        except (RetryableError, Unauthorized, DecodeError, AuthError) as exc:
            await self._retry(item, exc.at(where))
        except (PagingError, TransportError) as exc:
            await self._fail(item, str(exc.at(where)))
        return None

    async def _fetch_page(self, stream: Stream) -> None:
        conn = stream.slot.connection
        if conn.dead:
            await self._finish(stream, f"connection {conn.name} failed: {conn.dead_reason}")
            return
        page = await self._get_page(stream, stream, stream.next_request())
        if page is None:
            return
        if page.fanout:
            if page.next is not None or (stream.bound.resource.cursor is not None and stream.ordered):
                await self._finish(stream, f"provider {conn.provider.name} fanned out pages of "
                                           f"{stream.bound.name} with a next link or an ordered cursor")
                return
            stream.fanout = deque(page.fanout)
            stream.outstanding = len(page.fanout)
            await self._commit(stream, page, None, pass_done=False)
            self._hand_out(stream)
            return
        await self._commit(stream, page, page.next, pass_done=page.next is None)
        if page.next is None:
            await self._finish(stream, None)
        elif not self.scheduler.stopping:
            self.scheduler.push(stream, self.clock.time())

    async def _fetch_fanout_page(self, task: FanoutPage) -> None:
        stream = task.stream
        conn = stream.slot.connection
        if conn.dead:
            await self._fail(task, f"connection {conn.name} failed: {conn.dead_reason}")
            return
        page = await self._get_page(task, stream, task.request)
        if page is None:
            return
        stream.outstanding -= 1
        last = stream.outstanding == 0
        await self._commit(stream, page, None, pass_done=last and stream.error is None)
        if last:
            await self._finish(stream, stream.error)
        else:
            self._hand_out(stream)

    def _hand_out(self, stream: Stream) -> None:
        """Queue fan-out pages, a few at a time so that other tenants keep their turns."""
        queue = stream.fanout
        while queue and stream.outstanding - len(queue) < FANOUT_WIDTH and not self.scheduler.stopping:
            self.scheduler.push(FanoutPage(stream, queue.popleft()), self.clock.time())

    async def _commit(self, stream: Stream, page: Page, next_request: Request | None, *,
                      pass_done: bool) -> None:
        """Queue a page's rows with the stream state that goes with them."""
        conn = stream.slot.connection
        records = list(page.records)
        rows = stream.bound.rows.rows(records)
        deletes: dict[str, list[str]] = {}
        if page.deletes:
            tables = {b.name: b.table.name for b in conn.bound}
            deletes = {tables[name]: list(keys) for name, keys in page.deletes.items()
                       if name in tables and keys}
        extra = [(conn.sideloads[name].table, conn.sideloads[name].rows.rows(list(included)))
                 for name, included in page.included.items() if name in conn.sideloads and included]
        sweep = stream.started_at if pass_done and stream.full_pass and stream.bound.resource.sweep else None
        try:
            await self.writer.room()
        except StoreError:
            self.scheduler.stop()
            raise
        # No await from here to put_nowait: states are queued in the order they were
        # made, so a stream's committed state never goes backwards.
        state = stream.advance(records, next_request, self.clock.time(), pass_done=pass_done)
        self.stats.pages += 1
        self.stats.records += len(rows)
        self.writer.put_nowait(PageWrite(stream.key, stream.bound.table, rows, state, deletes,
                                         extra, sweep))

    async def _retry(self, item: Stream | FanoutPage, exc: ReplicatorError) -> None:
        item.attempts += 1
        if self.backoff.exhausted(item.attempts):
            await self._fail(item, f"gave up after {item.attempts} attempts: {exc}")
            return
        self.stats.retries += 1
        delay = self.backoff.delay(item.attempts)
        self.listener("warning", f"retrying in {delay:.1f}s: {exc}")
        self.scheduler.push(item, self.clock.time() + delay)

    async def _fail(self, item: Stream | FanoutPage, error: str) -> None:
        if isinstance(item, Stream):
            await self._finish(item, error)
            return
        # A fan-out page that cannot be had: the other pages go on, the pass ends
        # failed, and the cursor stays where it was (the next run redoes the pass).
        stream = item.stream
        stream.error = stream.error or error
        stream.outstanding -= 1
        if stream.outstanding == 0:
            await self._finish(stream, stream.error)
        else:
            self._hand_out(stream)

    # -- completion ------------------------------------------------------------------

    async def _finish(self, stream: Stream, error: str | None) -> None:
        if stream.done:
            return
        stream.done = True
        self.scheduler.live -= 1
        self.stats.streams_done += 1
        slot = stream.slot
        slot.remaining -= 1
        if error is not None:
            self.stats.errors += 1
            slot.error = slot.error or error
            stream.state.last_error = error[:2000]
            if not stream.slot.connection.dead:
                self.listener("error", f"{stream.key}: {error}")
            await self._record_error(stream)
        if not stream.bound.resource.deletions:
            slot.remaining_records -= 1
            if slot.remaining_records == 0:
                self._release_held(slot)
        if slot.remaining == 0:
            if slot.error is not None:
                self.stats.tenants_failed += 1
                self._failed_tenants[f"{slot.connection.name}/{slot.tenant.id}"] = slot.error
            else:
                self.stats.tenants_done += 1

    def _release_held(self, slot: TenantSlot) -> None:
        now = self.clock.time()
        for stream in slot.held:
            stream.begin(now)
            self.scheduler.push(stream, now)
        slot.held = []

    async def _record_error(self, stream: Stream) -> None:
        # Through the writer, so that it lands after the stream's last page.
        page = PageWrite(stream.key, stream.bound.table, [], replace(stream.state))
        try:
            await self.writer.put(page)
        except StoreError:
            pass  # the store is down: the run is failing anyway

    def _committed(self, batch: list[PageWrite]) -> None:
        self.stats.records_committed += sum(len(p.rows) for p in batch)

    async def _record_connection_states(self) -> None:
        for conn in self.connections:
            state: ConnectionState = "ok"
            if conn.dead:
                state = "needs_reauth" if conn.needs_reauth else "error"
            try:
                await self.store.set_connection_status(conn.name, conn.provider.name, state,
                                                       conn.dead_reason)
            except ReplicatorError as exc:
                self.listener("error", f"{conn.name}: could not record status: {exc}")


def _unique_tables(tables: Sequence[TableSpec]) -> list[TableSpec]:
    seen: dict[str, TableSpec] = {}
    for table in tables:
        seen.setdefault(table.name, table)
    return list(seen.values())
