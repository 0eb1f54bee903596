"""Checking what publishing produced: HTML that parses with every element closed and nested,
Atom that parses back with feedparser, and the trace ids each lists."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser

VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
TRACE_URN = "urn:stig:trace:"


class _Checker(HTMLParser):
    """Fails on a stray, unclosed or misnested element, and collects text and links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links.extend(v for k, v in attrs if k == "href" and v is not None)
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        assert tag in VOID, f"<{tag}/> is not a void element"

    def handle_endtag(self, tag: str) -> None:
        assert tag not in VOID, f"</{tag}> closes a void element"
        assert self.open and self.open[-1] == tag, f"</{tag}> but open: {self.open}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_html(data: bytes) -> _Checker:
    """Parse a page; assert it is a complete HTML document with balanced elements."""
    checker = _Checker()
    checker.feed(data.decode("utf-8"))
    checker.close()
    assert checker.doctype, "no <!DOCTYPE html>"
    assert not checker.open, f"unclosed: {checker.open}"
    assert checker.tags[:1] == ["html"], checker.tags[:3]
    for needed in ("head", "title", "body", "main", "h1"):
        assert needed in checker.tags, f"no <{needed}>"
    assert "script" not in checker.tags
    return checker


def parse_atom(data: bytes) -> Any:
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10", parsed.version
    return parsed


def atom_ids(data: bytes) -> set[str]:
    """The hex ids of the traces an Atom feed lists (each exactly once)."""
    entries = parse_atom(data).entries
    ids = [entry.id.removeprefix(TRACE_URN) for entry in entries]
    assert all(entry.id.startswith(TRACE_URN) for entry in entries)
    assert len(ids) == len(set(ids)), ids
    return set(ids)


def trace_pages(site: Path) -> set[str]:
    return {p.stem for p in (site / "t").glob("*.html")} if (site / "t").exists() else set()


def leftovers(site: Path) -> list[str]:
    """Temporary files a write left behind."""
    return sorted(p.name for p in site.rglob(".stig-*.tmp"))
