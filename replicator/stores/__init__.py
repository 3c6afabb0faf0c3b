"""Replica stores: the :class:`Store` contract and its implementations.

:func:`open_store` picks one from a URL or a path::

    open_store("replica.db")                 # SQLite file
    open_store("sqlite:///replica.db")       # same, relative path
    open_store("sqlite:////var/lib/r.db")    # absolute path
    open_store("postgresql://...")           # ConfigError until PostgreSQL lands
"""

from __future__ import annotations

from replicator.clock import Clock
from replicator.errors import ConfigError
from replicator.stores.base import (
    METADATA_COLUMNS,
    Column,
    ColumnType,
    ConnectionState,
    ConnectionStatus,
    Credentials,
    PageWrite,
    Store,
    StreamKey,
    StreamState,
    StreamStatus,
    TableSpec,
)
from replicator.stores.sqlite import SQLiteStore

__all__ = [
    "METADATA_COLUMNS",
    "Column",
    "ColumnType",
    "ConnectionState",
    "ConnectionStatus",
    "Credentials",
    "PageWrite",
    "SQLiteStore",
    "Store",
    "StreamKey",
    "StreamState",
    "StreamStatus",
    "TableSpec",
    "open_store",
]


def open_store(url_or_path: str, clock: Clock | None = None) -> Store:
    """Build (not open) the store that ``url_or_path`` names.

    Args:
        url_or_path: ``sqlite:///<path>`` (SQLAlchemy style: a fourth slash makes
            the path absolute; ``sqlite://`` alone is an in-memory database) or a
            plain file path.
        clock: the clock the store reads for its timestamps.

    Raises:
        ConfigError: an empty value, PostgreSQL (not available yet) or an unknown scheme.
    """
    if not url_or_path:
        raise ConfigError("store: expected a SQLite path or a sqlite:/// URL, got ''")
    scheme, sep, rest = url_or_path.partition("://")
    if not sep:
        return SQLiteStore(url_or_path, clock=clock)
    scheme = scheme.lower()
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        return SQLiteStore(path or ":memory:", clock=clock)
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        raise ConfigError(
            "store: PostgreSQL is not available yet (a later release adds it); "
            "use a SQLite path or a sqlite:/// URL"
        )
    raise ConfigError(
        f"store: unknown scheme {scheme!r}; expected a SQLite path or a sqlite:/// URL"
    )
