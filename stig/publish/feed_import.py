"""Bringing existing feeds into the mesh: Atom and RSS entries (parsed by feedparser) become
``report`` traces signed by one persona, each once.

The body of a trace is the entry's title, its summary as plain text (HTML stripped), and a
link back to the source, cut to fit the body bound — the link is kept whole. Which entries
were imported is kept in ``<home>/imported-feeds.json`` (written atomically), keyed by a hash
of the feed's identity (its Atom id, else its link, else where it was read from) and the
entry's (its id, else its link, else its title and date): running the import again, from the
same URL or a saved copy, creates no duplicates.

A feed that does not parse cleanly is refused as a whole: nothing of it is imported. So is a
stig relay's own feed (stig.publish.atom: entries whose ids are ``urn:stig:trace:<id>``): its
traces are better had whole, signed by their authors, by connecting to the relay.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.sax import SAXParseException

import feedparser

from stig.crdt import kinds
from stig.crdt.bounds import MAX_BODY_BYTES
from stig.crypto.persona import Persona
from stig.errors import UsageError
from stig.node.local import Draft, LocalNode
from stig.publish.atom import entry_id
from stig.publish.excerpts import clean

LEDGER = "imported-feeds.json"
FETCH_TIMEOUT = 30.0
MAX_FEED_BYTES = 10 * 1024 * 1024
MAX_LINK_CHARS = 1024
USER_AGENT = "stig-import-feed"

_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
        "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
_HIDDEN = frozenset({"script", "style", "template", "noscript"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


@dataclass(frozen=True)
class Entry:
    key: str
    """Hex of BLAKE2b-256 over the feed's identity and the entry's: the dedup key."""
    body: str


@dataclass(frozen=True)
class ParsedFeed:
    source: str
    title: str
    entries: list[Entry]
    empty: int = 0
    """Entries with nothing to say (no title, no text, no link): skipped."""


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    """Hex ids of the new traces."""
    already: int = 0
    empty: int = 0


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def read_source(source: str) -> bytes:
    """The bytes of a feed: an http(s) URL (with a timeout and a size cap) or a local file."""
    if is_url(source):
        request = urllib.request.Request(source, headers={"User-Agent": USER_AGENT})  # noqa: S310 - http(s) only, checked above
        try:
            with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:  # noqa: S310
                data: bytes = response.read(MAX_FEED_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise UsageError(f"cannot fetch {source}: HTTP {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            reason = exc.reason
            text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
            raise UsageError(f"cannot fetch {source}: {text}") from exc
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot fetch {source}: {exc}") from exc
    else:
        if "://" in source:
            raise UsageError(f"{source} is neither a file nor an http(s) URL")
        try:
            with Path(source).open("rb") as stream:
                data = stream.read(MAX_FEED_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"cannot read {source}: {exc.strerror}") from exc
    if len(data) > MAX_FEED_BYTES:
        raise UsageError(f"{source} is larger than {MAX_FEED_BYTES // 2**20} MiB; not a feed?")
    return data


def parse_feed(data: bytes, source: str) -> ParsedFeed:
    """The entries of an Atom or RSS feed, as trace bodies; UsageError if it is not one."""
    # Bytes, never a str: feedparser would take a str for a URL or a file name to open.
    parsed: Any = feedparser.parse(data)
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if problem is not None and not isinstance(problem, feedparser.CharacterEncodingOverride):
        raise UsageError(f"{source} is not an Atom or RSS feed: {_reason(problem)}")
    if not parsed.get("version"):
        raise UsageError(
            f"{source} is not an Atom or RSS feed: no <feed>, <rss> or <rdf:RDF> element"
        )
    relayed = sum(1 for item in parsed.get("entries", []) if _is_trace(item))
    if relayed:
        raise UsageError(
            f"{source} is a stig relay's feed ({relayed} of its entries are stig traces, "
            "signed and with their authors' keys): this is a stig relay: connect to it "
            "instead (`stig node --bootstrap ADDR`, its address from its operator), so its "
            "traces arrive as they are rather than re-signed as reports"
        )
    channel = parsed.get("feed", {})
    identity = channel.get("id") or channel.get("link") or _where(source)
    fallback_link = _link(channel.get("link"))
    entries: list[Entry] = []
    empty = 0
    seen: set[str] = set()
    for item in parsed.get("entries", []):
        title = _text(item.get("title", ""), item.get("title_detail"))
        text = _summary(item)
        link = _link(item.get("link")) or fallback_link
        body = entry_body(title, text, link)
        if not body:
            empty += 1
            continue
        ident = item.get("id") or item.get("link") or _digest(f"{title}\n{item.get('published')}")
        key = _digest(f"{identity}\n{ident}")
        if key not in seen:  # a feed that lists one entry twice
            seen.add(key)
            entries.append(Entry(key, body))
    return ParsedFeed(source, _text(channel.get("title", ""), None), entries, empty)


def _is_trace(item: Any) -> bool:
    """An entry a stig relay published: its id is a trace's (stig.publish.atom.entry_id)."""
    return str(item.get("id", "")).startswith(entry_id(""))


def entry_body(title: str, text: str, link: str) -> str:
    """Title, text and link, cut to the body bound; the link is never cut."""
    head = title
    if text and text != title:
        head = f"{title}\n\n{text}" if title and not text.startswith(title) else text
    tail = f"\n\n{link}" if link else ""
    if not head:
        return link
    return _fit(head, MAX_BODY_BYTES - len(tail.encode())) + tail


async def import_entries(
    node: LocalNode,
    persona: Persona,
    feed: ParsedFeed,
    *,
    tags: Sequence[str],
    ttl: int,
    ledger: Ledger,
) -> ImportReport:
    """Post every entry not imported before; the ledger is saved even if a post fails."""
    report = ImportReport(empty=feed.empty)
    try:
        for entry in feed.entries:
            if ledger.has(entry.key):
                report.already += 1
                continue
            trace = await node.post(
                Draft(kind=kinds.REPORT, body=entry.body, tags=tuple(tags), ttl=ttl), persona
            )
            ledger.add(entry.key, trace.hex_id, node.clock())
            report.imported.append(trace.hex_id)
    finally:
        if report.imported:
            ledger.save()
    return report


class Ledger:
    """Which feed entries this home has imported: {key: {"trace": hex id, "at": unix}}."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, dict[str, Any]] = {}

    @classmethod
    def load(cls, path: Path) -> Ledger:
        ledger = cls(path)
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
            entries = found["entries"]
            if not isinstance(entries, dict):
                raise TypeError("entries is not an object")
        except FileNotFoundError:
            return ledger
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(
                f"{path} is damaged ({exc}); move it away to start afresh "
                "(entries imported before would then be imported again)"
            ) from exc
        ledger._entries = entries
        return ledger

    def has(self, key: str) -> bool:
        return key in self._entries

    def add(self, key: str, trace_hex: str, at: int) -> None:
        self._entries[key] = {"trace": trace_hex, "at": at}

    def __len__(self) -> int:
        return len(self._entries)

    def save(self) -> None:
        text = json.dumps({"version": 1, "entries": self._entries}, indent=1, sort_keys=True)
        fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=".stig-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(name, self.path)
        except OSError as exc:
            with suppress(FileNotFoundError):
                os.unlink(name)
            raise UsageError(f"cannot write {self.path}: {exc.strerror}") from exc


def _summary(item: Any) -> str:
    if item.get("summary"):
        return _text(item["summary"], item.get("summary_detail"))
    for content in item.get("content", []):
        if content.get("value"):
            return _text(content["value"], content)
    return ""


def _text(value: str, detail: Any) -> str:
    """Plain text of a feed field: HTML stripped unless the feed says it is plain text."""
    kind = (detail or {}).get("type", "text/html")
    if kind == "text/plain":
        text = value
    else:
        stripper = _Stripper()
        stripper.feed(value)
        stripper.close()
        text = stripper.text()
    lines = [_SPACES.sub(" ", line).strip() for line in clean(text).split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


class _Stripper(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCKS:
            self.parts.append("\n\n" if tag == "p" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n" if tag == "p" else "\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data.replace("\n", " "))

    def text(self) -> str:
        return "".join(self.parts)


def _link(value: Any) -> str:
    """An http(s) link short enough to keep, else nothing."""
    if not isinstance(value, str):
        return ""
    link = value.strip()
    if not is_url(link) or len(link) > MAX_LINK_CHARS or any(c.isspace() for c in link):
        return ""
    return clean(link)


def _fit(text: str, budget: int) -> str:
    data = text.encode()
    if len(data) <= budget:
        return text
    ellipsis = "…"
    kept = data[: max(0, budget - len(ellipsis.encode()))].decode("utf-8", "ignore")
    return kept.rstrip() + ellipsis


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=32).hexdigest()


def _where(source: str) -> str:
    return source if is_url(source) else str(Path(source).resolve())


def _reason(problem: BaseException) -> str:
    """What the XML parser said, with where: "unclosed token at line 2, column 28"."""
    if isinstance(problem, SAXParseException):
        return (
            f"{problem.getMessage()} at line {problem.getLineNumber()}, "
            f"column {problem.getColumnNumber()}"
        )
    return str(problem).strip() or type(problem).__name__
