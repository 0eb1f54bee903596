"""What this person wants to notice: watches, kept in the home and nowhere else.

A watch is a line of the words of stig.filter_words (``#housing @u09 kind:callout``): a trace
matches it when it matches every word (``views.FeedFilter.admits``: kinds, all tags, a place
prefix, an author; a watch that names no kind matches every kind but the meta kinds). A trace
that matches any watch and arrives while the terminal UI or a ``--notify`` node runs is
announced (a toast and the bell; a desktop notification). The watches live in
``<home>/watches.json`` (mode 0600, written atomically), are never sent, and ``stig wipe``
erases them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from stig.crdt.trace import Trace
from stig.crdt.views import FeedFilter
from stig.errors import StigError
from stig.filter_words import FilterError, describe, parse_filter
from stig.node.private_file import write_json


@dataclass(frozen=True)
class Watch:
    text: str  # as the person wrote it, normalised by describe()
    where: FeedFilter

    def matches(self, trace: Trace) -> bool:
        return self.where.admits(trace)


def read_watch(text: str, author_of: Callable[[str], bytes | None]) -> FeedFilter:
    """The filter a watch's words mean; FilterError (naming the word) if they mean none, or if
    they are empty (a watch of everything is no watch)."""
    if not text.split():
        raise FilterError(text, "a watch needs at least one word, e.g. '#housing' or kind:callout")
    return parse_filter(text, author_of)


def load(path: Path) -> list[str]:
    """The watches' texts in ``path`` (none if there is no file)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise StigError(f"{path} is damaged ({exc}); fix it or delete it") from exc
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise StigError(f"{path} is damaged (not a list of texts); fix it or delete it")
    return raw


def save(path: Path, texts: Sequence[str]) -> None:
    """Write the watches atomically, mode 0600 (the home's umask)."""
    write_json(path, list(texts))


def add(path: Path, where: FeedFilter) -> tuple[str, bool]:
    """Keep a watch of ``where`` in ``path``: its text (as ``stig watch list`` shows it, an
    author as the whole key), and whether it is new (False: it was watched already)."""
    text = describe(where, lambda key: key.hex())
    if not text:
        raise FilterError(text, "a watch needs at least one word, e.g. '#housing' or kind:callout")
    texts = load(path)
    if text in texts:
        return text, False
    save(path, [*texts, text])
    return text, True


def watches(path: Path, author_of: Callable[[str], bytes | None]) -> list[Watch]:
    """The watches in ``path``, read; one that no longer reads (a persona renamed since) is
    left out rather than stopping the others."""
    out = []
    for text in load(path):
        with suppress(FilterError):
            out.append(Watch(text, read_watch(text, author_of)))
    return out


def matching(found: Sequence[Watch], trace: Trace) -> list[Watch]:
    return [w for w in found if w.matches(trace)]
