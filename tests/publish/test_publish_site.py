"""The published site and its feeds, rendered from a real store into a real directory: pages
parse, feeds parse back and list exactly the live traces, and what expires or is retracted
leaves the site — its page removed, its entries gone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stig.crdt import kinds
from stig.crdt.bounds import DAY, HOUR, MAX_BODY_BYTES
from stig.crdt.compose import compose
from stig.crdt.trace import Trace
from stig.crypto.persona import Persona
from stig.errors import UsageError
from stig.publish.mirror import Mirror
from stig.publish.publisher import Publisher, Selection, gather, next_change
from stig.publish.site import SiteOptions, build_site, tag_feed, tag_page, tag_slug
from stig.store.sqlite import SqliteStore
from tests.publish.pages import atom_ids, check_html, leftovers, parse_atom, trace_pages

T0 = 1_800_000_000
ANA = Persona("ana", bytes([1]) * 32)
BEN = Persona("ben", bytes([2]) * 32)
CY = Persona("cy", bytes([3]) * 32)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "store.db")
    yield opened
    await opened.close()


async def add(store: SqliteStore, *traces: Trace) -> None:
    await store.add(list(traces), T0)


def post(author: Persona, kind: str, body: str = "", at: int = T0, **fields: object) -> Trace:
    return compose(author, kind, body, now=at, **fields)  # type: ignore[arg-type]


async def test_site_pages_parse_and_feeds_list_exactly_the_live_traces(
    store: SqliteStore, tmp_path: Path
) -> None:
    callout = post(ANA, kinds.CALLOUT, "Eviction at rue X, 7am", tags=["housing", "j20"])
    action = post(BEN, kinds.ACTION, "We are 10, on our way", at=T0 + 60, refs=[callout.id])
    echo = post(CY, kinds.ECHO, at=T0 + 120, refs=[callout.id])
    dispute = post(CY, kinds.DISPUTE, at=T0 + 120, refs=[action.id])
    letter = post(BEN, kinds.NOTE, "a letter\nfrom prison", tags=["prison"], ttl=2 * DAY)
    await add(store, callout, action, echo, dispute, letter)
    clock = Clock()
    clock.now = T0 + HOUR
    site = tmp_path / "site"
    with Mirror(site) as mirror:
        publisher = Publisher(mirror, Selection(), SiteOptions(title="Relay <X>"), clock)
        threads, _ = await publisher.render(store)

    live = {t.hex_id for t in (callout, action, letter)}  # meta kinds never get a page
    assert {t.ranked.trace.hex_id for t in threads} == live
    assert trace_pages(site) == live
    assert atom_ids((site / "feed.atom").read_bytes()) == live
    assert atom_ids((site / tag_feed("housing")).read_bytes()) == {callout.hex_id}
    assert atom_ids((site / tag_feed("prison")).read_bytes()) == {letter.hex_id}
    for page in site.rglob("*.html"):
        check_html(page.read_bytes())
    assert leftovers(site) == []

    index = check_html((site / "index.html").read_bytes())
    text = "".join(index.text)
    assert "Relay <X>" in text  # escaped in the source, the same text once parsed
    assert b"Relay &lt;X&gt;" in (site / "index.html").read_bytes()
    # Ordered by intensity: the reinforced call-out comes first.
    order = [link for link in index.links if link.startswith("t/")]
    assert order[0] == f"t/{callout.hex_id}.html"
    assert {"tags/housing.html", "tags/j20.html", "tags/prison.html"} <= set(index.links)

    page = check_html((site / "t" / f"{callout.hex_id}.html").read_bytes())
    text = " ".join(page.text)
    assert "Eviction at rue X, 7am" in text and "We are 10, on our way" in text
    assert "1 answer" in text and "1 echo" in text and "fades in" in text
    assert f"../t/{action.hex_id}.html" in page.links  # what answers it
    answer_page = check_html((site / "t" / f"{action.hex_id}.html").read_bytes())
    assert f"../t/{callout.hex_id}.html" in answer_page.links  # what it answers
    assert "1 dispute" in " ".join(answer_page.text)

    feed = parse_atom((site / "feed.atom").read_bytes())
    entry = next(e for e in feed.entries if e.id.endswith(callout.hex_id))
    assert entry.content[0].value == "Eviction at rue X, 7am"
    assert entry.link.endswith(f"t/{callout.hex_id}.html")
    assert {"callout", "housing", "j20"} <= {t.term for t in entry.tags}


async def test_expiry_and_retraction_remove_pages_and_entries(
    store: SqliteStore, tmp_path: Path
) -> None:
    short = post(ANA, kinds.REPORT, "short-lived", tags=["news"], ttl=2 * HOUR)
    withdrawn = post(ANA, kinds.CALLOUT, "to be withdrawn", tags=["news"])
    stays = post(BEN, kinds.NOTE, "stays", tags=["other"])
    await add(store, short, withdrawn, stays)
    clock = Clock()
    site = tmp_path / "site"
    with Mirror(site) as mirror:
        publisher = Publisher(mirror, Selection(), SiteOptions(), clock)
        threads, _ = await publisher.render(store)
        assert trace_pages(site) == {short.hex_id, withdrawn.hex_id, stays.hex_id}
        assert next_change(threads, clock.now) == short.expires

        clock.now = short.expires  # effective expiry is exclusive: gone at that second
        _, written = await publisher.render(store)
        assert written.removed == 1
        assert trace_pages(site) == {withdrawn.hex_id, stays.hex_id}
        assert atom_ids((site / "feed.atom").read_bytes()) == {withdrawn.hex_id, stays.hex_id}
        assert atom_ids((site / tag_feed("news")).read_bytes()) == {withdrawn.hex_id}

        retract = post(ANA, kinds.RETRACT, at=clock.now, refs=[withdrawn.id])
        await store.add([retract], clock.now)
        await publisher.render(store)
        assert trace_pages(site) == {stays.hex_id}
        assert atom_ids((site / "feed.atom").read_bytes()) == {stays.hex_id}
        # The tag no trace carries any more loses its page and its feed.
        assert not (site / tag_page("news")).exists()
        assert not (site / tag_feed("news")).exists()
        for path in site.rglob("*"):
            if path.is_file() and not path.name.startswith(".stig-site"):
                assert b"to be withdrawn" not in path.read_bytes(), path
                assert b"short-lived" not in path.read_bytes(), path
        assert mirror.files == {
            p.relative_to(site).as_posix()
            for p in site.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        }


async def test_selection_by_tag_kind_and_limit(store: SqliteStore) -> None:
    a = post(ANA, kinds.CALLOUT, "a", tags=["housing"])
    b = post(BEN, kinds.REPORT, "b", tags=["prison"], at=T0 + 1)
    c = post(CY, kinds.REPORT, "c", tags=["other"], at=T0 + 2)
    await add(store, a, b, c)

    async def chosen(selection: Selection) -> set[bytes]:
        return {t.ranked.trace.id for t in await gather(store, T0 + 10, selection)}

    assert await chosen(Selection(tags=frozenset({"housing", "prison"}))) == {a.id, b.id}
    assert await chosen(Selection(kinds=frozenset({kinds.REPORT}))) == {b.id, c.id}
    assert await chosen(Selection(limit=1)) == {c.id}  # newest wins the tie in intensity
    with pytest.raises(UsageError, match="never get a page"):
        Selection(kinds=frozenset({kinds.ECHO}))


async def test_hostile_text_is_escaped_and_stays_valid_xml(store: SqliteStore) -> None:
    body = (
        '<script>alert(1)</script> "quoted" & <b>bold</b>\x01\x1b[31m '
        "javascript:alert(2) https://example.org/a?b=1&c=<2>"
    )
    tag = "été"
    hostile = post(ANA, kinds.REPORT, body, tags=[tag, "x"])
    big = post(BEN, kinds.NOTE, "é" * (MAX_BODY_BYTES // 2))
    await add(store, hostile, big)
    threads = await gather(store, T0, Selection())
    site = build_site(threads, T0, SiteOptions(base_url="https://relay.example/s/"))

    assert tag_slug(tag) == "_" + tag.encode().hex()
    assert tag_page(tag) in site and tag_feed(tag) in site
    for path, data in site.items():
        assert b"<script" not in data.lower(), path
        assert b"\x01" not in data and b"\x1b" not in data, path
        if path.endswith(".html"):
            check_html(data)
    page = check_html(site[f"t/{hostile.hex_id}.html"])
    assert "https://example.org/a?b=1&c=" in page.links  # only http(s) becomes a link
    assert not any(link.startswith("javascript:") for link in page.links)
    entry = parse_atom(site["feed.atom"]).entries
    hostile_entry = next(e for e in entry if e.id.endswith(hostile.hex_id))
    assert hostile_entry.content[0].value.startswith("<script>alert(1)</script>")
    assert hostile_entry.link == f"https://relay.example/s/t/{hostile.hex_id}.html"
    # The same threads and time give the same bytes (nothing is rewritten needlessly).
    assert build_site(threads, T0, SiteOptions(base_url="https://relay.example/s/")) == site
