"""Streams and tenant slots: the engine's per-tenant bookkeeping.

A :class:`TenantSlot` (after Scrapy's downloader slot) holds one tenant's budget
and its streams; a :class:`Stream` is one resource of that tenant, with the
request it will send next and the state it will commit with its next page.
Both are ``__slots__`` objects with no task of their own: an idle tenant is a few
hundred bytes.
"""

from __future__ import annotations

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
    """One resource of one tenant, paged in order."""

    __slots__ = (
        "_state",
        "attempts",
        "bound",
        "done",
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
        self.attempts = 0
        self.done = False
        self.resuming = False
        self.pending_max: Any = None
        self.started_at = 0.0

    @property
    def key(self) -> StreamKey:
        # Built on demand: thousands of idle streams should not each hold one.
        return StreamKey(self.slot.connection.name, self.slot.tenant.id, self.bound.name)

    def next_request(self) -> Request:
        """The request to send now (the first one of a pass is built only when due)."""
        if self.request is None:
            self.request = self.slot.connection.provider.first_request(
                self.slot.tenant, self.bound, self.cursor)
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

    def begin(self, now: float) -> None:
        """Prepare the first request of a pass (resuming a killed one if possible)."""
        resource = self.bound.resource
        ordered = resource.cursor is None or resource.cursor.ordered
        self.attempts = 0
        stored = self._state
        if not ordered and stored is not None and stored.resume_url and stored.pending:
            pending = orjson.loads(stored.pending)
            self.pending_max = pending.get("max")
            self.started_at = float(pending.get("started", now))
            self.request = Request.get(stored.resume_url)
            self.resuming = True
            return
        self.started_at = now
        self.pending_max = None
        self.resuming = False
        self.request = None  # built by next_request() when the stream is dispatched

    def restart(self, now: float) -> None:
        """Drop a stale stored resume point and start the pass from the cursor."""
        self.state.resume_url = None
        self.state.pending = None
        self.begin(now)

    def advance(self, records: list[Any], next_request: Request | None, now: float) -> StreamState:
        """Account for a decoded page; returns the state to commit with its rows."""
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
        ordered = cursor is None or cursor.ordered
        if cursor is not None and ordered and self.pending_max is not None:
            current = self.cursor
            if current is None or self.pending_max > current:
                state.cursor = orjson.dumps(self.pending_max).decode()
        if not ordered:
            if next_request is not None:
                state.resume_url = next_request.url
                state.pending = orjson.dumps({"max": self.pending_max,
                                              "started": self.started_at}).decode()
            else:
                state.resume_url = None
                state.pending = None
                if cursor is not None and self.pending_max is not None:
                    top = self.pending_max
                    if isinstance(top, str) and self.bound.rows.columns and _is_timestamp(self.bound, cursor.field):
                        top = min(top, iso_utc(self.started_at - LOOKBACK))
                    current = self.cursor
                    if current is None or top > current:
                        state.cursor = orjson.dumps(top).decode()
        state.records += len(records)
        if next_request is None:
            state.last_success = now
            state.last_error = None
        self.request = next_request
        self.attempts = 0
        self.resuming = False
        return replace(state)

    def __repr__(self) -> str:
        return f"Stream({self.key}, done={self.done}, attempts={self.attempts})"


def _is_timestamp(bound: BoundResource, field: str) -> bool:
    return any(c.name == field and c.type == "timestamp" for c in bound.rows.columns)
