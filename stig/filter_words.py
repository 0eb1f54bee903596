"""The words a person types to choose traces, read into a FeedFilter (pure), and back.

``kind:callout,action  #eviction  @u09  by:me`` — words may come in any order; ``tag:`` and
``place:`` are long forms of ``#`` and ``@``; ``by:`` takes a persona name or an author's hex
key (or a prefix of one the caller can resolve). The feed's filter line in the terminal UI and
``stig watch`` read the same words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stig.crdt.normal_form import normalize_place, normalize_tag
from stig.crdt.views import FeedFilter
from stig.errors import InvalidTrace

WORDS = "kind:callout  #tag  @place  by:persona"
"""The words, as a hint."""


@dataclass(frozen=True)
class FilterError(Exception):
    word: str
    why: str

    def __str__(self) -> str:
        return f"{self.word!r}: {self.why}"


def parse_filter(text: str, author_of: Callable[[str], bytes | None]) -> FeedFilter:
    """Read a filter line; raise FilterError naming the word that is wrong and why."""
    kinds: set[str] = set()
    tags: set[str] = set()
    place = ""
    author: bytes | None = None
    for word in text.split():
        key, _, value = word.partition(":") if ":" in word else ("", "", word)
        if word.startswith("#"):
            key, value = "tag", word[1:]
        elif word.startswith("@"):
            key, value = "place", word[1:]
        if not value:
            raise FilterError(word, "give a value after it, e.g. kind:callout, #tag, @u09")
        try:
            if key == "kind":
                kinds.update(k.strip().lower() for k in value.split(",") if k.strip())
            elif key == "tag":
                tags.add(normalize_tag(value))
            elif key == "place":
                place = normalize_place(value)
            elif key == "by":
                author = author_of(value)
                if author is None:
                    raise FilterError(word, "no persona or author key here by that name")
            else:
                raise FilterError(word, f"not a filter word; use {WORDS}")
        except InvalidTrace as exc:
            raise FilterError(word, exc.detail) from exc
    return FeedFilter(frozenset(kinds), frozenset(tags), place, author)


def describe(where: FeedFilter, name_of: Callable[[bytes], str]) -> str:
    """The filter back as words (what the filter line shows once applied)."""
    words = []
    if where.kinds:
        words.append("kind:" + ",".join(sorted(where.kinds)))
    words += [f"#{tag}" for tag in sorted(where.tags)]
    if where.place:
        words.append(f"@{where.place}")
    if where.author is not None:
        words.append(f"by:{name_of(where.author)}")
    return " ".join(words)
