"""Normal forms of tags and places: one spelling per meaning, so filters and ids agree.

A trace is only valid if every tag is already in normal form (docs/protocol.md §4.2): normalising
is the author's job, checking is everyone's.
"""

from __future__ import annotations

import re
import unicodedata

from stig.crdt.bounds import GEOHASH_ALPHABET, MAX_PLACE_CHARS, MAX_TAG_CHARS
from stig.errors import InvalidTrace, Reason

_TAG_PUNCTUATION = frozenset("-_")
_ASCII_TAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_ASCII_TAG = re.compile("[a-z0-9_-]*")  # _ASCII_TAG_CHARS, for a tag that is all ASCII
# Non-ASCII code points never allowed in a tag: C1 controls, spaces, zero-width and
# direction marks, separators, the byte-order mark and specials. A fixed list, on purpose.
_NOT_IN_TAGS = (
    ("\x80", "\xa0"),
    ("\u1680", "\u1680"),
    ("\u180e", "\u180e"),
    ("\u2000", "\u200f"),
    ("\u2028", "\u202f"),
    ("\u205f", "\u206f"),
    ("\u3000", "\u3000"),
    ("\ud800", "\udfff"),  # surrogates: not text at all, and not encodable as UTF-8
    ("\ufeff", "\ufeff"),
    ("\ufff0", "\uffff"),
)


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
            f"tag {text!r} is not 1..{MAX_TAG_CHARS} letters, digits, '-' or '_' "
            "(no spaces or other punctuation)",
        )
    return tag


def is_valid_tag(tag: str) -> bool:
    """The validity rule for a tag, the same under every Unicode version (docs/protocol.md
    §4.2): 1..MAX_TAG_CHARS code points, each an ASCII lower-case letter, digit, ``-`` or
    ``_``, or any non-ASCII code point but controls and spaces; not starting with ``-``/``_``.

    Normalising (NFKC, case-folding) is the composing client's job and is *not* checked here:
    Unicode tables change between versions, and a check that used them would let two nodes
    disagree on which traces are valid. At worst a new character gets two spellings.
    """
    if not 1 <= len(tag) <= MAX_TAG_CHARS or tag[0] in _TAG_PUNCTUATION:
        return False
    if tag.isascii():  # the common case, at once: every character one of _ASCII_TAG_CHARS
        return _ASCII_TAG.fullmatch(tag) is not None
    for char in tag:
        if char < "\x80":
            if char not in _ASCII_TAG_CHARS:
                return False
        elif any(low <= char <= high for low, high in _NOT_IN_TAGS):
            return False
    return True


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
    # Stripping every geohash character from both ends leaves nothing iff all are ones.
    return len(place) <= MAX_PLACE_CHARS and not place.strip(GEOHASH_ALPHABET)
