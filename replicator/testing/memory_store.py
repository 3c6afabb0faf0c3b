"""An in-memory :class:`~replicator.stores.base.Store`: the fake store of engine tests.

It keeps the semantics of :class:`~replicator.stores.sqlite.SQLiteStore` where a
test could tell the difference: tables must be prepared, identifiers are checked
the same way, a write applies all of its pages or none, values must be what
SQLite can bind (``None``, ``int`` within 64 bits, ``float``, ``str``, ``bytes``),
and export yields rows in primary-key order with SQLite's ordering of types.
On top, tests get :meth:`MemoryStore.rows` for assertions and
:attr:`MemoryStore.fail_next_write` to make the next writes fail.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any

from replicator.clock import Clock, SystemClock
from replicator.errors import StoreError, Where
from replicator.stores.base import (
    METADATA_COLUMNS,
    ConnectionState,
    ConnectionStatus,
    Credentials,
    PageWrite,
    StreamKey,
    StreamState,
    StreamStatus,
    TableSpec,
)
from replicator.stores.sqlite import check_table_name, check_table_spec

RowKey = tuple[str, str, Any]
"""``(connection, tenant, key)``: the primary key of a replica row."""

_INT64 = range(-(2**63), 2**63)


def _bindable(value: Any) -> bool:
    if value is None or isinstance(value, float | str | bytes):
        return True
    return isinstance(value, int) and value in _INT64


def _order(key: RowKey) -> tuple[Any, ...]:
    # SQLite orders NULL < numbers < text < blobs; Python would refuse to compare.
    value = key[2]
    rank = 1 if isinstance(value, int | float) else 2 if isinstance(value, str) else 3
    return (key[0], key[1], rank, value)


class MemoryStore:
    """A store in dicts, for unit tests.

    Args:
        clock: where ``_synced_at`` and status timestamps come from.

    Attributes:
        fail_next_write: the next this-many :meth:`write` calls raise
            :class:`StoreError` and apply nothing.
        writes: committed :meth:`write` calls so far.
    """

    __slots__ = (
        "_clock",
        "_columns",
        "_connections",
        "_credentials",
        "_data",
        "_open",
        "_specs",
        "_streams",
        "_tenants",
        "fail_next_write",
        "writes",
    )

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or SystemClock()
        self._open = False
        self._specs: dict[str, TableSpec] = {}
        # Every column a table ever had, like SQLite, which never drops one.
        self._columns: dict[str, list[str]] = {}
        self._data: dict[str, dict[RowKey, dict[str, Any]]] = {}
        self._streams: dict[StreamKey, tuple[str, StreamState]] = {}
        self._credentials: dict[str, Credentials] = {}
        self._connections: dict[str, ConnectionStatus] = {}
        self._tenants: dict[str, dict[str, tuple[str, float]]] = {}
        self.fail_next_write = 0
        self.writes = 0

    def __repr__(self) -> str:
        rows = sum(len(t) for t in self._data.values())
        return (
            f"MemoryStore({'open' if self._open else 'closed'}, {len(self._data)} tables, "
            f"{rows} rows, {len(self._streams)} streams, writes={self.writes}, "
            f"fail_next_write={self.fail_next_write})"
        )

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError("store is not open")

    def _table(self, name: str) -> dict[RowKey, dict[str, Any]]:
        check_table_name(name)
        if name not in self._data:
            raise StoreError(f"no replica table {name!r}")
        return self._data[name]

    # -- lifecycle and schema --------------------------------------------------

    async def open(self) -> None:
        """Mark the store open; idempotent."""
        self._open = True

    async def close(self) -> None:
        """Mark the store closed; the data stays, as in a file."""
        self._open = False

    async def prepare(self, tables: Sequence[TableSpec]) -> None:
        """Create the tables, or add the columns an existing table lacks."""
        self._check_open()
        for spec in tables:
            check_table_spec(spec)
            old = self._specs.get(spec.name)
            if old is not None and old.key != spec.key:
                raise StoreError(
                    f"table {spec.name!r} exists with key {old.key!r}, not {spec.key!r}"
                )
        for spec in tables:
            columns = self._columns.setdefault(spec.name, list(METADATA_COLUMNS))
            columns.extend(n for n in spec.column_names if n not in columns)
            self._specs[spec.name] = spec
            self._data.setdefault(spec.name, {})

    # -- the hot path --------------------------------------------------------

    async def write(self, pages: Sequence[PageWrite]) -> None:
        """Apply every page (rows, deletes, state) or, on any error, nothing."""
        self._check_open()
        if self.fail_next_write > 0:
            self.fail_next_write -= 1
            raise StoreError("injected write failure (MemoryStore.fail_next_write)")
        synced_at = self._clock.time()
        # Check and stage everything first, in page order (a later page may
        # re-insert a key an earlier one deleted); applying cannot fail.
        ops: list[tuple[str, RowKey, dict[str, Any] | None]] = []  # None: delete
        sweeps: list[tuple[str, tuple[str, str], float]] = []
        for page in pages:
            ops.extend(self._stage_rows(page, page.table, page.rows, synced_at))
            for table_spec, extra_rows in page.extra:
                ops.extend(self._stage_rows(page, table_spec, extra_rows, synced_at))
            for table, keys in page.deletes.items():
                if table not in self._specs:
                    raise StoreError(f"delete from unprepared table {table!r}", _where(page))
                tenant = (page.stream.connection, page.stream.tenant)
                ops.extend((table, (*tenant, k), None) for k in keys)
            if page.sweep_before is not None:
                sweeps.append((page.table.name, (page.stream.connection, page.stream.tenant),
                               page.sweep_before))
        states = [(p.stream, p.table.name, dataclasses.replace(p.state)) for p in pages]
        for table, key, record in ops:
            rows = self._data[table]
            if record is None:
                rows.pop(key, None)
            elif key in rows:
                rows[key].update(record)  # columns of older specs keep their values
            else:
                rows[key] = record
        for table, tenant, before in sweeps:
            rows = self._data[table]
            for key in [k for k, r in rows.items() if k[:2] == tenant and r["_synced_at"] < before]:
                del rows[key]
        for stream, table, state in states:
            self._streams[stream] = (table, state)
        self.writes += 1

    def _stage_rows(
        self, page: PageWrite, table: TableSpec, rows: Sequence[tuple[Any, ...]], synced_at: float
    ) -> list[tuple[str, RowKey, dict[str, Any] | None]]:
        spec = self._specs.get(table.name)
        if spec is None or spec != table:
            raise StoreError(
                f"table {table.name!r} is not prepared with these columns", _where(page)
            )
        names = spec.column_names
        at = names.index(spec.key)
        connection, tenant = page.stream.connection, page.stream.tenant
        staged: list[tuple[str, RowKey, dict[str, Any] | None]] = []
        for row in rows:
            if not isinstance(row, tuple) or len(row) != len(names):
                raise StoreError(
                    f"table {spec.name!r}: a row of {len(row)} values, expected {len(names)}",
                    _where(page),
                )
            for name, value in zip(names, row, strict=True):
                if not _bindable(value):
                    raise StoreError(
                        f"table {spec.name!r}: column {name!r} got a {type(value).__name__}, "
                        "which SQLite cannot store",
                        _where(page),
                    )
            if row[at] is None:
                raise StoreError(f"table {spec.name!r}: key {spec.key!r} is NULL", _where(page))
            record = {"_connection": connection, "_tenant": tenant, "_synced_at": synced_at}
            record.update(zip(names, row, strict=True))
            staged.append((spec.name, (connection, tenant, row[at]), record))
        return staged

    # -- state and credentials -------------------------------------------------

    async def load_states(self, connection: str) -> dict[tuple[str, str], StreamState]:
        """The committed state of every stream of ``connection``, by (tenant, resource)."""
        self._check_open()
        return {
            (key.tenant, key.resource): dataclasses.replace(state)
            for key, (_, state) in self._streams.items()
            if key.connection == connection
        }

    async def load_credentials(self, connection: str) -> Credentials | None:
        """A copy of the stored grant of ``connection``, or ``None``."""
        self._check_open()
        stored = self._credentials.get(connection)
        return dataclasses.replace(stored) if stored else None

    async def save_credentials(self, connection: str, credentials: Credentials) -> None:
        """Keep a copy of ``credentials`` (a later mutation by the caller is not saved)."""
        self._check_open()
        self._credentials[connection] = dataclasses.replace(credentials)

    async def save_tenants(self, connection: str, tenants: Sequence[tuple[str, str]]) -> None:
        """Remember tenants; the first discovery time of a known tenant is kept."""
        self._check_open()
        known = self._tenants.setdefault(connection, {})
        now = self._clock.time()
        for tenant, name in tenants:
            known[tenant] = (name, known[tenant][1] if tenant in known else now)

    def tenants(self, connection: str) -> dict[str, str]:
        """The saved tenants of ``connection``: id -> name (for assertions)."""
        return {t: name for t, (name, _) in self._tenants.get(connection, {}).items()}

    async def set_connection_status(
        self, connection: str, provider: str, state: ConnectionState, message: str | None
    ) -> None:
        """Record how ``connection`` last fared."""
        self._check_open()
        self._connections[connection] = ConnectionStatus(
            connection, provider, state, message, self._clock.time()
        )

    async def connection_statuses(self) -> list[ConnectionStatus]:
        """Every connection that has a status, by name."""
        self._check_open()
        return [dataclasses.replace(self._connections[c]) for c in sorted(self._connections)]

    async def stream_statuses(self) -> list[StreamStatus]:
        """Every stream with its state and its row count (``records`` if no table)."""
        self._check_open()
        counts: dict[tuple[str, str, str], int] = {}
        for table, rows in self._data.items():
            for connection, tenant, _ in rows:
                counts[table, connection, tenant] = counts.get((table, connection, tenant), 0) + 1
        result = []
        for key in sorted(self._streams, key=lambda k: (k.connection, k.tenant, k.resource)):
            table, state = self._streams[key]
            count = (
                counts.get((table, key.connection, key.tenant), 0)
                if table in self._data
                else state.records
            )
            result.append(StreamStatus(key, dataclasses.replace(state), count))
        return result

    # -- reading replica tables ------------------------------------------------

    def rows(self, table: str) -> dict[RowKey, dict[str, Any]]:
        """Copies of the rows of ``table`` by ``(connection, tenant, key)``, metadata
        columns included (for assertions; works while closed)."""
        return {key: dict(row) for key, row in self._table(table).items()}

    async def table_names(self) -> list[str]:
        """The prepared replica tables, sorted."""
        self._check_open()
        return sorted(self._data)

    async def count(
        self, table: str, *, connection: str | None = None, tenant: str | None = None
    ) -> int:
        """The number of rows of ``table``, optionally of one connection and tenant."""
        self._check_open()
        return sum(
            1
            for c, t, _ in self._table(table)
            if (connection is None or c == connection) and (tenant is None or t == tenant)
        )

    async def export(
        self, table: str, *, connection: str | None = None, tenant: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield copies of the rows of ``table`` in primary-key order, every column
        the table ever had included (``None`` where a row has no value)."""
        self._check_open()
        rows = self._table(table)
        columns = self._columns[table]
        keys = [
            k
            for k in rows
            if (connection is None or k[0] == connection) and (tenant is None or k[1] == tenant)
        ]
        for key in sorted(keys, key=_order):
            row = rows.get(key)
            if row is not None:  # deleted by a write while the export paused
                yield {name: row.get(name) for name in columns}


def _where(page: PageWrite) -> Where:
    stream = page.stream
    return Where(connection=stream.connection, tenant=stream.tenant, resource=stream.resource)
