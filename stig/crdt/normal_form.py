"""Normal forms of tags and places: one spelling per meaning, so filters and ids agree.

A trace is only valid if every tag is already in normal form (docs/protocol.md §4.2): normalising
is the author's job, checking is everyone's.
"""

from __future__ import annotations

import unicodedata

from stig.crdt.bounds import GEOHASH_ALPHABET, MAX_PLACE_CHARS, MAX_TAG_CHARS
from stig.errors import InvalidTrace, Reason

_TAG_PUNCTUATION = frozenset("-_")


def normalize_tag(text: str) -> str:
    """Turn what a person typed (``#Housing``, ``J20``) into the normal form (``housing``, ``j20``).

    NFKC, then case-folding, then NFKC again (case-folding can leave non-NFKC text); a leading
    ``#`` is dropped and inner spaces become ``-``. Raises InvalidTrace(BAD_TAG) if what is left
    is not a valid tag.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    tag = "-".join(folded.strip().lstrip("#").split())
    if not is_valid_tag(tag):
        raise InvalidTrace(
            Reason.BAD_TAG,
            f"tag {text!r} is not 1..{MAX_TAG_CHARS} letters, digits, '-' or '_'",
        )
    return tag


def is_valid_tag(tag: str) -> bool:
    """A tag in normal form: 1..MAX_TAG_CHARS letters, digits, ``-``, ``_``, starting with a
    letter or digit, and unchanged by case-folding and NFKC."""
    if not 1 <= len(tag) <= MAX_TAG_CHARS or not tag[0].isalnum():
        return False
    if not all(c.isalnum() or c in _TAG_PUNCTUATION for c in tag):
        return False
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", tag).casefold()) == tag


def normalize_place(text: str) -> str:
    """A geohash of 0..MAX_PLACE_CHARS characters, lower-cased. Longer geohashes are refused,
    not truncated: silently coarsening a place the user typed would surprise them."""
    place = text.strip().lower()
    if not is_valid_place(place):
        raise InvalidTrace(
            Reason.BAD_PLACE,
            f"place {text!r} is not a geohash of at most {MAX_PLACE_CHARS} characters "
            f"from {GEOHASH_ALPHABET!r}",
        )
    return place


def is_valid_place(place: str) -> bool:
    return len(place) <= MAX_PLACE_CHARS and all(c in GEOHASH_ALPHABET for c in place)
