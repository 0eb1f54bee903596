"""Noticing watched traces (stig.node.notices, stig.node.watch_list)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from stig.crdt import kinds
from stig.crdt.views import Mutes
from stig.filter_words import parse_filter
from stig.node import watch_list
from stig.node.notices import Notice, follow, noticed
from stig.node.watch_list import Watch
from stig.store.memory import MemoryStore
from tests.crdt.strategies import ANA, BEN, CY, T0, post


def watch(text: str) -> Watch:
    return Watch(text, parse_filter(text, lambda _: None))


def test_a_trace_is_noticed_when_it_matches_every_word_of_a_watch() -> None:
    urgent = post(BEN, kinds.CALLOUT, 0, tags=("housing",), place="u09t", body="URGENT")
    elsewhere = post(BEN, kinds.CALLOUT, 0, tags=("housing",), place="gcpv")
    a_note = post(BEN, kinds.NOTE, 0, tags=("housing",), place="u09t")
    an_echo = post(CY, kinds.ECHO, 0, refs=(urgent,), tags=("housing",))
    watches = [watch("#housing @u09 kind:callout"), watch("#j20")]
    found = noticed([urgent, elsewhere, a_note, an_echo], watches, Mutes(), own=())
    assert [(t, [w.text for w in m]) for t, m in found] == [
        (urgent, ["#housing @u09 kind:callout"])
    ]
    # A watch that names no kind takes every kind but the meta kinds (as the feed does).
    assert [t for t, _ in noticed([a_note, an_echo], [watch("#housing")], Mutes(), ())] == [a_note]


def test_muted_authors_and_own_posts_are_never_noticed() -> None:
    mine = post(ANA, kinds.CALLOUT, 0, tags=("housing",))
    theirs = post(BEN, kinds.CALLOUT, 0, tags=("housing",))
    watches = [watch("#housing")]
    assert noticed([mine, theirs], watches, Mutes(), own={ANA.public_key}) == [(theirs, watches)]
    muted = Mutes(authors=frozenset({BEN.public_key}))
    assert noticed([theirs], watches, muted, own=()) == []


def test_the_watch_file_keeps_texts_and_skips_one_that_no_longer_reads(tmp_path: Path) -> None:
    path = tmp_path / "watches.json"
    assert watch_list.load(path) == []
    watch_list.save(path, ["#housing", "by:gone"])
    assert watch_list.load(path) == ["#housing", "by:gone"]
    assert [w.text for w in watch_list.watches(path, lambda _: None)] == ["#housing"]


async def test_follow_announces_what_arrives_after_it_starts() -> None:
    store = MemoryStore()
    before = post(BEN, kinds.CALLOUT, 0, tags=("housing",), body="before")
    await store.add([before], T0)
    stop = asyncio.Event()
    heard: list[str] = []

    async def no_mutes() -> Mutes:
        return Mutes()

    def announce(notice: Notice) -> None:
        heard.append(notice.trace.body)
        stop.set()

    task = asyncio.create_task(
        follow(store, lambda: [watch("#housing")], no_mutes, lambda: (), announce, stop)
    )
    await asyncio.sleep(0)
    after = post(BEN, kinds.CALLOUT, 60, tags=("housing",), body="after")
    other = post(BEN, kinds.CALLOUT, 60, tags=("j20",), body="other")
    await store.add([other, after], T0 + 60)
    await asyncio.wait_for(task, 30)
    assert heard == ["after"]
