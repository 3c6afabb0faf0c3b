"""The embedded default store: one SQLite file in WAL mode, driven by aiosqlite.

The store owns one :mod:`aiosqlite` connection (its worker thread runs every
statement, in the order they were queued), opened with ``isolation_level=None``
so that no statement opens a transaction behind our back: every transaction is
an explicit ``BEGIN IMMEDIATE`` ... ``COMMIT``.

Each public coroutine is one *job*: an ``asyncio`` task that holds the store's
lock from its first statement to its last, so a :meth:`SQLiteStore.write` batch
(``BEGIN IMMEDIATE``, one ``executemany`` per run of same-table pages, the
deletes, one ``executemany`` for the stream states, ``COMMIT``) never interleaves
with another caller's statements, and an autocommit ``save_credentials`` never
lands inside somebody else's transaction. A job that fails rolls back before the
lock is released. A job is shielded from its caller's cancellation: once started
it runs to its end (a write commits whole, rows with states); a call cancelled
while it waits for the lock is dropped whole. Awaits are per statement, never per
row: rows are handed to ``executemany`` as a generator that the worker thread
consumes, so a 20-page batch of one table costs four thread hops (``BEGIN``,
upserts, states, ``COMMIT``; one more per table switch or delete), not 20,000.

Replica tables are rowid tables, not ``WITHOUT ROWID``: with a random text GUID
key, a ``WITHOUT ROWID`` table clusters whole 15-column rows in key order, so
every insert lands in a random leaf and moves wide rows around when it splits,
where a rowid table appends rows and only the narrow key index takes random
inserts. ``benchmarks/sqlite_write.py`` (200k rows, 1000-row pages, 20 per
write) measured about 170k rows/s inserting and 215k overwriting for rowid
tables against 115k and 95k for ``WITHOUT ROWID``.

Values are bound as given, with no per-value Python work: the decoding layer's
``RowBuilder`` hands ``None``, ``int``, ``float``, ``str`` or ``bytes``
(timestamps as ISO-8601 UTC text, json as JSON text). Other types are refused by
:mod:`sqlite3` and reported as a :class:`StoreError`, except ``datetime`` and
``date``, which sqlite3's deprecated default adapters would turn into
space-separated text: convert them before they get here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any, TypeVar

import aiosqlite

from replicator.clock import Clock, SystemClock
from replicator.errors import StoreError, Where
from replicator.stores.base import (
    ConnectionState,
    ConnectionStatus,
    Credentials,
    PageWrite,
    StreamKey,
    StreamState,
    StreamStatus,
    TableSpec,
)

_T = TypeVar("_T")

_SQL_TYPES = {
    "text": "TEXT",
    "integer": "INTEGER",
    "real": "REAL",
    "boolean": "INTEGER",
    "timestamp": "TEXT",
    "json": "TEXT",
}

# Errors a job can get from the connection: sqlite3's own, what binding a
# malformed row raises (a list where a tuple belongs, an int beyond 64 bits), and
# aiosqlite's ValueError for a connection that is gone.
_DB_ERRORS = (sqlite3.Error, TypeError, ValueError, OverflowError)

_EXPORT_CHUNK = 1000

# Appended to CREATE TABLE; benchmarks/sqlite_write.py sets " WITHOUT ROWID" to compare.
_TABLE_OPTIONS = ""

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS _streams (
    connection TEXT NOT NULL, tenant TEXT NOT NULL, resource TEXT NOT NULL,
    table_name TEXT, cursor TEXT, pending TEXT, resume_url TEXT,
    records INTEGER NOT NULL DEFAULT 0, last_success REAL, last_error TEXT,
    PRIMARY KEY (connection, tenant, resource));
CREATE TABLE IF NOT EXISTS _connections (
    connection TEXT PRIMARY KEY NOT NULL, provider TEXT, state TEXT, message TEXT,
    updated_at REAL, refresh_token TEXT, access_token TEXT, access_expires_at REAL,
    refreshed_at REAL, seed_fingerprint TEXT);
CREATE TABLE IF NOT EXISTS _tenants (
    connection TEXT NOT NULL, tenant TEXT NOT NULL, name TEXT, discovered_at REAL,
    PRIMARY KEY (connection, tenant));
"""

_STATE_COLUMNS = "cursor, pending, resume_url, records, last_success, last_error"

_SAVE_STATE = f"""
INSERT INTO _streams (connection, tenant, resource, table_name, {_STATE_COLUMNS})
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (connection, tenant, resource) DO UPDATE SET
    table_name = excluded.table_name, cursor = excluded.cursor,
    pending = excluded.pending, resume_url = excluded.resume_url,
    records = excluded.records, last_success = excluded.last_success,
    last_error = excluded.last_error
"""

_SAVE_CREDENTIALS = """
INSERT INTO _connections (connection, refresh_token, access_token, access_expires_at,
    refreshed_at, seed_fingerprint) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (connection) DO UPDATE SET
    refresh_token = excluded.refresh_token, access_token = excluded.access_token,
    access_expires_at = excluded.access_expires_at, refreshed_at = excluded.refreshed_at,
    seed_fingerprint = excluded.seed_fingerprint
"""

_SET_STATUS = """
INSERT INTO _connections (connection, provider, state, message, updated_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (connection) DO UPDATE SET provider = excluded.provider,
    state = excluded.state, message = excluded.message, updated_at = excluded.updated_at
"""

# The first discovery time is kept; only the (possibly renamed) name changes.
_SAVE_TENANT = """
INSERT INTO _tenants (connection, tenant, name, discovered_at) VALUES (?, ?, ?, ?)
ON CONFLICT (connection, tenant) DO UPDATE SET name = excluded.name
"""


def quote(name: str) -> str:
    """Quote an identifier that comes from a plugin.

    Raises:
        StoreError: the name is empty or holds a double quote or a NUL, which no
            quoting scheme should have to survive.
    """
    if not name or '"' in name or "\0" in name:
        raise StoreError(f"invalid SQL identifier {name!r}: empty, or holds a quote or NUL")
    return f'"{name}"'


def check_table_name(name: str) -> str:
    """Quote a replica table name, refusing the bookkeeping and SQLite namespaces.

    Raises:
        StoreError: the name starts with ``_`` or ``sqlite_``, or :func:`quote` refuses it.
    """
    if name.startswith("_") or name.lower().startswith("sqlite_"):
        raise StoreError(
            f"table name {name!r} is reserved: names starting with '_' or 'sqlite_' "
            "belong to the store"
        )
    return quote(name)


class _Table:
    """A prepared replica table with its statements, built once."""

    __slots__ = ("delete_sql", "spec", "sweep_sql", "upsert_sql")

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        table = quote(spec.name)
        names = ["_connection", "_tenant", "_synced_at", *spec.column_names]
        columns = ", ".join(quote(n) for n in names)
        marks = ", ".join("?" * len(names))
        pk = f'"_connection", "_tenant", {quote(spec.key)}'
        updates = ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in names[2:] if n != spec.key)
        self.upsert_sql = (
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) "
            f"ON CONFLICT ({pk}) DO UPDATE SET {updates}"
        )
        self.delete_sql = (
            f'DELETE FROM {table} WHERE "_connection" = ? AND "_tenant" = ? '
            f"AND {quote(spec.key)} = ?"
        )
        # After a complete full scan: what the pass did not write is gone at the source.
        self.sweep_sql = (
            f'DELETE FROM {table} WHERE "_connection" = ? AND "_tenant" = ? AND "_synced_at" < ?'
        )


def check_table_spec(spec: TableSpec) -> None:
    """Refuse a spec that no store should create (shared with the MemoryStore).

    Raises:
        StoreError: a bad or reserved name, a duplicate column (SQLite folds case),
            an unknown column type, or a key that is not one of the columns.
    """
    check_table_name(spec.name)
    seen: set[str] = set()
    for column in spec.columns:
        quote(column.name)
        # SQLite identifiers are case-insensitive: "ID" and "id" are one column.
        folded = column.name.lower()
        if folded in seen or folded in ("_connection", "_tenant", "_synced_at"):
            raise StoreError(f"table {spec.name!r}: duplicate or reserved column {column.name!r}")
        if column.type not in _SQL_TYPES:
            raise StoreError(f"table {spec.name!r}: unknown column type {column.type!r}")
        seen.add(folded)
    if spec.key not in spec.column_names:
        raise StoreError(f"table {spec.name!r}: key {spec.key!r} is not one of its columns")


def _where(*pages: PageWrite) -> Where:
    """The location the pages share (a field they disagree on is left out)."""
    keys = {p.stream for p in pages}
    connections = {k.connection for k in keys}
    tenants = {(k.connection, k.tenant) for k in keys}
    first = pages[0].stream
    return Where(
        connection=first.connection if len(connections) == 1 else None,
        tenant=first.tenant if len(tenants) == 1 else None,
        resource=first.resource if len(keys) == 1 else None,
    )


def _state_row(page: PageWrite) -> tuple[Any, ...]:
    s, key = page.state, page.stream
    return (key.connection, key.tenant, key.resource, page.table.name, s.cursor,
            s.pending, s.resume_url, s.records, s.last_success, s.last_error)  # fmt: skip


# A job: everything one public call does on the connection, as one coroutine.
_Job = Callable[[aiosqlite.Connection], Coroutine[Any, Any, _T]]


class SQLiteStore:
    """A :class:`~replicator.stores.base.Store` in one SQLite file.

    Args:
        path: the database file (created with mode 0600, since it holds refresh
            tokens), or ``":memory:"``.
        clock: where ``_synced_at`` and status timestamps come from.
    """

    __slots__ = ("_clock", "_db", "_jobs", "_lock", "_path", "_tables")

    def __init__(self, path: str | os.PathLike[str], *, clock: Clock | None = None) -> None:
        self._path = os.fspath(path)
        self._clock: Clock = clock or SystemClock()
        self._db: aiosqlite.Connection | None = None
        # Held by the running job, from its first statement to its rollback or end.
        self._lock = asyncio.Lock()
        self._jobs: set[asyncio.Task[Any]] = set()  # strong references to running jobs
        self._tables: dict[str, _Table] = {}

    def __repr__(self) -> str:
        state = "open" if self._db is not None else "closed"
        return f"SQLiteStore({self._path!r}, {state}, {len(self._tables)} tables prepared)"

    # -- plumbing ------------------------------------------------------------

    async def _run(self, job: _Job[_T]) -> _T:
        """Run ``job(db)`` alone on the connection, to its end even if the caller is cancelled."""
        lock = self._lock
        if self._db is None:
            raise StoreError(f"store {self._path!r} is not open")
        await lock.acquire()  # cancelled here: nothing of the job ran
        db = self._db
        if db is None:  # closed while we waited
            lock.release()
            raise StoreError(f"store {self._path!r} is not open")
        task = asyncio.ensure_future(self._guarded(db, job))
        self._jobs.add(task)
        # A done callback, not a finally: it also runs for a task cancelled
        # before its first step (the event loop shutting down).
        task.add_done_callback(lambda t: self._job_done(t, lock))
        return await asyncio.shield(task)

    def _job_done(self, task: asyncio.Task[Any], lock: asyncio.Lock) -> None:
        self._jobs.discard(task)
        lock.release()
        if not task.cancelled():
            task.exception()  # the caller may be gone: do not log it as never retrieved

    async def _guarded(self, db: aiosqlite.Connection, job: _Job[_T]) -> _T:
        try:
            return await job(db)
        except BaseException as exc:
            # Leave no half transaction behind for the next job to trip on (a
            # no-op outside a transaction; queued behind the failed statement).
            with contextlib.suppress(sqlite3.Error, ValueError):
                await db.rollback()
            if isinstance(exc, _DB_ERRORS):
                raise StoreError(f"SQLite {self._path!r}: {exc}") from exc
            raise

    # -- lifecycle -----------------------------------------------------------

    async def open(self) -> None:
        """Open (or create) the file and its bookkeeping tables; idempotent."""
        if self._db is not None:
            return
        try:
            if self._path != ":memory:":
                await asyncio.to_thread(_create_private, self._path)
            # isolation_level=None: no implicit BEGINs; every transaction is explicit.
            db = await aiosqlite.connect(self._path, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open SQLite store {self._path!r}: {exc}") from exc
        try:
            await db.execute_fetchall("PRAGMA journal_mode=WAL")
            # NORMAL in WAL survives a killed process; only power loss can drop the
            # last commits, never corrupt the file.
            await db.execute_fetchall("PRAGMA synchronous=NORMAL")
            await db.execute_fetchall("PRAGMA busy_timeout=10000")
            await db.execute_fetchall("PRAGMA cache_size=-16384")  # 16 MiB: B-tree interiors stay hot, RSS stays flat
            await db.executescript(_BOOKKEEPING)
        except BaseException as exc:
            await db.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot open SQLite store {self._path!r}: {exc}") from exc
            raise
        self._db = db

    async def close(self) -> None:
        """Close the connection (after the running job) and stop its thread; idempotent."""
        db = self._db
        if db is None:
            return
        async with self._lock:
            if self._db is not db:  # closed by someone else meanwhile
                return
            self._db = None
            await db.close()

    # -- schema --------------------------------------------------------------

    async def prepare(self, tables: Sequence[TableSpec]) -> None:
        """Create the replica tables; add the columns an existing table lacks.

        Raises:
            StoreError: a bad identifier or type, or an existing table whose key
                differs from the spec's.
        """
        for spec in tables:
            check_table_spec(spec)
        prepared = [_Table(spec) for spec in tables]
        specs = list(tables)
        await self._run(lambda db: _prepare(db, specs))
        for table in prepared:
            self._tables[table.spec.name] = table

    # -- the hot path --------------------------------------------------------

    async def write(self, pages: Sequence[PageWrite]) -> None:
        """Upsert rows, apply deletes and save stream states in ONE transaction.

        The batch is one job. A caller cancelled while the job runs does not stop
        it: the batch then commits whole, rows with states, which is what crash
        safety needs; a job not yet started is dropped whole.

        Raises:
            StoreError: a page names a table not prepared (or prepared with other
                columns), or SQLite refused a row; nothing of the batch is kept.
        """
        if not pages:
            return
        # Resolve tables and snapshot the mutable parts now: the engine may touch
        # a StreamState, or prepare(), while the job runs.
        tables: list[_Table] = []
        deletes: list[list[tuple[_Table, list[Any]]]] = []
        extras: list[list[tuple[_Table, list[tuple[Any, ...]]]]] = []
        for page in pages:
            table = self._prepared(page.table, page)
            tables.append(table)
            extras.append([(self._prepared(spec, page), list(rows)) for spec, rows in page.extra if rows])
            deletes.append(
                [(self._delete_table(n, page), list(k)) for n, k in page.deletes.items()]
            )
        states = [_state_row(page) for page in pages]
        batch, synced_at = list(pages), self._clock.time()
        await self._run(lambda db: _write(db, batch, tables, deletes, extras, states, synced_at))

    def _prepared(self, spec: TableSpec, page: PageWrite) -> _Table:
        table = self._tables.get(spec.name)
        if table is None or (table.spec is not spec and table.spec != spec):
            raise StoreError(f"table {spec.name!r} is not prepared with these columns", _where(page))
        return table

    def _delete_table(self, name: str, page: PageWrite) -> _Table:
        table = self._tables.get(name)
        if table is None:
            raise StoreError(f"delete from unprepared table {name!r}", _where(page))
        return table

    # -- state and credentials -------------------------------------------------

    async def load_states(self, connection: str) -> dict[tuple[str, str], StreamState]:
        """The committed state of every stream of ``connection``, by (tenant, resource)."""
        rows = await self._fetchall(
            f"SELECT tenant, resource, {_STATE_COLUMNS} FROM _streams WHERE connection = ?",
            (connection,),
        )
        return {(r[0], r[1]): StreamState(*r[2:]) for r in rows}

    async def load_credentials(self, connection: str) -> Credentials | None:
        """The stored grant of ``connection``, or ``None`` if none was saved."""
        rows = await self._fetchall(
            "SELECT refresh_token, access_token, access_expires_at, refreshed_at, "
            "seed_fingerprint FROM _connections "
            "WHERE connection = ? AND seed_fingerprint IS NOT NULL",
            (connection,),
        )
        return Credentials(*rows[0]) if rows else None

    async def save_credentials(self, connection: str, credentials: Credentials) -> None:
        """Persist ``credentials``; committed (WAL, durable to a killed process) on return."""
        c = credentials
        row = (connection, c.refresh_token, c.access_token, c.access_expires_at,
               c.refreshed_at, c.seed_fingerprint)  # fmt: skip
        await self._run(lambda db: _execute(db, _SAVE_CREDENTIALS, row))

    async def save_tenants(self, connection: str, tenants: Sequence[tuple[str, str]]) -> None:
        """Remember the (id, name) of the tenants discovered for ``connection``."""
        now = self._clock.time()
        rows = [(connection, tenant, name, now) for tenant, name in tenants]
        await self._run(lambda db: _executemany(db, _SAVE_TENANT, rows))

    async def set_connection_status(
        self, connection: str, provider: str, state: ConnectionState, message: str | None
    ) -> None:
        """Record how ``connection`` last fared (credentials are left untouched)."""
        row = (connection, provider, state, message, self._clock.time())
        await self._run(lambda db: _execute(db, _SET_STATUS, row))

    async def connection_statuses(self) -> list[ConnectionStatus]:
        """Every connection that has a status, by name."""
        rows = await self._fetchall(
            "SELECT connection, provider, state, message, updated_at FROM _connections "
            "WHERE state IS NOT NULL ORDER BY connection",
            (),
        )
        return [ConnectionStatus(*r) for r in rows]

    async def stream_statuses(self) -> list[StreamStatus]:
        """Every stream with its state and its row count in its table.

        ``rows`` falls back to the stream's ``records`` counter when its table is
        unknown (never written) or gone.
        """
        return await self._run(_stream_statuses)

    # -- reading replica tables ------------------------------------------------

    async def _fetchall(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return await self._run(lambda db: _fetchall(db, sql, params))

    async def table_names(self) -> list[str]:
        """The replica tables in the file (bookkeeping tables excluded), sorted."""
        return await self._run(_table_names)

    async def key_of(self, table: str) -> str:
        """The record key column of replica ``table`` (read from the file)."""
        check_table_name(table)
        rows = await self._fetchall("SELECT name, pk FROM pragma_table_info(?)", (table,))
        keys = sorted((pk, name) for name, pk in rows if pk > 0)
        if not keys:
            raise StoreError(f"no replica table {table!r}")
        return str(keys[-1][1])  # after _connection and _tenant

    async def count(
        self, table: str, *, connection: str | None = None, tenant: str | None = None
    ) -> int:
        """The number of rows of ``table``, optionally of one connection and tenant."""
        where, params = _filters(connection, tenant)
        rows = await self._fetchall(f"SELECT COUNT(*) FROM {check_table_name(table)}{where}", params)
        return int(rows[0][0])

    async def export(
        self, table: str, *, connection: str | None = None, tenant: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield the rows of ``table`` as dicts, metadata included, in key order.

        Rows are read in chunks by keyset pagination, one short query (one job)
        per chunk: no statement stays open and the store is not held across a
        ``yield`` (so an abandoned export pins nothing and never holds up a
        write), and memory stays flat. A row written during an export is seen
        once, in its old or new version.

        Raises:
            StoreError: a bookkeeping (``_``) table or a table that does not exist.
        """
        check_table_name(table)
        names, key = await self._run(lambda db: _describe(db, table))
        if tenant is not None and connection is None:
            # "_tenant = ?" alone is not a prefix of the primary key: walk the
            # connections so that every chunk is an index range, never a sort.
            sql = f'SELECT DISTINCT "_connection" FROM {quote(table)} ORDER BY 1'
            connections = [r[0] for r in await self._fetchall(sql, ())]
        else:
            connections = [connection]
        for conn_name in connections:
            async for row in self._export_range(table, names, key, conn_name, tenant):
                yield row

    async def _export_range(
        self, table: str, names: list[str], key: str, connection: str | None, tenant: str | None
    ) -> AsyncIterator[dict[str, Any]]:
        # Equality on the leading key columns that are fixed, a row-value range on
        # the rest: SQLite turns both into one index range search.
        fixed: list[tuple[str, str]] = []
        if connection is not None:
            fixed.append(("_connection", connection))
            if tenant is not None:
                fixed.append(("_tenant", tenant))
        moving = ["_connection", "_tenant", key][len(fixed) :]
        equal = [f"{quote(n)} = ?" for n, _ in fixed]
        params = tuple(v for _, v in fixed)
        order = ", ".join(quote(n) for n in moving)
        base = f"SELECT {', '.join(quote(n) for n in names)} FROM {quote(table)}"
        chunk = _EXPORT_CHUNK
        first = _select(base, equal, order, chunk)
        more = _select(base, [*equal, f"({order}) > ({', '.join('?' * len(moving))})"], order, chunk)
        at = [names.index(n) for n in moving]
        rows = await self._fetchall(first, params)
        while rows:
            for row in rows:
                yield dict(zip(names, row, strict=True))
            if len(rows) < chunk:
                return
            last = rows[-1]
            rows = await self._fetchall(more, (*params, *(last[i] for i in at)))


def _create_private(path: str) -> None:
    """Create the file private first, if it does not exist: SQLite gives -wal and -shm its mode."""
    if not os.path.exists(path):
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _select(base: str, clauses: list[str], order: str, limit: int) -> str:
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"{base}{where} ORDER BY {order} LIMIT {limit}"


# -- jobs: each runs alone on the connection, under the store's lock ----------


async def _write(
    db: aiosqlite.Connection,
    pages: list[PageWrite],
    tables: list[_Table],
    deletes: list[list[tuple[_Table, list[Any]]]],
    extras: list[list[tuple[_Table, list[tuple[Any, ...]]]]],
    states: list[tuple[Any, ...]],
    synced_at: float,
) -> None:
    await db.execute("BEGIN IMMEDIATE")  # take the write lock now, not mid-batch
    start, n = 0, len(pages)
    while start < n:
        table = tables[start]
        # A group is a run of pages of one table, upserted by ONE executemany; a
        # page that deletes from that same table ends it, so that rows and deletes
        # stay in page order.
        end = start
        while end < n and tables[end] is table:
            end += 1
            if any(target is table for target, _ in deletes[end - 1]):
                break
        group = pages[start:end]
        try:
            # A generator, consumed on the connection's thread: no await per row.
            await db.executemany(
                table.upsert_sql,
                (
                    prefix + row
                    for page in group
                    for prefix in ((page.stream.connection, page.stream.tenant, synced_at),)
                    for row in page.rows
                ),
            )
            for page, page_deletes, page_extras in zip(group, deletes[start:end], extras[start:end],
                                                       strict=True):
                tenant = (page.stream.connection, page.stream.tenant)
                for target, keys in page_deletes:
                    await db.executemany(target.delete_sql, [(*tenant, k) for k in keys])
                for target, extra_rows in page_extras:
                    await db.executemany(target.upsert_sql, [(*tenant, synced_at, *r) for r in extra_rows])
                if page.sweep_before is not None:
                    await db.execute(table.sweep_sql, (*tenant, page.sweep_before))
        except _DB_ERRORS as exc:
            # _guarded rolls the transaction back.
            rows = sum(len(p.rows) for p in group)
            raise StoreError(
                f"writing {rows} rows to {table.spec.name!r} failed: {exc}", _where(*group)
            ) from exc
        start = end
    await db.executemany(_SAVE_STATE, states)
    await db.commit()


async def _fetchall(db: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    return list(await db.execute_fetchall(sql, params))


async def _execute(db: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> None:
    await db.execute(sql, params)  # autocommit: committed when this returns


async def _executemany(db: aiosqlite.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    await db.execute("BEGIN IMMEDIATE")
    await db.executemany(sql, rows)
    await db.commit()


def _filters(connection: str | None, tenant: str | None) -> tuple[str, tuple[str, ...]]:
    clauses, params = [], []
    if connection is not None:
        clauses.append('"_connection" = ?')
        params.append(connection)
    if tenant is not None:
        clauses.append('"_tenant" = ?')
        params.append(tenant)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)


async def _columns(db: aiosqlite.Connection, table: str) -> list[tuple[str, int]]:
    """(name, position in the primary key or 0) of each column of ``table``."""
    return [(r[1], r[5]) for r in await _fetchall(db, f"PRAGMA table_info({quote(table)})", ())]


async def _prepare(db: aiosqlite.Connection, specs: list[TableSpec]) -> None:
    # Two statements, not one per table: read every spec's columns at once, then
    # run the DDL as one script that is its own transaction (all tables or none).
    # A schema changed in between by another process makes the script fail (table
    # exists, duplicate column) and roll back: an error, never a wrong schema.
    read = await _columns_of(db, [spec.name for spec in specs])
    # By folded name, updated as the DDL is planned: a spec given twice sees the
    # table that the first one creates or extends, as it would one by one.
    known = {spec.name.lower(): cols for spec, cols in zip(specs, read, strict=True)}
    ddl = []
    for spec in specs:
        table = quote(spec.name)
        have_columns = known[spec.name.lower()]
        if not have_columns:
            have_columns += [("_connection", 1), ("_tenant", 2), ("_synced_at", 0)]
            have_columns += [(c.name, 3 if c.name == spec.key else 0) for c in spec.columns]
            columns = ", ".join(
                f"{quote(c.name)} {_SQL_TYPES[c.type]}"
                + (" NOT NULL" if c.name == spec.key else "")
                for c in spec.columns
            )
            ddl.append(
                f'CREATE TABLE {table} ("_connection" TEXT NOT NULL, "_tenant" TEXT NOT NULL, '
                f'"_synced_at" REAL NOT NULL, {columns}, '
                f'PRIMARY KEY ("_connection", "_tenant", {quote(spec.key)})){_TABLE_OPTIONS}'
            )
            continue
        pk = [name for name, pos in sorted(have_columns, key=lambda c: c[1]) if pos]
        if [n.lower() for n in pk] != ["_connection", "_tenant", spec.key.lower()]:
            raise StoreError(
                f"table {spec.name!r} exists with primary key {pk}, "
                f"not (_connection, _tenant, {spec.key})"
            )
        have = {name.lower() for name, _ in have_columns}
        for c in spec.columns:
            if c.name.lower() not in have:
                have.add(c.name.lower())
                have_columns.append((c.name, 0))
                ddl.append(f"ALTER TABLE {table} ADD COLUMN {quote(c.name)} {_SQL_TYPES[c.type]}")
    if ddl:
        await db.executescript("BEGIN IMMEDIATE;\n" + ";\n".join(ddl) + ";\nCOMMIT;")


async def _columns_of(db: aiosqlite.Connection, tables: list[str]) -> list[list[tuple[str, int]]]:
    """:func:`_columns` of several tables, in one query per 100 tables."""
    found: list[list[tuple[str, int]]] = [[] for _ in tables]
    for at in range(0, len(tables), 100):
        chunk = tables[at : at + 100]
        sql = " UNION ALL ".join(
            f"SELECT {i}, cid, name, pk FROM pragma_table_info(?)" for i in range(len(chunk))
        )
        for i, _, name, pk in await _fetchall(db, sql + " ORDER BY 1, 2", chunk):
            found[at + i].append((name, pk))
    return found


async def _table_names(db: aiosqlite.Connection) -> list[str]:
    rows = await _fetchall(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'table' "
        "AND substr(name, 1, 1) != '_' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "ORDER BY name",
        (),
    )
    return [r[0] for r in rows]


async def _describe(db: aiosqlite.Connection, table: str) -> tuple[list[str], str]:
    columns = await _columns(db, table)
    pk = [name for pos, name in sorted((pos, name) for name, pos in columns if pos)]
    if len(pk) != 3 or pk[:2] != ["_connection", "_tenant"]:
        raise StoreError(f"no replica table {table!r}")
    return [name for name, _ in columns], pk[2]


async def _stream_statuses(db: aiosqlite.Connection) -> list[StreamStatus]:
    streams = await _fetchall(
        db,
        f"SELECT connection, tenant, resource, table_name, {_STATE_COLUMNS} "
        "FROM _streams ORDER BY connection, tenant, resource",
        (),
    )
    existing = set(await _table_names(db))
    # One grouped count per table, not one query per stream.
    counts: dict[tuple[str, str, str], int] = {}
    for name in {s[3] for s in streams} & existing:
        sql = f'SELECT "_connection", "_tenant", COUNT(*) FROM {quote(name)} GROUP BY 1, 2'
        for c, t, n in await _fetchall(db, sql, ()):
            counts[name, c, t] = n
    result = []
    for s in streams:
        state = StreamState(*s[4:])
        rows = counts.get((s[3], s[0], s[1]), 0) if s[3] in existing else state.records
        result.append(StreamStatus(StreamKey(s[0], s[1], s[2]), state, rows))
    return result
