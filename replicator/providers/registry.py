"""Providers arrive through the ``replicator.providers`` entry-point group.

The built-in Exact Online plugin registers itself the same way as any third-party
one; the engine has no list of providers. A plugin that fails to import is
reported (with its error) and the others still load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

from replicator.errors import PluginError
from replicator.providers.base import Provider

GROUP = "replicator.providers"


@dataclass
class Registry:
    """The loaded providers by name, and the plugins that failed, with their errors."""

    providers: dict[str, type[Provider]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> type[Provider]:
        try:
            return self.providers[name]
        except KeyError:
            if name in self.failures:
                raise PluginError(f"provider {name!r} failed to load: {self.failures[name]}") from None
            valid = ", ".join(sorted(self.providers)) or "none installed"
            raise PluginError(f"unknown provider {name!r}; installed: {valid}") from None

    def add(self, cls: type[Provider]) -> None:
        self.providers[cls.name] = cls


def _load(ep: EntryPoint) -> type[Provider]:
    obj = ep.load()
    if not (isinstance(obj, type) and issubclass(obj, Provider)):
        raise PluginError(f"entry point {ep.name} = {ep.value} is not a Provider subclass")
    for attr in ("name", "default_base_url", "resources"):
        if not hasattr(obj, attr):
            raise PluginError(f"provider {ep.value} does not declare {attr!r}")
    return obj


def load_providers(group: str = GROUP) -> Registry:
    """Load every provider of the entry-point group, collecting failures."""
    registry = Registry()
    for ep in entry_points(group=group):
        try:
            registry.add(_load(ep))
        except Exception as exc:  # a broken plugin must not take the others down
            registry.failures[ep.name] = f"{type(exc).__name__}: {exc}"
    return registry
