"""Fixtures shared by the fake servers' own tests: a virtual clock and a plain
aiohttp client (the fakes are tested as a client would see them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest_asyncio
from multidict import CIMultiDict

from replicator.testing.clock import VirtualClock


@pytest_asyncio.fixture
async def clock() -> AsyncIterator[VirtualClock]:
    c = VirtualClock()
    try:
        yield c
    finally:
        await c.aclose()


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


class Answer:
    """A response read whole: status, headers, body."""

    def __init__(self, status: int, headers: CIMultiDict[str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return orjson.loads(self.body)


async def fetch(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Answer:
    async with session.request(method, url, **kwargs) as resp:
        return Answer(resp.status, CIMultiDict(resp.headers), await resp.read())
