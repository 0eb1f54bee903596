"""Atom feeds (RFC 4287) of published traces, generated with feedgen.

Entry ids are ``urn:stig:trace:<hex id>``: stable for as long as the trace lives, the same on
every relay that publishes it, so a reader that follows two relays sees one entry. A feed
holds exactly the traces the site shows; one that expired or was retracted leaves the feed at
the next render.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from stig.crdt.views import Ranked
from stig.publish.excerpts import author_label, clean, kind_label, title_of

ATOM_TYPE = "application/atom+xml"


@dataclass(frozen=True)
class FeedPlace:
    """Where a feed lives: its id, its own address and the page it stands for, both either
    absolute (with a base URL) or relative to the feed's location."""

    feed_id: str
    title: str
    self_href: str
    page_href: str
    trace_href: str  # a format string with {hex}: a trace's page relative to the feed


def entry_id(hex_id: str) -> str:
    return f"urn:stig:trace:{hex_id}"


def atom_feed(items: Sequence[Ranked], place: FeedPlace, now: int) -> bytes:
    """The feed of ``items``, newest first. Its ``updated`` is that of the newest entry (the
    render time only when there is none), so an unchanged set gives unchanged bytes."""
    # Imported here: feedgen and lxml take ~60 ms to import, and only rendering needs them
    # (every `stig` command imports this module through the CLI).
    from feedgen.feed import FeedGenerator  # noqa: PLC0415

    feed = FeedGenerator()
    feed.id(place.feed_id)
    feed.title(clean(place.title) or "stig")
    feed.link(href=place.self_href, rel="self", type=ATOM_TYPE)
    feed.link(href=place.page_href, rel="alternate", type="text/html")
    feed.generator("stig")
    newest = sorted(items, key=lambda item: (-item.trace.created, item.trace.id))
    feed.updated(_moment(max((item.trace.created for item in newest), default=now)))
    for item in newest:
        trace = item.trace
        entry = feed.add_entry(order="append")
        entry.id(entry_id(trace.hex_id))
        entry.title(title_of(trace))
        entry.author(name=author_label(trace))
        entry.published(_moment(trace.created))
        entry.updated(_moment(trace.created))
        entry.link(href=place.trace_href.format(hex=trace.hex_id), rel="alternate")
        entry.content(clean(trace.body), type="text")
        entry.category(term=trace.kind, label=kind_label(trace), scheme="urn:stig:kind")
        for tag in trace.tags:
            entry.category(term=clean(tag))
    xml: bytes = feed.atom_str(pretty=True)
    return xml


def _moment(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)
