"""Streams and tenant slots: the engine's per-tenant bookkeeping.

A :class:`TenantSlot` (after Scrapy's downloader slot) holds one tenant's budget
and its streams; a :class:`Stream` is one resource of that tenant, with the
request it will send next and the state it will commit with its next page.
Both are ``__slots__`` objects with no task of their own: an idle tenant is a few
hundred bytes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson

from replicator.decoding import iso_utc
from replicator.limits import TenantBudget
from replicator.providers import BoundResource, Tenant
from replicator.stores.base import StreamKey, StreamState
from replicator.types import Request

if TYPE_CHECKING:
    from replicator.engine.connection import ConnectionRuntime

# An unordered cursor (e.g. Modified) only advances to the start of the pass,
# minus this much for clock skew between us and the provider: a record changed
# during the pass, behind the pages already read, is picked up by the next one.
LOOKBACK = 300.0


class TenantSlot:
    """One tenant of one connection: its budget and its streams' progress."""

    __slots__ = ("budget", "connection", "error", "held", "remaining", "remaining_records", "tenant")

    def __init__(self, connection: ConnectionRuntime, tenant: Tenant, budget: TenantBudget) -> None:
        self.connection = connection
        self.tenant = tenant
        self.budget = budget
        self.held: list[Stream] = []        # deletion feeds, released when records are done
        self.remaining = 0                  # streams not finished
        self.remaining_records = 0          # non-deletion streams not finished
        self.error: str | None = None       # the first failure of one of its streams

    def __repr__(self) -> str:
        return (f"TenantSlot({self.connection.name}/{self.tenant.id}, remaining={self.remaining}, "
                f"error={self.error is not None}, {self.budget!r})")


class Stream:
    """One resource of one tenant: its pages in order, or fanned out once the
    first page tells how many there are."""

    __slots__ = (
        "_state",
        "attempts",
        "bound",
        "done",
        "error",
        "fanout",
        "full_pass",
        "outstanding",
        "pass_request",
        "pending_max",
        "request",
        "resuming",
        "slot",
        "started_at",
    )

    def __init__(self, slot: TenantSlot, bound: BoundResource, state: StreamState | None) -> None:
        self.slot = slot
        self.bound = bound
        self._state = state  # None until loaded or first page: idle streams stay small
        self.request: Request | None = None
        self.pass_request: Request | None = None  # the first request of the pass under way
        self.attempts = 0
        self.done = False
        self.resuming = False
        self.pending_max: Any = None
        self.started_at = 0.0
        self.fanout: deque[Request] | None = None  # fan-out pages not handed out yet
        self.outstanding = 0                       # fan-out pages not committed yet
        self.error: str | None = None              # first failure of a fan-out page
        self.full_pass = False                     # the pass started without a cursor

    @property
    def key(self) -> StreamKey:
        # Built on demand: thousands of idle streams should not each hold one.
        return StreamKey(self.slot.connection.name, self.slot.tenant.id, self.bound.name)

    def next_request(self) -> Request:
        """The request to send now (the first one of a pass is built only when due)."""
        if self.request is None:
            self.request = self.slot.connection.provider.first_request(
                self.slot.tenant, self.bound, self.cursor)
        if self.pass_request is None:
            self.pass_request = self.request
        return self.request

    # -- what the scheduler needs ------------------------------------------------

    @property
    def budget(self) -> TenantBudget:
        return self.slot.budget

    @property
    def ready(self) -> bool:
        return not self.slot.connection.dead

    # -- cursor bookkeeping ----------------------------------------------------------

    @property
    def state(self) -> StreamState:
        if self._state is None:
            self._state = StreamState()
        return self._state

    @property
    def cursor(self) -> Any:
        state = self._state
        return orjson.loads(state.cursor) if state is not None and state.cursor else None

    @property
    def ordered(self) -> bool:
        cursor = self.bound.resource.cursor
        return cursor is None or cursor.ordered

    def begin(self, now: float) -> None:
        """Prepare the first request of a pass (resuming a killed one if possible)."""
        self.attempts = 0
        self.fanout = None
        self.outstanding = 0
        self.error = None
        # Only a pass that read everything may conclude that what it missed is gone.
        self.full_pass = self.cursor is None
        stored = self._state
        if not self.ordered and stored is not None and stored.resume_url and stored.pending:
            pending = orjson.loads(stored.pending)
            self.pending_max = pending.get("max")
            self.started_at = float(pending.get("started", now))
            self.request = Request.decode(stored.resume_url)
            self.pass_request = Request.decode(pending["pass"]) if pending.get("pass") else None
            self.resuming = True
            return
        self.started_at = now
        self.pending_max = None
        self.resuming = False
        self.request = None  # built by next_request() when the stream is dispatched
        self.pass_request = None

    def restart(self, now: float) -> None:
        """Drop a stale stored resume point and start the pass from the cursor."""
        self.state.resume_url = None
        self.state.pending = None
        self.begin(now)

    def advance(self, records: Sequence[Any], next_request: Request | None, now: float, *,
                pass_done: bool | None = None) -> StreamState:
        """Account for a decoded page; returns the state to commit with its rows.

        ``pass_done`` defaults to "there is no next page"; fan-out pages say it
        themselves (the pass ends with the last of them, in any order).
        """
        done = next_request is None if pass_done is None else pass_done
        resource = self.bound.resource
        state = self.state
        cursor = resource.cursor
        if cursor is not None and records:
            field = cursor.field
            values = [v for v in (getattr(r, field, None) for r in records) if v is not None]
            if values:
                top = max(values)
                if self.pending_max is None or top > self.pending_max:
                    self.pending_max = top
        if cursor is not None and self.ordered and self.pending_max is not None:
            current = self.cursor
            if current is None or self.pending_max > current:
                state.cursor = orjson.dumps(self.pending_max).decode()
        if not self.ordered:
            if not done:
                # Resume from the next page, or (fan-out) redo the pass: upserts
                # make a page fetched twice harmless.
                resume = next_request or self.pass_request
                state.resume_url = resume.encode() if resume else None
                state.pending = orjson.dumps({
                    "max": self.pending_max, "started": self.started_at,
                    "pass": self.pass_request.encode() if self.pass_request else None}).decode()
            else:
                state.resume_url = None
                state.pending = None
                if cursor is not None and self.pending_max is not None:
                    top = self.pending_max
                    if isinstance(top, str) and _is_timestamp(self.bound, cursor.field):
                        top = min(top, iso_utc(self.started_at - LOOKBACK))
                    current = self.cursor
                    if current is None or top > current:
                        state.cursor = orjson.dumps(top).decode()
        state.records += len(records)
        if done:
            state.last_success = now
            state.last_error = None
        self.request = next_request
        self.attempts = 0
        self.resuming = False
        return replace(state)

    def __repr__(self) -> str:
        return (f"Stream({self.key}, done={self.done}, attempts={self.attempts}, "
                f"outstanding={self.outstanding})")


class FanoutPage:
    """One page of a fanned-out pass, scheduled on its own (its stream's budget)."""

    __slots__ = ("attempts", "request", "stream")

    def __init__(self, stream: Stream, request: Request) -> None:
        self.stream = stream
        self.request = request
        self.attempts = 0

    @property
    def budget(self) -> TenantBudget:
        return self.stream.slot.budget

    @property
    def ready(self) -> bool:
        return not self.stream.slot.connection.dead

    def __repr__(self) -> str:
        return f"FanoutPage({self.stream.key}, {self.request.url!r}, attempts={self.attempts})"


def _is_timestamp(bound: BoundResource, field: str) -> bool:
    return any(c.name == field and c.type == "timestamp" for c in bound.rows.columns)
