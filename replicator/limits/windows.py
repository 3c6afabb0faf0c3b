"""Rate-limit windows: the shapes providers actually use.

Each window answers two questions for one tenant, in O(1) and without tasks:
"may I send now?" (:meth:`take`) and "if not, when?" (:meth:`free_at`). Windows
never sleep; the scheduler does, on one timer for all tenants.

- :class:`FixedWindow` - N calls per clock-aligned period (Exact: 60 per minute,
  5,000 per day from midnight in the company's time zone). It is calibrated by
  the provider's headers: the server's own count and reset time win over ours.
- :class:`RollingWindow` - N calls in any period (HaloPSA: 300 per rolling
  5 minutes, no headers at all).

Why not aiolimiter: its leaky bucket starts empty and admits about twice its rate
inside the first window, and it has no notion of a second window or of headers.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

# Our clock and the provider's disagree by up to this much; windows open this much
# later than the reset the server announced, so a skewed clock cannot make us send
# the 61st call of a minute that the server has not closed yet.
SKEW_GUARD = 0.5


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """A window as a provider declares it.

    Attributes:
        name: the name header observations refer to ("minutely", "daily").
        limit: calls allowed per window.
        period: window length in seconds.
        kind: "fixed" (clock-aligned) or "rolling" (any ``period`` seconds).
        tz: for fixed windows, the time zone whose wall clock aligns them
            (a daily window resets at local midnight); ``None`` means UTC.
    """

    name: str
    limit: int
    period: float
    kind: Literal["fixed", "rolling"] = "fixed"
    tz: str | None = None

    def build(self, now: float) -> FixedWindow | RollingWindow:
        if self.kind == "rolling":
            return RollingWindow(self.limit, self.period)
        return FixedWindow(self.limit, self.period, aligned_end(now, self.period, self.tz), self.tz)


def aligned_end(now: float, period: float, tz: str | None) -> float:
    """The end of the clock-aligned window of ``period`` seconds that holds ``now``.

    With ``tz``, windows align to that zone's wall clock (a daily window ends at
    local midnight, also on the days daylight saving time starts or ends).
    """
    if tz is None:
        return (math.floor(now / period) + 1) * period
    zone = ZoneInfo(tz)
    wall = datetime.fromtimestamp(now, zone).replace(tzinfo=None)
    wall_seconds = (wall - _EPOCH).total_seconds()
    end_wall = _EPOCH + timedelta(seconds=(math.floor(wall_seconds / period) + 1) * period)
    return end_wall.replace(tzinfo=zone).timestamp()


_EPOCH = datetime(1970, 1, 1)


class FixedWindow:
    """``limit`` calls per clock-aligned window ending at ``end``.

    Around the boundary our clock and the server's may disagree by up to
    :data:`SKEW_GUARD`: no call is sent in ``[end, end + guard)``, and calls sent
    in ``[end - guard, end)`` or still in flight when the window rolls are counted
    in the new window too, because the server may count them there.
    """

    __slots__ = ("end", "late", "late_open", "limit", "period", "tz", "used")

    def __init__(self, limit: int, period: float, end: float, tz: str | None = None) -> None:
        self.limit = limit
        self.period = period
        self.tz = tz
        self.end = end
        self.used = 0
        self.late = 0       # calls the server may count in the next window
        self.late_open = 0  # of those, sent in the guard and not answered yet

    def _roll(self, now: float, in_flight: int) -> None:
        if now >= self.end + SKEW_GUARD:
            skipped = math.floor((now - SKEW_GUARD - self.end) / self.period) + 1
            carried = in_flight + self.late if skipped == 1 else in_flight
            if self.tz is None:
                self.end += skipped * self.period  # keeps an offset learnt from headers
            else:
                # Local days are 23 or 25 hours long when daylight saving time changes.
                self.end = aligned_end(now - SKEW_GUARD, self.period, self.tz)
            self.used = carried
            self.late = 0
            self.late_open = 0  # still in flight, so counted in in_flight

    def free_at(self, now: float, in_flight: int) -> float:
        """0.0 when a call may go now, else the epoch second it may."""
        self._roll(now, in_flight)
        if now >= self.end or self.used >= self.limit:
            return self.end + SKEW_GUARD
        return 0.0

    def take(self, now: float) -> None:
        self.used += 1
        if now >= self.end - SKEW_GUARD:
            self.late += 1
            self.late_open += 1

    def release(self, now: float, sent_at: float | None) -> None:
        """A call was answered at ``now``: if that is past the end, the server may
        have counted it in the next window. Never under-counts: without ``sent_at``
        an answer is matched to a late call when one is open."""
        if sent_at is not None:
            if sent_at >= self.end - SKEW_GUARD:
                self.late_open = max(0, self.late_open - 1)  # counted when sent
            elif now >= self.end:
                self.late += 1
        elif self.late_open > 0:
            self.late_open -= 1
        elif now >= self.end:
            self.late += 1

    def observe(self, limit: int | None, remaining: int | None, reset_at: float | None,
                now: float, in_flight: int) -> None:
        """Adopt the server's view: its limit, its count and its reset time."""
        if limit is not None and limit > 0:
            self.limit = limit
        if reset_at is not None:
            if reset_at > self.end + 1.0 and reset_at > now:
                # The server is in a later window than we thought (skew, or our
                # first guess of the alignment was wrong): move to it.
                self.end = reset_at
                self.used = in_flight
            elif reset_at < self.end - 1.0:
                if reset_at > now:
                    self.end = reset_at  # our window ends later than the server's
                else:
                    return  # a stale answer from a window that is over
        if remaining is not None:
            # The server counted up to this call; ours still in flight come on top.
            self.used = max(self.used, self.limit - remaining + in_flight)

    def exhaust(self, reset_at: float | None) -> None:
        """A 429 said this window is spent (until ``reset_at`` if given)."""
        self.used = max(self.used, self.limit)
        if reset_at is not None and reset_at > self.end:
            self.end = reset_at

    def __repr__(self) -> str:
        return f"FixedWindow({self.used}/{self.limit}, period={self.period:g}, end={self.end:.3f})"


class RollingWindow:
    """``limit`` calls in any ``period`` seconds: a log of the last ``limit`` sends."""

    __slots__ = ("limit", "period", "sent")

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.sent: deque[float] = deque()

    def free_at(self, now: float, in_flight: int) -> float:
        sent = self.sent
        while sent and sent[0] + self.period <= now:
            sent.popleft()
        if len(sent) < self.limit:
            return 0.0
        return sent[0] + self.period + SKEW_GUARD

    def take_at(self, now: float) -> None:
        self.sent.append(now)

    def observe(self, limit: int | None, remaining: int | None, reset_at: float | None,
                now: float, in_flight: int) -> None:
        if limit is not None and limit > 0:
            self.limit = limit

    def exhaust(self, reset_at: float | None) -> None:
        # Without headers we cannot know when the server forgets; pretend the
        # window just filled up now.
        if self.sent:
            last = self.sent[-1]
            self.sent.extend([last] * max(0, self.limit - len(self.sent)))

    def __repr__(self) -> str:
        return f"RollingWindow({len(self.sent)}/{self.limit}, period={self.period:g})"
