"""The writer: one task that turns finished pages into store transactions.

Pages of many streams are grouped (up to ``max_pages`` or ``max_rows``) into one
:meth:`Store.write`, which commits their rows and their streams' cursors
together: PERFORMANCE.md measured ~35k records/s committing every 1000-record
page and ~90k committing every 20. The queue is bounded, so a slow store slows
the fetchers instead of filling memory. Pages are committed in the order they
were produced, which keeps every stream's cursor monotonic and lets a deletion
page of a tenant commit after that tenant's record pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from replicator.errors import ReplicatorError, StoreError
from replicator.stores.base import PageWrite, Store

_CLOSE = object()
# Rows per transaction at most: 156k rows/s at 10,000 (PERFORMANCE.md), and one
# batch queued plus one committing stay near 25 MB of rows.
MAX_ROWS = 10_000


class Writer:
    """Batches :class:`PageWrite` s into store transactions."""

    __slots__ = ("_on_commit", "_queue", "_store", "_taken", "commits", "failure", "max_pages", "max_rows",
                 "queued_rows")

    def __init__(self, store: Store, *, max_pages: int = 20, max_rows: int = MAX_ROWS,
                 queue_size: int = 64,
                 on_commit: Callable[[list[PageWrite]], None] | None = None) -> None:
        self._store = store
        self._queue: asyncio.Queue[object] = asyncio.Queue(queue_size)
        self._taken = asyncio.Event()  # set whenever run() takes pages off the queue
        self._on_commit = on_commit
        self.max_pages = max_pages
        self.max_rows = max_rows
        # Rows queued and not yet taken by run(). The queue is bounded in pages
        # *and* in rows: 64 pages of 1000 records, decoded, would be ~100 MB
        # waiting for a store that is slower than the network.
        self.queued_rows = 0
        self.commits = 0
        self.failure: ReplicatorError | None = None

    async def put(self, page: PageWrite) -> None:
        """Queue ``page`` (waits while the queue is full).

        Raises:
            StoreError: the writer already failed; nothing more will be committed.
        """
        if self.failure is not None:
            raise StoreError(f"replica store failed earlier: {self.failure.message}")
        await self.room()
        self.put_nowait(page)

    async def room(self) -> None:
        """Wait until :meth:`put_nowait` can queue a page.

        Raises:
            StoreError: the writer already failed.
        """
        # Full at its page limit or at max_rows queued rows (a whole batch, ready
        # for when the current one commits). Waiting here, not in Queue.put(),
        # lets the caller build the page's state right before it is queued.
        while self._queue.full() or self.queued_rows >= self.max_rows:
            self._taken.clear()
            await self._taken.wait()
        if self.failure is not None:
            raise StoreError(f"replica store failed earlier: {self.failure.message}")

    def put_nowait(self, page: PageWrite) -> None:
        self._queue.put_nowait(page)
        self.queued_rows += len(page.rows)

    async def close(self) -> None:
        """Commit what is queued, then stop :meth:`run`."""
        await self._queue.put(_CLOSE)

    async def run(self) -> None:
        queue = self._queue
        closing = False
        while not closing:
            item = await queue.get()
            if item is _CLOSE:
                self._taken.set()
                return
            assert isinstance(item, PageWrite)
            batch = [item]
            rows = len(item.rows)
            while len(batch) < self.max_pages and rows < self.max_rows:
                try:
                    more = queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if more is _CLOSE:
                    closing = True
                    break
                assert isinstance(more, PageWrite)
                batch.append(more)
                rows += len(more.rows)
            self.queued_rows -= rows
            self._taken.set()
            if self.failure is not None:
                continue  # keep draining so producers blocked on put() are released
            try:
                await self._store.write(batch)
            except ReplicatorError as exc:
                self.failure = exc
                continue
            except Exception as exc:  # a store bug must not hang the run
                self.failure = StoreError(f"store write failed: {type(exc).__name__}: {exc}")
                continue
            self.commits += 1
            if self._on_commit is not None:
                self._on_commit(batch)

    def __repr__(self) -> str:
        return (f"Writer(queued={self._queue.qsize()}, commits={self.commits}, "
                f"failed={self.failure is not None})")
