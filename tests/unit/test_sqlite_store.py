"""The replica store contract, run against SQLiteStore and MemoryStore alike.

Running the same cases on both keeps the fake faithful to the real store; the
cases that only make sense for a file (reopening, the schema on disk, file mode,
chunked export, open_store) follow at the end.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from replicator.errors import ConfigError, StoreError
from replicator.stores import (
    Column,
    Credentials,
    PageWrite,
    SQLiteStore,
    StreamKey,
    StreamState,
    TableSpec,
    open_store,
)
from replicator.stores import sqlite as sqlite_module
from replicator.testing.clock import VirtualClock
from replicator.testing.memory_store import MemoryStore

START = 1_767_603_600.0

ACCOUNTS = TableSpec(
    name="exact__accounts",
    columns=(Column("ID", "text"), Column("Name", "text"), Column("Balance", "real")),
    key="ID",
)
ACCOUNTS_V2 = TableSpec(
    name=ACCOUNTS.name,
    columns=(*ACCOUNTS.columns, Column("Blocked", "boolean"), Column("Modified", "timestamp")),
    key="ID",
)
LINES = TableSpec(
    name="exact__lines",
    columns=(Column("ID", "integer"), Column("Account", "text"), Column("Data", "json")),
    key="ID",
)

A1 = StreamKey("exact", "1001", "accounts")
A2 = StreamKey("exact", "1002", "accounts")
L1 = StreamKey("exact", "1001", "lines")
OTHER = StreamKey("other", "1001", "accounts")


def page(stream: StreamKey, table: TableSpec, rows: list[tuple[Any, ...]], **kw: Any) -> PageWrite:
    deletes = kw.pop("deletes", {})
    return PageWrite(stream, table, rows, StreamState(**kw), deletes)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START, autojump=False)


@pytest_asyncio.fixture(params=["sqlite", "memory"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: VirtualClock
) -> AsyncIterator[SQLiteStore | MemoryStore]:
    s: SQLiteStore | MemoryStore
    if request.param == "sqlite":
        s = SQLiteStore(tmp_path / "replica.db", clock=clock)
    else:
        s = MemoryStore(clock=clock)
    await s.open()
    await s.prepare([ACCOUNTS, LINES])
    try:
        yield s
    finally:
        await s.close()


async def export(store: SQLiteStore | MemoryStore, table: str, **kw: Any) -> list[dict[str, Any]]:
    return [row async for row in store.export(table, **kw)]


# -- the contract, on both stores --------------------------------------------


async def test_write_then_export_with_metadata(store: SQLiteStore | MemoryStore) -> None:
    await store.write([page(A1, ACCOUNTS, [("a", "Acme", 1.5), ("b", "Bolt", None)])])
    assert await export(store, ACCOUNTS.name) == [
        {"_connection": "exact", "_tenant": "1001", "_synced_at": START, "ID": "a",
         "Name": "Acme", "Balance": 1.5},
        {"_connection": "exact", "_tenant": "1001", "_synced_at": START, "ID": "b",
         "Name": "Bolt", "Balance": None},
    ]  # fmt: skip


async def test_upsert_overwrites_and_stamps_synced_at(
    store: SQLiteStore | MemoryStore, clock: VirtualClock
) -> None:
    await store.write([page(A1, ACCOUNTS, [("a", "Acme", 1.0), ("b", "Bolt", 2.0)])])
    clock.advance(60)
    await store.write([page(A1, ACCOUNTS, [("a", "Acme Corp", 3.0)])])
    rows = {r["ID"]: r for r in await export(store, ACCOUNTS.name)}
    assert (rows["a"]["Name"], rows["a"]["Balance"], rows["a"]["_synced_at"]) == (
        "Acme Corp", 3.0, START + 60,
    )  # fmt: skip
    assert rows["b"]["_synced_at"] == START
    assert await store.count(ACCOUNTS.name) == 2


async def test_same_key_in_two_tenants_is_two_rows(store: SQLiteStore | MemoryStore) -> None:
    await store.write(
        [page(A1, ACCOUNTS, [("a", "One", 1.0)]), page(A2, ACCOUNTS, [("a", "Two", 2.0)])]
    )
    assert await store.count(ACCOUNTS.name) == 2
    assert await store.count(ACCOUNTS.name, connection="exact", tenant="1002") == 1


async def test_deletes_apply_to_the_pages_tenant_only(store: SQLiteStore | MemoryStore) -> None:
    await store.write(
        [
            page(A1, ACCOUNTS, [("a", "x", 0.0), ("b", "y", 0.0)]),
            page(A2, ACCOUNTS, [("a", "z", 0.0)]),
        ]
    )
    await store.write([page(A1, LINES, [], deletes={ACCOUNTS.name: ["a", "missing"]})])
    assert [(r["_tenant"], r["ID"]) for r in await export(store, ACCOUNTS.name)] == [
        ("1001", "b"),
        ("1002", "a"),
    ]


async def test_pages_keep_their_order_around_deletes(store: SQLiteStore | MemoryStore) -> None:
    # Page 2 deletes what page 1 wrote, page 3 writes it again: the key survives.
    await store.write(
        [
            page(A1, ACCOUNTS, [("a", "first", 0.0)]),
            page(A1, ACCOUNTS, [("b", "other", 0.0)], deletes={ACCOUNTS.name: ["a"]}),
            page(A1, ACCOUNTS, [("a", "again", 0.0)]),
        ]
    )
    assert {r["ID"]: r["Name"] for r in await export(store, ACCOUNTS.name)} == {
        "a": "again",
        "b": "other",
    }


async def test_extra_rows_go_to_their_own_table_for_the_pages_tenant(
        store: SQLiteStore | MemoryStore) -> None:
    # Sideloaded records (Horus "Included") land in their table, deduplicated by key.
    lines = [(1, "a", None), (2, "b", None)]
    await store.write([PageWrite(A1, ACCOUNTS, [("a", "Acme", 1.0)], StreamState(),
                                 extra=[(LINES, lines)]),
                       PageWrite(A1, ACCOUNTS, [], StreamState(), extra=[(LINES, [(2, "b2", None)])])])
    rows = await export(store, LINES.name)
    assert [(r["_tenant"], r["ID"], r["Account"]) for r in rows] == [("1001", 1, "a"), ("1001", 2, "b2")]


async def test_a_sweep_removes_what_the_pass_did_not_write(
        store: SQLiteStore | MemoryStore, clock: VirtualClock) -> None:
    await store.write([page(A1, ACCOUNTS, [("a", "A", 1.0), ("b", "B", 2.0), ("c", "C", 3.0)]),
                       page(A2, ACCOUNTS, [("a", "other tenant", 1.0)])])
    clock.advance(60)
    started = clock.time()
    clock.advance(1)
    # The next full pass sees a and c again; b vanished at the source.
    await store.write([page(A1, ACCOUNTS, [("a", "A", 1.0)])])
    await store.write([PageWrite(A1, ACCOUNTS, [("c", "C", 3.0)], StreamState(), sweep_before=started)])
    rows = await export(store, ACCOUNTS.name)
    assert [(r["_tenant"], r["ID"]) for r in rows] == [("1001", "a"), ("1001", "c"), ("1002", "a")]


async def test_states_round_trip_per_connection(store: SQLiteStore | MemoryStore) -> None:
    await store.write(
        [
            page(A1, ACCOUNTS, [("a", "x", 0.0)], cursor='"2026-01-01"', records=1),
            page(L1, LINES, [(1, "a", "{}")], pending="7", resume_url="https://x/next", records=5,
                 last_success=START - 10, last_error="boom"),
            page(OTHER, ACCOUNTS, [("a", "x", 0.0)], cursor='"other"'),
            page(A1, ACCOUNTS, [("b", "y", 0.0)], cursor='"2026-01-02"', records=2),
        ]
    )  # fmt: skip
    assert await store.load_states("exact") == {
        ("1001", "accounts"): StreamState(cursor='"2026-01-02"', records=2),
        ("1001", "lines"): StreamState(
            pending="7", resume_url="https://x/next", records=5, last_success=START - 10,
            last_error="boom",
        ),
    }  # fmt: skip
    assert await store.load_states("nobody") == {}


async def test_state_snapshot_is_taken_at_write(store: SQLiteStore | MemoryStore) -> None:
    state = StreamState(cursor="1")
    await store.write([PageWrite(A1, ACCOUNTS, [], state)])
    state.cursor = "2"  # the engine mutates its own object afterwards
    assert (await store.load_states("exact"))["1001", "accounts"].cursor == "1"


async def test_failed_write_keeps_neither_rows_nor_states(store: SQLiteStore | MemoryStore) -> None:
    await store.write([page(A1, ACCOUNTS, [("a", "kept", 0.0)], cursor="1")])
    with pytest.raises(StoreError):
        await store.write(
            [
                page(A1, ACCOUNTS, [("a", "changed", 1.0), ("b", "new", 1.0)], cursor="2"),
                page(L1, LINES, [(1, "a")], cursor="9"),  # one value short
            ]
        )
    assert [(r["ID"], r["Name"]) for r in await export(store, ACCOUNTS.name)] == [("a", "kept")]
    assert await store.count(LINES.name) == 0
    assert await store.load_states("exact") == {("1001", "accounts"): StreamState(cursor="1")}
    # The store is still usable after the failure.
    await store.write([page(A1, ACCOUNTS, [("b", "new", 1.0)], cursor="2")])
    assert await store.count(ACCOUNTS.name) == 2


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(
            lambda: page(A1, ACCOUNTS_V2, [("a", "x", 0.0, 1, None)]), id="unprepared-spec"
        ),
        pytest.param(lambda: page(A1, ACCOUNTS, [], deletes={"nope": ["a"]}), id="unknown-delete"),
        pytest.param(lambda: page(A1, ACCOUNTS, [("a", "x", {"no": "dicts"})]), id="unbindable"),
    ],
)
async def test_write_refuses_what_sqlite_would(store: SQLiteStore | MemoryStore, bad: Any) -> None:
    with pytest.raises(StoreError):
        await store.write([page(A1, ACCOUNTS, [("z", "z", 0.0)]), bad()])
    assert await store.count(ACCOUNTS.name) == 0


async def test_credentials_round_trip(store: SQLiteStore | MemoryStore) -> None:
    assert await store.load_credentials("exact") is None
    creds = Credentials("rt-1", "at-1", START + 600, START, "fp")
    await store.save_credentials("exact", creds)
    await store.set_connection_status("exact", "exact_online", "ok", None)  # keeps tokens
    assert await store.load_credentials("exact") == creds
    await store.save_credentials("exact", Credentials("rt-2", seed_fingerprint="fp"))
    assert await store.load_credentials("exact") == Credentials("rt-2", seed_fingerprint="fp")


async def test_connection_statuses(store: SQLiteStore | MemoryStore, clock: VirtualClock) -> None:
    await store.save_credentials("b", Credentials("rt"))  # credentials alone: no status
    await store.set_connection_status("z", "exact_online", "ok", None)
    clock.advance(5)
    await store.set_connection_status("a", "exact_online", "needs_reauth", "revoked")
    statuses = await store.connection_statuses()
    assert [(s.connection, s.state, s.message, s.updated_at) for s in statuses] == [
        ("a", "needs_reauth", "revoked", START + 5),
        ("z", "ok", None, START),
    ]


async def test_stream_statuses_count_rows(store: SQLiteStore | MemoryStore) -> None:
    await store.save_tenants("exact", [("1001", "Acme"), ("1002", "Bolt")])
    await store.write(
        [
            page(A1, ACCOUNTS, [("a", "x", 0.0), ("b", "y", 0.0)], records=7),
            page(A2, ACCOUNTS, [("c", "x", 0.0)], records=1),
        ]
    )
    statuses = await store.stream_statuses()
    assert [(str(s.stream), s.rows, s.state.records) for s in statuses] == [
        ("exact/1001/accounts", 2, 7),
        ("exact/1002/accounts", 1, 1),
    ]


async def test_export_order_and_filters(store: SQLiteStore | MemoryStore) -> None:
    await store.write(
        [
            page(A2, ACCOUNTS, [("b", "", 0.0), ("a", "", 0.0)]),
            page(OTHER, ACCOUNTS, [("c", "", 0.0)]),
            page(A1, ACCOUNTS, [("z", "", 0.0), ("m", "", 0.0)]),
        ]
    )

    async def keys(**kw: Any) -> list[tuple[str, str, str]]:
        return [
            (r["_connection"], r["_tenant"], r["ID"])
            for r in await export(store, ACCOUNTS.name, **kw)
        ]

    assert await keys() == [
        ("exact", "1001", "m"), ("exact", "1001", "z"), ("exact", "1002", "a"),
        ("exact", "1002", "b"), ("other", "1001", "c"),
    ]  # fmt: skip
    assert await keys(connection="exact") == (await keys())[:4]
    assert await keys(connection="exact", tenant="1002") == [
        ("exact", "1002", "a"),
        ("exact", "1002", "b"),
    ]
    assert await keys(tenant="1001") == [
        ("exact", "1001", "m"),
        ("exact", "1001", "z"),
        ("other", "1001", "c"),
    ]
    assert await keys(connection="nobody") == []


async def test_export_orders_integer_keys_numerically(store: SQLiteStore | MemoryStore) -> None:
    await store.write([page(L1, LINES, [(10, "a", None), (9, "a", None), (100, "a", None)])])
    assert [r["ID"] for r in await export(store, LINES.name)] == [9, 10, 100]


@pytest.mark.parametrize("name", ["_streams", "_connections", "sqlite_master", "nope", 'a"b'])
async def test_export_refuses_bookkeeping_and_unknown_tables(
    store: SQLiteStore | MemoryStore, name: str
) -> None:
    with pytest.raises(StoreError):
        await export(store, name)


async def test_reprepare_adds_columns(store: SQLiteStore | MemoryStore) -> None:
    await store.write([page(A1, ACCOUNTS, [("a", "old", 1.0)])])
    await store.prepare([ACCOUNTS_V2])
    await store.prepare([ACCOUNTS_V2])  # idempotent
    await store.write([page(A1, ACCOUNTS_V2, [("b", "new", 2.0, 1, "2026-01-05T09:00:00.000Z")])])
    rows = {r["ID"]: r for r in await export(store, ACCOUNTS.name)}
    assert (rows["a"]["Blocked"], rows["a"]["Modified"]) == (None, None)
    assert (rows["b"]["Blocked"], rows["b"]["Modified"]) == (1, "2026-01-05T09:00:00.000Z")
    with pytest.raises(StoreError):  # the old spec is no longer the prepared one
        await store.write([page(A1, ACCOUNTS, [("c", "x", 0.0)])])


async def test_reprepare_with_another_key_is_refused(store: SQLiteStore | MemoryStore) -> None:
    with pytest.raises(StoreError, match="key"):
        await store.prepare([TableSpec(ACCOUNTS.name, ACCOUNTS.columns, key="Name")])


@pytest.mark.parametrize(
    "spec",
    [
        TableSpec('bad"name', (Column("ID", "text"),), "ID"),
        TableSpec("bad\0name", (Column("ID", "text"),), "ID"),
        TableSpec("_streams", (Column("ID", "text"),), "ID"),
        TableSpec("sqlite_x", (Column("ID", "text"),), "ID"),
        TableSpec("t", (Column("ID", "text"), Column('x"); DROP TABLE t; --', "text")), "ID"),
        TableSpec("t", (Column("ID", "text"), Column("id", "text")), "ID"),
        TableSpec("t", (Column("ID", "text"), Column("_tenant", "text")), "ID"),
        TableSpec("t", (Column("ID", "text"),), "Missing"),
        TableSpec("t", (Column("ID", "uuid"),), "ID"),  # type: ignore[arg-type]
    ],
)
async def test_prepare_refuses_bad_identifiers(
    store: SQLiteStore | MemoryStore, spec: TableSpec
) -> None:
    with pytest.raises(StoreError):
        await store.prepare([spec])
    assert await store.table_names() == [ACCOUNTS.name, LINES.name]


async def test_closed_store_refuses_calls(store: SQLiteStore | MemoryStore) -> None:
    await store.close()
    with pytest.raises(StoreError, match="not open"):
        await store.load_states("exact")
    await store.close()  # idempotent
    await store.open()  # and the fixture's close still works


# -- SQLite only ---------------------------------------------------------------


async def test_reopening_the_file_keeps_everything(tmp_path: Path, clock: VirtualClock) -> None:
    path = tmp_path / "replica.db"
    first = SQLiteStore(path, clock=clock)
    await first.open()
    await first.open()  # idempotent
    await first.prepare([ACCOUNTS])
    await first.write([page(A1, ACCOUNTS, [("a", "x", 1.0)], cursor="5")])
    await first.save_credentials("exact", Credentials("rt", "at", 1.0, 2.0, "fp"))
    await first.close()

    second = SQLiteStore(str(path), clock=clock)
    await second.open()
    try:
        await second.prepare([ACCOUNTS])
        assert await second.table_names() == [ACCOUNTS.name]
        assert await second.count(ACCOUNTS.name) == 1
        assert await second.load_states("exact") == {("1001", "accounts"): StreamState("5")}
        assert await second.load_credentials("exact") == Credentials("rt", "at", 1.0, 2.0, "fp")
        await second.write([page(A1, ACCOUNTS, [("b", "y", 1.0)])])
        assert await second.count(ACCOUNTS.name) == 2
    finally:
        await second.close()


async def test_schema_on_disk(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "r.db")
    await store.open()
    await store.prepare([ACCOUNTS_V2, LINES])
    await store.close()
    with sqlite3.connect(tmp_path / "r.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        info = {
            r[1]: (r[2], r[3], r[5]) for r in db.execute(f'PRAGMA table_info("{ACCOUNTS.name}")')
        }
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    assert info == {
        "_connection": ("TEXT", 1, 1), "_tenant": ("TEXT", 1, 2), "_synced_at": ("REAL", 1, 0),
        "ID": ("TEXT", 1, 3), "Name": ("TEXT", 0, 0), "Balance": ("REAL", 0, 0),
        "Blocked": ("INTEGER", 0, 0), "Modified": ("TEXT", 0, 0),
    }  # fmt: skip
    assert {"_streams", "_connections", "_tenants"} <= tables
    if os.name == "posix":  # the file holds refresh tokens
        assert stat.S_IMODE(os.stat(tmp_path / "r.db").st_mode) == 0o600


async def test_export_reads_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_module, "_EXPORT_CHUNK", 3)
    store = SQLiteStore(tmp_path / "r.db")
    await store.open()
    try:
        await store.prepare([ACCOUNTS])
        rows = [(f"k{i:02d}", "", 0.0) for i in range(10)]
        await store.write([page(A1, ACCOUNTS, rows[:7]), page(A2, ACCOUNTS, rows[:5])])
        for kw, expected in [({}, 12), ({"connection": "exact"}, 12), ({"tenant": "1002"}, 5),
                             ({"connection": "exact", "tenant": "1001"}, 7)]:  # fmt: skip
            got = [(r["_tenant"], r["ID"]) for r in await export(store, ACCOUNTS.name, **kw)]
            assert got == sorted(got) and len(got) == expected, kw
    finally:
        await store.close()


async def test_stream_status_falls_back_to_records(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "r.db")
    await store.open()
    try:
        await store.prepare([ACCOUNTS])
        await store.write([page(A1, ACCOUNTS, [("a", "", 0.0)], records=42)])
        db = sqlite3.connect(tmp_path / "r.db")
        db.execute(f'DROP TABLE "{ACCOUNTS.name}"')
        db.close()
        [status] = await store.stream_statuses()
        assert status.rows == 42
    finally:
        await store.close()


async def test_concurrent_calls_never_share_a_transaction(tmp_path: Path) -> None:
    # Each call is one job on the connection: two writes never meet inside one
    # BEGIN, and an autocommit save never lands in (or waits on) a write's.
    store = SQLiteStore(tmp_path / "r.db")
    await store.open()
    try:
        await store.prepare([ACCOUNTS])
        writes = [
            store.write([page(StreamKey("exact", str(t), "accounts"), ACCOUNTS,
                              [(f"k{i}", "", 0.0) for i in range(50)], cursor=str(t))])
            for t in range(20)
        ]  # fmt: skip
        bad = store.write([page(A1, ACCOUNTS, [("x", "", {"no": "dicts"})], cursor="bad")])
        others = [
            store.save_credentials("exact", Credentials("rt")),
            store.set_connection_status("exact", "exact_online", "ok", None),
            store.load_states("exact"),
        ]
        results = await asyncio.gather(*writes[:10], bad, *others, *writes[10:],
                                       return_exceptions=True)  # fmt: skip
        assert [type(r) for r in results if isinstance(r, BaseException)] == [StoreError]
        assert await store.count(ACCOUNTS.name) == 20 * 50
        states = await store.load_states("exact")
        assert {t: s.cursor for (t, _), s in states.items()} == {str(t): str(t) for t in range(20)}
        assert await store.load_credentials("exact") == Credentials("rt")
    finally:
        await store.close()


async def test_a_started_write_commits_whole_even_if_its_caller_is_cancelled(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "r.db")
    await store.open()
    try:
        await store.prepare([ACCOUNTS])
        rows = [(f"k{i:05d}", "x" * 50, 1.0) for i in range(20_000)]
        started = asyncio.create_task(store.write([page(A1, ACCOUNTS, rows, cursor="1")]))
        waiting = asyncio.create_task(store.write([page(A2, ACCOUNTS, rows, cursor="2")]))
        await asyncio.sleep(0)  # the first holds the connection, the second waits for it
        started.cancel()
        waiting.cancel()
        for task in (started, waiting):
            with pytest.raises(asyncio.CancelledError):
                await task
        # The first batch commits whole, rows with state; the second never began.
        assert await store.count(ACCOUNTS.name) == len(rows)
        assert await store.load_states("exact") == {("1001", "accounts"): StreamState("1")}
        await store.write([page(A2, ACCOUNTS, rows[:1], cursor="3")])  # still usable
        assert await store.count(ACCOUNTS.name) == len(rows) + 1
    finally:
        await store.close()


async def test_close_waits_for_the_running_write(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "r.db")
    await store.open()
    await store.prepare([ACCOUNTS])
    rows = [(f"k{i:05d}", "", 0.0) for i in range(20_000)]
    writing = asyncio.create_task(store.write([page(A1, ACCOUNTS, rows, cursor="1")]))
    await asyncio.sleep(0)
    await store.close()
    await writing
    with pytest.raises(StoreError, match="not open"):
        await store.count(ACCOUNTS.name)
    with sqlite3.connect(tmp_path / "r.db") as db:
        assert db.execute(f'SELECT COUNT(*) FROM "{ACCOUNTS.name}"').fetchone() == (len(rows),)
    db.close()


async def test_prepare_twice_in_one_call_and_case_folded(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "r.db")
    await store.open()
    try:
        await store.prepare([ACCOUNTS, ACCOUNTS_V2, LINES])
        await store.prepare([TableSpec(ACCOUNTS.name.upper(), ACCOUNTS.columns, key="ID")])
        assert await store.table_names() == [ACCOUNTS.name, LINES.name]
        with pytest.raises(StoreError, match="key"):  # nothing of this call is kept
            await store.prepare([TableSpec("fresh", ACCOUNTS.columns, key="ID"),
                                 TableSpec(LINES.name, LINES.columns, key="Account")])  # fmt: skip
        assert await store.table_names() == [ACCOUNTS.name, LINES.name]
    finally:
        await store.close()


async def test_open_fails_as_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open"):
        await SQLiteStore(tmp_path / "missing-dir" / "r.db").open()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("replica.db", "replica.db"),
        ("sqlite:///replica.db", "replica.db"),
        ("sqlite:////var/lib/r.db", "/var/lib/r.db"),
        ("sqlite://", ":memory:"),
    ],
)
def test_open_store_picks_sqlite(url: str, path: str) -> None:
    store = open_store(url)
    assert isinstance(store, SQLiteStore) and store._path == path


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://h/db", "mysql://h/db", ""])
def test_open_store_refuses_the_rest(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url)
