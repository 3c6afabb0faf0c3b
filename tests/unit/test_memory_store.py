"""What only the MemoryStore has: failure injection, row assertions, copies.

The store contract itself runs against both stores in ``test_sqlite_store.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from replicator.errors import StoreError
from replicator.stores import (
    Column,
    Credentials,
    PageWrite,
    Store,
    StreamKey,
    StreamState,
    TableSpec,
)
from replicator.testing.clock import VirtualClock
from replicator.testing.memory_store import MemoryStore

START = 1_767_603_600.0
TABLE = TableSpec("t", (Column("ID", "text"), Column("N", "integer")), "ID")
S1 = StreamKey("c", "1", "r")


def write(rows: list[tuple[Any, ...]], cursor: str | None = None) -> list[PageWrite]:
    return [PageWrite(S1, TABLE, rows, StreamState(cursor=cursor))]


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START, autojump=False)


@pytest_asyncio.fixture
async def store(clock: VirtualClock) -> AsyncIterator[MemoryStore]:
    s = MemoryStore(clock=clock)
    await s.open()
    await s.prepare([TABLE])
    yield s
    await s.close()


def test_is_a_store() -> None:
    store: Store = MemoryStore()  # mypy checks the protocol here
    assert "closed" in repr(store)


async def test_fail_next_write_fails_n_writes_and_applies_nothing(store: MemoryStore) -> None:
    store.fail_next_write = 2
    for _ in range(2):
        with pytest.raises(StoreError, match="injected"):
            await store.write(write([("a", 1)], cursor="1"))
    assert store.rows("t") == {}
    assert await store.load_states("c") == {}
    assert store.writes == 0
    await store.write(write([("a", 1)], cursor="1"))
    assert (store.writes, store.fail_next_write) == (1, 0)
    assert await store.load_states("c") == {("1", "r"): StreamState(cursor="1")}


async def test_rows_are_keyed_copies_with_metadata(store: MemoryStore) -> None:
    await store.write(write([("a", 1)]))
    rows = store.rows("t")
    assert rows == {("c", "1", "a"): {"_connection": "c", "_tenant": "1", "_synced_at": START,
                                      "ID": "a", "N": 1}}  # fmt: skip
    rows["c", "1", "a"]["N"] = 99
    assert store.rows("t")["c", "1", "a"]["N"] == 1
    with pytest.raises(StoreError):
        store.rows("unknown")


@pytest.mark.parametrize(
    "row",
    [("a", 2**63), ("a", [1]), ["a", 1], ("a",), (None, 1)],
    ids=["int64-overflow", "list-value", "list-row", "short-row", "null-key"],
)
async def test_refuses_rows_sqlite_would_refuse(store: MemoryStore, row: Any) -> None:
    with pytest.raises(StoreError, match="'t'"):
        await store.write([*write([("ok", 1)]), *write([row])])
    assert store.rows("t") == {}


async def test_accepts_what_sqlite_binds(store: MemoryStore) -> None:
    await store.write(write([("a", True), ("b", -(2**63)), ("c", None), ("d", 1.5), ("e", b"x")]))
    assert len(store.rows("t")) == 5


async def test_saved_and_loaded_objects_are_copies(store: MemoryStore) -> None:
    creds = Credentials("rt")
    await store.save_credentials("c", creds)
    creds.refresh_token = "mutated"
    loaded = await store.load_credentials("c")
    assert loaded == Credentials("rt")
    assert loaded is not None
    loaded.refresh_token = "again"
    assert await store.load_credentials("c") == Credentials("rt")

    await store.write(write([], cursor="1"))
    (await store.load_states("c"))["1", "r"].cursor = "mutated"
    assert (await store.load_states("c"))["1", "r"].cursor == "1"


async def test_tenants_keep_their_first_discovery(store: MemoryStore, clock: VirtualClock) -> None:
    await store.save_tenants("c", [("1", "Acme")])
    clock.advance(10)
    await store.save_tenants("c", [("1", "Acme B.V."), ("2", "Bolt")])
    assert store.tenants("c") == {"1": "Acme B.V.", "2": "Bolt"}
    assert store._tenants["c"]["1"][1] == START


async def test_closed_store_keeps_data_for_assertions(store: MemoryStore) -> None:
    await store.write(write([("a", 1)]))
    await store.close()
    assert len(store.rows("t")) == 1
    with pytest.raises(StoreError, match="not open"):
        await store.write(write([("b", 1)]))
    await store.open()
    assert await store.count("t") == 1
    assert "writes=1" in repr(store)
