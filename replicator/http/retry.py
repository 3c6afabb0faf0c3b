"""Backoff with full jitter (AWS architecture blog's "full jitter"): spreads the
retries of thousands of tenants hit by the same outage instead of synchronising them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delay before retry ``attempt`` (1-based): uniform in [0, min(cap, base * 2**attempt)].

    Attributes:
        base: seconds; the first retry waits up to ``2 * base``.
        cap: the longest wait.
        attempts: how many tries in all before the error is final.
    """

    base: float = 0.5
    cap: float = 30.0
    attempts: int = 6
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * (2 ** attempt))
        # Never retry immediately: at least a tenth of the ceiling.
        return float(ceiling * (0.1 + 0.9 * self.rng.random()))

    def exhausted(self, attempt: int) -> bool:
        return attempt >= self.attempts
