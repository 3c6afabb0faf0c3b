"""Conformance harnesses of the built-in providers, found by module: each module
here defines ``HARNESS``, a zero-argument factory of a
:class:`replicator.testing.conformance.Harness`."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from replicator.testing.conformance import Harness

HARNESSES: dict[str, Callable[[], Harness]] = {}
for _info in pkgutil.iter_modules(__path__):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    _factory: Callable[[], Harness] = _module.HARNESS
    HARNESSES[_factory().provider] = _factory
