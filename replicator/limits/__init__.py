"""Per-tenant request budgets that model providers' real windows."""

from replicator.limits.budget import LimitPolicy, Observation, TenantBudget
from replicator.limits.windows import FixedWindow, RollingWindow, WindowSpec

__all__ = ["FixedWindow", "LimitPolicy", "Observation", "RollingWindow", "TenantBudget", "WindowSpec"]
