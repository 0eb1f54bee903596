"""Trace text made fit for a web page and an XML feed: titles, excerpts, no control characters.

A trace body is any UTF-8 text within its bound; XML 1.0 cannot carry most C0 control
characters at all, and they mean nothing on a page, so they are dropped before anything is
rendered (tabs and newlines stay).
"""

from __future__ import annotations

import re

from stig.crdt import kinds
from stig.crdt.trace import Trace
from stig.readable import SHORT_ID

TITLE_CHARS = 100
EXCERPT_CHARS = 500

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")

KIND_LABELS = {
    kinds.CALLOUT: "call-out",
    kinds.ACTION: "action",
    kinds.REPORT: "report",
    kinds.NOTE: "note",
}


def clean(text: str) -> str:
    """Text without the characters XML 1.0 cannot carry (and DEL)."""
    return _NOT_XML.sub("", text)


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending with an ellipsis if anything was cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def kind_label(trace: Trace) -> str:
    """How a kind reads on a page; unknown kinds (from newer versions) are shown plainly."""
    return KIND_LABELS.get(trace.kind, clean(trace.kind))


def title_of(trace: Trace) -> str:
    """A one-line title: the kind, and the body's first line cut short."""
    first = next((line.strip() for line in clean(trace.body).splitlines() if line.strip()), "")
    if not first:
        return f"{kind_label(trace)} {trace.hex_id[:SHORT_ID]}"
    return f"{kind_label(trace)}: {cut(first, TITLE_CHARS)}"


def excerpt(trace: Trace, limit: int = EXCERPT_CHARS) -> str:
    return cut(clean(trace.body).strip(), limit)


def author_label(trace: Trace) -> str:
    """The author as the CLI shows it: the first hex characters of the public key."""
    return trace.author.hex()[:SHORT_ID]
