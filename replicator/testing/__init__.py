"""Test kit, public for plugin authors: virtual clock, fake servers, fake store.

- :class:`VirtualClock`: time that jumps when the loop is idle.
- :class:`FakeExactServer`: an Exact Online look-alike on 127.0.0.1.
- :class:`MemoryStore`: an in-memory :class:`~replicator.stores.base.Store`.

The pytest plugin (``replicator.testing.pytest_plugin``, registered through the
``pytest11`` entry point) provides the ``virtual_clock`` fixture.
"""

from __future__ import annotations

from typing import Any

from replicator.testing.clock import VirtualClock

__all__ = ["FakeExactServer", "MemoryStore", "VirtualClock"]


def __getattr__(name: str) -> Any:
    # Lazy: importing the clock must not start importing aiohttp.web.
    if name == "FakeExactServer":
        from replicator.testing.fake_exact import FakeExactServer

        return FakeExactServer
    if name == "MemoryStore":
        from replicator.testing.memory_store import MemoryStore

        return MemoryStore
    raise AttributeError(name)
