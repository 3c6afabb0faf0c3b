"""Test kit, public for plugin authors: virtual clock, fake servers, fake store.

- :class:`VirtualClock`: time that jumps when the loop is idle.
- :class:`FakeExactServer`, :class:`FakeHorusServer`, :class:`FakeHaloServer`,
  :class:`FakeHorisenServer`, :class:`FakeAccounteerServer`: look-alikes of each
  provider on 127.0.0.1, built on :mod:`replicator.testing.fakebase`.
- :class:`MemoryStore`: an in-memory :class:`~replicator.stores.base.Store`.

The pytest plugin (``replicator.testing.pytest_plugin``, registered through the
``pytest11`` entry point) provides the ``virtual_clock`` fixture.
"""

from __future__ import annotations

from typing import Any

from replicator.testing.clock import VirtualClock

__all__ = ["FakeAccounteerServer", "FakeExactServer", "FakeHaloServer", "FakeHorisenServer",
           "FakeHorusServer", "MemoryStore", "VirtualClock"]

_LAZY = {
    "FakeExactServer": "replicator.testing.fake_exact",
    "FakeHorusServer": "replicator.testing.fake_horus",
    "FakeHaloServer": "replicator.testing.fake_halo",
    "FakeHorisenServer": "replicator.testing.fake_horisen",
    "FakeAccounteerServer": "replicator.testing.fake_accounteer",
    "MemoryStore": "replicator.testing.memory_store",
}


def __getattr__(name: str) -> Any:
    # Lazy: importing the clock must not start importing aiohttp.web.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(module), name)
