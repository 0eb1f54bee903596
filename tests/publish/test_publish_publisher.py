"""Publisher.run, the loop `stig relay --publish` runs: it follows what another connection
stores (as the mesh node does) and drops a trace from the site when its life ends — without
waiting for the minute tick. Real store, real directory, the wall clock; bounded waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from stig.crdt import kinds
from stig.crdt.compose import compose
from stig.crypto.persona import Persona
from stig.publish.mirror import Mirror
from stig.publish.publisher import Publisher, Selection
from stig.publish.site import SiteOptions
from stig.store.sqlite import SqliteStore
from tests.publish.pages import atom_ids, trace_pages

ANA = Persona("ana", bytes([1]) * 32)


async def until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        await asyncio.sleep(0.1)


async def test_run_follows_arrivals_and_expiry(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    reader = await SqliteStore.open(path)
    writer = await SqliteStore.open(path)  # the node's own connection
    site = tmp_path / "site"
    stop = asyncio.Event()
    try:
        with Mirror(site) as mirror:
            publisher = Publisher(mirror, Selection(), SiteOptions())
            running = asyncio.create_task(publisher.run(reader, stop))
            await until((site / "index.html").exists, 30, "a first render")

            now = int(time.time())
            brief = compose(ANA, kinds.REPORT, "brief", now=now, ttl=3)
            lasting = compose(ANA, kinds.NOTE, "lasting", now=now)
            await writer.add([brief, lasting], now)
            await until(lambda: lasting.hex_id in trace_pages(site), 30, "the arrivals published")
            # On a loaded machine the first render may come after the brief one's end; then
            # it is simply never published. Either way it must be gone well before the
            # minute tick: the loop wakes when the next published trace fades.
            assert brief.hex_id in trace_pages(site) or time.time() >= brief.expires
            await until(lambda: trace_pages(site) == {lasting.hex_id}, 15, "the brief one gone")
            assert atom_ids((site / "feed.atom").read_bytes()) == {lasting.hex_id}
            stop.set()
            await asyncio.wait_for(running, 30)
    finally:
        stop.set()
        await reader.close()
        await writer.close()
