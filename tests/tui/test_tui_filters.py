"""The feed's filter line, read into a FeedFilter (pure)."""

from __future__ import annotations

import pytest

from stig.crdt.views import FeedFilter
from stig.filter_words import FilterError, describe, parse_filter

ME = bytes([9]) * 32


def author_of(text: str) -> bytes | None:
    return ME if text in ("me", ME.hex()[:8]) else None


def test_words_in_any_order() -> None:
    where = parse_filter("@U09 kind:callout,Action #Housing tag:j20 by:me", author_of)
    assert where == FeedFilter(
        frozenset({"callout", "action"}), frozenset({"housing", "j20"}), "u09", ME
    )


def test_empty_is_everything() -> None:
    assert parse_filter("   ", author_of) == FeedFilter()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("colour:red", "not a filter word"),
        ("#", "give a value"),
        ("kind:", "give a value"),
        ("@london", "geohash"),
        ("#no!", "letters, digits"),
        ("by:nobody", "no persona"),
    ],
)
def test_a_wrong_word_is_named_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text, author_of)
    assert caught.value.word == text.split(maxsplit=1)[0]
    assert why in str(caught.value)


def test_describe_reads_back() -> None:
    where = parse_filter("kind:report #food @u0 by:me", author_of)
    text = describe(where, lambda key: "me" if key == ME else "?")
    assert parse_filter(text, author_of) == where
