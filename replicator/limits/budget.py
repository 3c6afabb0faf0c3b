"""A tenant's request budget: every window the provider imposes, plus concurrency.

One :class:`TenantBudget` per tenant, a few hundred bytes, no task, no timer. The
scheduler asks :meth:`TenantBudget.acquire` before it sends; the answer is either
"go" (0.0, and the call is counted in every window) or the epoch second at which
to ask again. Responses feed :meth:`observe` (headers) and :meth:`release`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from replicator.limits.windows import FixedWindow, RollingWindow, WindowSpec

# With every slot of a concurrency cap busy we cannot know when one frees up;
# the scheduler looks again after this long (release() also wakes it early).
CONCURRENCY_RETRY = 0.05


@dataclass(frozen=True, slots=True)
class Observation:
    """What one response said about one window (any field may be unknown)."""

    window: str
    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    """The limits a provider imposes per tenant.

    Attributes:
        windows: the call windows (all must have room for a call to go).
        max_concurrency: calls in flight at once per tenant (``None``: no cap).
    """

    windows: tuple[WindowSpec, ...] = ()
    max_concurrency: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def budget(self, now: float) -> TenantBudget:
        return TenantBudget(tuple(w.build(now) for w in self.windows), self.max_concurrency,
                            names=tuple(w.name for w in self.windows))


class TenantBudget:
    """All the windows of one tenant, checked together."""

    __slots__ = ("blocked_until", "in_flight", "max_concurrency", "names", "windows")

    def __init__(self, windows: Sequence[FixedWindow | RollingWindow],
                 max_concurrency: int | None = None, names: Sequence[str] | None = None) -> None:
        self.windows = tuple(windows)
        self.names: tuple[str, ...] = tuple(names) if names else ("",) * len(self.windows)
        self.max_concurrency = max_concurrency
        self.in_flight = 0
        self.blocked_until = 0.0

    def acquire(self, now: float) -> float:
        """Take one call if every window has room: 0.0, else when to ask again."""
        if now < self.blocked_until:
            return self.blocked_until
        if self.max_concurrency is not None and self.in_flight >= self.max_concurrency:
            return now + CONCURRENCY_RETRY
        latest = 0.0
        for window in self.windows:
            free = window.free_at(now, self.in_flight)
            if free > latest:
                latest = free
        if latest:
            return latest
        for window in self.windows:
            if isinstance(window, RollingWindow):
                window.take_at(now)
            else:
                window.take(now)
        self.in_flight += 1
        return 0.0

    def release(self, now: float | None = None, sent_at: float | None = None) -> None:
        """The call is answered (or failed): it no longer counts as in flight.

        Given ``now``, a call answered after a window's end may have been counted by
        the server in the next window, and is carried into it (unless it was sent
        within the skew guard of the end, which already counted it so).
        """
        self.in_flight -= 1
        if now is None:
            return
        for window in self.windows:
            if isinstance(window, FixedWindow):
                window.release(now, sent_at)

    def observe(self, observations: Sequence[Observation], now: float) -> None:
        """Calibrate the windows from what a response's headers said."""
        for obs in observations:
            for name, window in zip(self.names, self.windows, strict=True):
                if name == obs.window:
                    window.observe(obs.limit, obs.remaining, obs.reset_at, now, self.in_flight)

    def rate_limited(self, observations: Sequence[Observation], now: float,
                     retry_at: float | None = None) -> float:
        """A 429: mark the windows it names as spent; returns when to try again."""
        named = {obs.window: obs for obs in observations}
        for name, window in zip(self.names, self.windows, strict=True):
            obs = named.get(name)
            if obs is not None:
                window.exhaust(obs.reset_at)
        if retry_at is None:
            retry_at = max((o.reset_at for o in observations if o.reset_at), default=now + 60.0)
        self.blocked_until = max(self.blocked_until, retry_at)
        return self.blocked_until

    def __repr__(self) -> str:
        return (f"TenantBudget(in_flight={self.in_flight}, blocked_until={self.blocked_until:.3f}, "
                f"windows={list(self.windows)!r})")
