"""pytest fixtures for replicator and its plugins (loaded through ``pytest11``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from replicator.testing.clock import VirtualClock


@pytest_asyncio.fixture
async def virtual_clock() -> AsyncIterator[VirtualClock]:
    """A :class:`VirtualClock` that autojumps; its driver is stopped at teardown."""
    clock = VirtualClock()
    try:
        yield clock
    finally:
        await clock.aclose()
