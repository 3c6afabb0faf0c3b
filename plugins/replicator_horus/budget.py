"""One request budget per licence, shared by all of its folders.

The engine keeps a budget per tenant, and a tenant here is a folder. But whatever
limits Horus has [?] can only be the licence's: each licence is its own customer
database behind its own API URL, and the folders are rows in it. A provider
instance serves exactly one connection, i.e. one licence, so its policy hands the
same :class:`~replicator.limits.TenantBudget` to every folder (and to discovery).
"""

from __future__ import annotations

from replicator.limits import LimitPolicy, TenantBudget, WindowSpec


class LicenceLimits(LimitPolicy):
    """A :class:`LimitPolicy` whose :meth:`budget` is the same object for every tenant.

    Args:
        calls: calls allowed per rolling ``period``.
        period: the window, in seconds.
        max_concurrency: calls in flight at once for the whole licence.
    """

    def __init__(self, calls: int, period: float, max_concurrency: int) -> None:
        # Rolling, because the real window's shape is unknown: N calls in any
        # ``period`` seconds also respects N per clock-aligned window.
        super().__init__(windows=(WindowSpec("licence", calls, period, kind="rolling"),),
                         max_concurrency=max_concurrency)
        # LimitPolicy is a frozen dataclass: the cache is set past its __setattr__.
        self._shared: TenantBudget | None
        object.__setattr__(self, "_shared", None)

    def budget(self, now: float) -> TenantBudget:
        if self._shared is None:
            object.__setattr__(self, "_shared", super().budget(now))
        assert self._shared is not None
        return self._shared

    def __repr__(self) -> str:
        return f"LicenceLimits({self.windows[0]!r}, max_concurrency={self.max_concurrency}, shared={self._shared!r})"
