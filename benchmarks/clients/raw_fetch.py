"""The machine's limit for fetch + gunzip + decode: no framework, no store.

    python -m benchmarks.clients.raw_fetch --spec SPEC.json

A hand-tight aiohttp + msgspec loop over the same pages the engine reads (the
peers' SPEC: ``base_url``, ``access_token``, ``divisions``, ``path``,
``select``): one shared session, ``concurrency`` divisions at a time, pages of a
division in order, each decoded into a typed Struct with the dates left as the
wire's text. What the engine adds on top of this (date conversion, rows,
cursors, the store) is its cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from replicator.decoding import WireRecord
from replicator_exact.records import TransactionLine

# The engine's own wire type: its dates left as the wire's text (WireRecord), since
# converting them to ISO UTC is engine work, not part of this limit.
Line = WireRecord(TransactionLine).type


class Results(msgspec.Struct):
    results: list[Line]  # type: ignore[valid-type]
    next: str | None = msgspec.field(default=None, name="__next")


class Envelope(msgspec.Struct):
    d: Results


DECODER = msgspec.json.Decoder(Envelope)


async def _division(session: aiohttp.ClientSession, url: str | None, params: dict[str, str] | None) -> int:
    records = 0
    while url is not None:
        async with session.get(url, params=params) as reply:
            reply.raise_for_status()
            body = await reply.read()
        page = DECODER.decode(body).d
        records += len(page.results)
        url, params = page.next, None
    return records


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {spec['access_token']}", "Accept": "application/json",
               "Accept-Encoding": "gzip"}
    params = {"$select": spec["select"], "$filter": "Timestamp gt 1L"}
    concurrency = int(spec.get("concurrency", 32))
    queue = list(spec["divisions"])
    total = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal total
        while queue:
            division = queue.pop()
            # Awaited first: "total += await ..." would read total before the await.
            records = await _division(session, f"{spec['base_url']}/api/v1/{division}/{spec['path']}", params)
            total += records

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(worker(session))
        seconds = time.perf_counter() - started
    return {"records": total, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    spec = json.loads(Path(parser.parse_args().spec).read_text())
    print(json.dumps(asyncio.run(run(spec))))


if __name__ == "__main__":
    main()
