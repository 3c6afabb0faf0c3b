"""Run counters and the frozen snapshot the CLI renders."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state of a run at one moment (a copy: safe to keep and render)."""

    elapsed: float
    connections: int
    connections_failed: int
    tenants_total: int
    tenants_done: int
    tenants_failed: int
    streams_total: int
    streams_done: int
    pages: int
    records: int
    records_committed: int
    requests: int
    in_flight: int
    waiting_on_limits: int
    rate_limited: int
    retries: int
    errors: int

    @property
    def records_per_second(self) -> float:
        return self.records_committed / self.elapsed if self.elapsed > 0 else 0.0


class RunStats:
    """Mutable counters, updated by the engine without locks (one event loop)."""

    __slots__ = ("connections", "connections_failed", "errors", "in_flight", "pages", "rate_limited",
                 "records", "records_committed", "requests", "retries", "started",
                 "streams_done", "streams_total", "tenants_done", "tenants_failed", "tenants_total")

    def __init__(self, started: float) -> None:
        self.started = started
        self.connections = 0
        self.connections_failed = 0
        self.tenants_total = 0
        self.tenants_done = 0
        self.tenants_failed = 0
        self.streams_total = 0
        self.streams_done = 0
        self.pages = 0
        self.records = 0
        self.records_committed = 0
        self.requests = 0
        self.in_flight = 0
        self.rate_limited = 0
        self.retries = 0
        self.errors = 0

    def snapshot(self, now: float, waiting_on_limits: int) -> Snapshot:
        return Snapshot(
            elapsed=max(0.0, now - self.started), connections=self.connections,
            connections_failed=self.connections_failed, tenants_total=self.tenants_total,
            tenants_done=self.tenants_done, tenants_failed=self.tenants_failed,
            streams_total=self.streams_total, streams_done=self.streams_done, pages=self.pages,
            records=self.records, records_committed=self.records_committed,
            requests=self.requests, in_flight=self.in_flight,
            waiting_on_limits=waiting_on_limits, rate_limited=self.rate_limited,
            retries=self.retries, errors=self.errors)
