"""The replica store contract: what the engine needs from a place to keep records.

A store keeps, per provider resource, a table with one real column per record
field plus the tenant metadata, and beside it the state of every stream (its
cursor) and of every connection (its rotated OAuth tokens). The one rule that
makes crash safety possible: :meth:`Store.write` commits the rows of a batch of
pages *and* those streams' new states in one transaction.

Implementations: :class:`replicator.stores.sqlite.SQLiteStore` (the embedded
default) and :class:`replicator.testing.MemoryStore` (the fake for unit tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

ColumnType = Literal["text", "integer", "real", "boolean", "timestamp", "json"]
"""Logical column types; each store maps them to its own SQL types."""

METADATA_COLUMNS = ("_connection", "_tenant", "_synced_at")
"""Columns every replica table has before the record's own: the connection name,
the tenant id and the epoch second the row was last written."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColumnType


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One replica table: ``(_connection, _tenant, key)`` is its primary key."""

    name: str
    columns: tuple[Column, ...]
    key: str

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


@dataclass(frozen=True, slots=True)
class StreamKey:
    """One stream: the records of one resource of one tenant of one connection."""

    connection: str
    tenant: str
    resource: str

    def __str__(self) -> str:
        return f"{self.connection}/{self.tenant}/{self.resource}"


@dataclass(slots=True)
class StreamState:
    """What a stream needs to resume, committed with its rows.

    Attributes:
        cursor: JSON text of the incremental high-water mark that is fully
            replicated (every record with a cursor value up to it is stored).
        pending: JSON text of the highest cursor value seen in the pass under way,
            for resources whose pages are not ordered by the cursor.
        resume_url: the next page of the pass under way, for resources whose pages
            are not ordered by the cursor; ``None`` when no pass is under way.
        records: records written by this stream, all passes together.
        last_success: epoch second of the end of the last complete pass.
        last_error: the message of the last failure, cleared by a complete pass.
    """

    cursor: str | None = None
    pending: str | None = None
    resume_url: str | None = None
    records: int = 0
    last_success: float | None = None
    last_error: str | None = None


@dataclass(slots=True)
class PageWrite:
    """The outcome of one page: rows to upsert, keys to delete, the stream's new state.

    Attributes:
        rows: tuples in the order of ``table.columns`` (no metadata columns).
        deletes: table name -> keys to remove for this stream's tenant.
        extra: sideloaded rows for other tables (``(table, rows)``), upserted for the
            stream's tenant like ``rows`` (Horus's ``Included`` companies, daybooks...).
        sweep_before: after a complete full scan, remove this tenant's rows of
            ``table`` last written before this epoch second: the source no longer
            has them.
    """

    stream: StreamKey
    table: TableSpec
    rows: Sequence[tuple[Any, ...]]
    state: StreamState
    deletes: dict[str, list[str]] = field(default_factory=dict)
    extra: Sequence[tuple[TableSpec, Sequence[tuple[Any, ...]]]] = ()
    sweep_before: float | None = None


@dataclass(slots=True)
class Credentials:
    """The durable half of an OAuth grant, as the token manager last saw it.

    ``seed_fingerprint`` is a hash of the refresh token the configuration gave; when
    the configuration later gives a different one, a person re-authorised and the
    configured token wins over the stored (rotated) one.
    """

    refresh_token: str | None
    access_token: str | None = None
    access_expires_at: float = 0.0
    refreshed_at: float = 0.0
    seed_fingerprint: str = ""


ConnectionState = Literal["ok", "needs_reauth", "error"]


@dataclass(slots=True)
class ConnectionStatus:
    connection: str
    provider: str
    state: ConnectionState
    message: str | None
    updated_at: float


@dataclass(slots=True)
class StreamStatus:
    stream: StreamKey
    state: StreamState
    rows: int


class Store(Protocol):
    """The seam between the engine and a replica store."""

    async def open(self) -> None:
        """Connect and create the bookkeeping tables."""
        ...

    async def close(self) -> None: ...

    async def prepare(self, tables: Sequence[TableSpec]) -> None:
        """Create the replica tables, adding columns that a newer record type has."""
        ...

    async def write(self, pages: Sequence[PageWrite]) -> None:
        """Upsert rows, apply deletes and save stream states, all in ONE transaction."""
        ...

    async def load_states(self, connection: str) -> dict[tuple[str, str], StreamState]:
        """The committed state of every stream of ``connection``, by (tenant, resource)."""
        ...

    async def load_credentials(self, connection: str) -> Credentials | None: ...

    async def save_credentials(self, connection: str, credentials: Credentials) -> None:
        """Persist durably (committed) before returning: a rotated refresh token that
        is lost kills the connection."""
        ...

    async def save_tenants(self, connection: str, tenants: Sequence[tuple[str, str]]) -> None:
        """Remember the (id, name) of the tenants discovered for ``connection``."""
        ...

    async def set_connection_status(
        self, connection: str, provider: str, state: ConnectionState, message: str | None
    ) -> None: ...

    async def connection_statuses(self) -> list[ConnectionStatus]: ...

    async def stream_statuses(self) -> list[StreamStatus]: ...

    def export(
        self, table: str, *, connection: str | None = None, tenant: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield the rows of ``table`` as dicts (metadata columns included)."""
        ...
