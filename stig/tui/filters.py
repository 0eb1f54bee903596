"""The feed's filter line: the words of stig.filter_words, and ``group:NAME`` (or
``group:public``), which chooses the space the feed shows; ``split_group`` takes it out before
the rest is read (pure).
"""

from __future__ import annotations

from stig.filter_words import WORDS, FilterError

HINT = f"{WORDS}  group:NAME — Enter applies, Esc clears"


def split_group(text: str, groups: list[str]) -> tuple[str | None, str]:
    """The space a ``group:`` word asks for — None if there is none, "" for ``group:public``,
    else a group's name — and the other words. FilterError for an unknown group."""
    chosen: str | None = None
    rest = []
    for word in text.split():
        key, _, value = word.partition(":")
        if key.lower() != "group" or not _:
            rest.append(word)
            continue
        value = value.strip().lower()
        if not value:
            raise FilterError(word, "give a group's name after it, or group:public")
        if chosen is not None:
            raise FilterError(word, "one group at a time")
        if value == "public" and value not in groups:
            chosen = ""
        elif value in groups:
            chosen = value
        else:
            known = ", ".join(groups) or "none yet"
            raise FilterError(word, f"no group by that name here (groups: {known}; G opens Groups)")
    return chosen, " ".join(rest)
