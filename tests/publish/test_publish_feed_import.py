"""Feeds into traces, in process on a real node: bodies (text, cut, link), identities of
entries without ids, the ledger across runs, and broken feeds refused whole."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stig.crdt import kinds
from stig.crdt.bounds import DAY, MAX_BODY_BYTES
from stig.crdt.views import FeedFilter
from stig.crypto.persona import Persona
from stig.errors import UsageError
from stig.node.home import Home
from stig.node.local import LocalNode, create_store
from stig.publish.feed_import import LEDGER, Ledger, import_entries, parse_feed

T0 = 1_800_000_000
RELAY = Persona("relay", bytes([7]) * 32)

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>Long reads</title><id>urn:uuid:60a76c80-d399-11d9-b93c-0003939e0af6</id>
<updated>2026-11-20T18:30:02Z</updated>
<entry><title>Very long</title><id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
<updated>2026-11-20T18:30:02Z</updated><link href="https://long.example.org/1"/>
<content type="html">{long}</content></entry>
<entry><title>No id, no link</title><updated>2026-11-19T18:30:02Z</updated>
<summary type="text">Only a title and a date: 1 &lt; 2</summary></entry>
<entry><title type="html">&lt;script&gt;x()&lt;/script&gt;Tricky &amp;amp; bold</title>
<id>tag:example.org,2026:3</id><link href="javascript:alert(1)"/>
<updated>2026-11-19T18:30:02Z</updated></entry>
<entry><id>tag:example.org,2026:empty</id><updated>2026-11-19T18:30:02Z</updated></entry>
</feed>
"""


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[LocalNode]:
    home = Home(tmp_path / "home")
    home.create()
    await create_store(home)
    async with LocalNode.open(home, clock=lambda: T0) as opened:
        yield opened


def test_bodies_are_plain_text_cut_to_the_bound_with_the_link_whole() -> None:
    feed = parse_feed(ATOM.format(long="<p>word &amp; word</p>" * 800).encode(), "long.atom")
    assert feed.title == "Long reads" and feed.empty == 1
    long, no_id, tricky = (entry.body for entry in feed.entries)
    assert len(long.encode()) <= MAX_BODY_BYTES
    assert long.startswith("Very long\n\nword & word")
    assert long.endswith("…\n\nhttps://long.example.org/1")
    assert no_id == "No id, no link\n\nOnly a title and a date: 1 < 2"
    assert tricky == "Tricky & bold"  # script dropped; a javascript: link is no link
    keys = [entry.key for entry in feed.entries]
    assert len(set(keys)) == 3
    # The same feed read from elsewhere is the same feed: the keys come from its identity.
    assert [e.key for e in parse_feed(ATOM.format(long="x").encode(), "/elsewhere").entries] == keys


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "no <feed>"),
        (b"<html><body><p>a page</p></body></html>", "no <feed>"),
        (b'<rss version="2.0"><channel><item><title>cut', "no element found at line"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><title>x</entry></feed>", "mismatched"),
        (b"\x00\x01\x02 binary", "is not an Atom or RSS feed"),
    ],
)
def test_a_broken_feed_is_refused_whole(data: bytes, reason: str) -> None:
    with pytest.raises(UsageError, match="is not an Atom or RSS feed") as error:
        parse_feed(data, "f.xml")
    assert reason in str(error.value)


async def test_the_ledger_keeps_imports_unique_across_runs(node: LocalNode) -> None:
    path = node.home.root / LEDGER
    feed = parse_feed(ATOM.format(long="short").encode(), "feed.atom")
    first = await import_entries(
        node, RELAY, feed, tags=("reads",), ttl=2 * DAY, ledger=Ledger.load(path)
    )
    assert len(first.imported) == 3 and first.already == 0 and first.empty == 1
    second = await import_entries(
        node, RELAY, feed, tags=("reads",), ttl=2 * DAY, ledger=Ledger.load(path)
    )
    assert second.imported == [] and second.already == 3
    items = await node.feed(FeedFilter(kinds=frozenset({kinds.REPORT})))
    assert sorted(i.trace.hex_id for i in items) == sorted(first.imported)
    assert all(i.trace.author == RELAY.public_key and i.trace.tags == ("reads",) for i in items)
    assert all(i.trace.expires == T0 + 2 * DAY for i in items)
    assert len(Ledger.load(path)) == 3

    path.write_text("[1, 2")
    with pytest.raises(UsageError, match="damaged"):
        Ledger.load(path)
