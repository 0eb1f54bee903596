"""Normal forms of tags and places: one spelling per meaning (normal_form.py)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stig.crdt.bounds import GEOHASH_ALPHABET, MAX_PLACE_CHARS, MAX_TAG_CHARS
from stig.crdt.normal_form import is_valid_place, is_valid_tag, normalize_place, normalize_tag
from stig.errors import InvalidTrace, Reason

# Text a person might type: letters and digits of every script, case, compatibility forms,
# combining marks, spaces, '#', punctuation, and now and then lone surrogates.
typed = st.one_of(
    st.text(max_size=40),
    st.text(
        alphabet=st.one_of(
            st.sampled_from("#- _\t\u00a0\u3000AaÅåİıßẞﬁＡ０①ǅΣσς\u0301\u0130"),
            st.characters(categories=["Lu", "Ll", "Lt", "Lm", "Lo", "Nd", "Nl", "No", "Mn"]),
        ),
        max_size=40,
    ),
    st.text(alphabet=st.characters(codec=None, categories=["Cs", "Ll"]), max_size=8),
)


def normalized_or_none(text: str) -> str | None:
    try:
        return normalize_tag(text)
    except InvalidTrace as exc:
        assert exc.reason is Reason.BAD_TAG
        return None


@settings(max_examples=500, deadline=None)
@given(typed)
def test_normalize_tag_is_idempotent_and_valid(text: str) -> None:
    tag = normalized_or_none(text)
    if tag is None:
        return
    assert is_valid_tag(tag)
    assert normalize_tag(tag) == tag
    assert 1 <= len(tag) <= MAX_TAG_CHARS


def folded(text: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


@settings(max_examples=500, deadline=None)
@given(typed)
def test_a_valid_tag_in_folded_form_is_its_own_normal_form(text: str) -> None:
    """is_valid_tag does not use the Unicode tables (they change between versions, and nodes
    must agree on validity), so a valid non-ASCII tag may have a folded spelling; but a valid
    tag that is already folded is its own normal form."""
    if is_valid_tag(text) and folded(text) == text:
        assert normalize_tag(text) == text
    if normalized_or_none(text) == text:
        assert is_valid_tag(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=40))
def test_an_ascii_tag_is_valid_exactly_when_it_is_its_own_normal_form(text: str) -> None:
    assert is_valid_tag(text) == (normalized_or_none(text) == text)


@settings(max_examples=300, deadline=None)
@given(typed)
def test_equivalent_spellings_give_the_same_tag(text: str) -> None:
    """Unicode-equivalent spellings (composed or not, compatibility forms) and surrounding
    white space never make two tags."""
    tag = normalized_or_none(text)
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        assert normalized_or_none(unicodedata.normalize(form, text)) == tag
    assert normalized_or_none(f"  {text}\t") == tag


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"#?[A-Za-z0-9][A-Za-z0-9 _-]{0,20}", fullmatch=True))
def test_ascii_tags_ignore_case_and_the_hash(text: str) -> None:
    tag = normalized_or_none(text)
    assert normalized_or_none(text.upper()) == tag
    assert normalized_or_none(text.lower()) == tag
    assert normalized_or_none("#" + text.lstrip("#")) == tag
    if tag is not None:
        assert tag == tag.lower()


@pytest.mark.parametrize(
    ("typed_text", "tag"),
    [
        ("#Housing", "housing"),
        ("J20", "j20"),
        ("  rent strike  ", "rent-strike"),
        ("Straße", "strasse"),
        ("ＦＵＬＬ", "full"),
        ("Ünïcode", "ünïcode"),
        ("#日本", "日本"),
        ("a_b-c", "a_b-c"),
        ("t" * MAX_TAG_CHARS, "t" * MAX_TAG_CHARS),
    ],
)
def test_normalize_tag_examples(typed_text: str, tag: str) -> None:
    assert normalize_tag(typed_text) == tag
    assert is_valid_tag(tag)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "#",
        "   ",
        "-lead",
        "_lead",
        "a.b",
        "a/b",
        "a\u200bb",  # zero-width space
        "a\x00b",
        "a\x9fb",  # C1 control
        "t" * (MAX_TAG_CHARS + 1),
    ],
)
def test_normalize_tag_refuses(text: str) -> None:
    with pytest.raises(InvalidTrace) as caught:
        normalize_tag(text)
    assert caught.value.reason is Reason.BAD_TAG


@pytest.mark.parametrize(
    "tag",
    ["Housing", "#housing", "a b", "a\u00a0b", "a\u200eb", "a\ufeff", "", "-x", "_x", "a\nb"],
)
def test_tags_not_in_normal_form_are_not_valid(tag: str) -> None:
    assert not is_valid_tag(tag)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=8))
def test_normalize_place_is_idempotent_and_valid(text: str) -> None:
    try:
        place = normalize_place(text)
    except InvalidTrace as exc:
        assert exc.reason is Reason.BAD_PLACE
        return
    assert is_valid_place(place)
    assert normalize_place(place) == place
    assert len(place) <= MAX_PLACE_CHARS


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=GEOHASH_ALPHABET, max_size=MAX_PLACE_CHARS))
def test_every_short_geohash_is_a_place(place: str) -> None:
    assert is_valid_place(place)
    assert normalize_place(place.upper()) == place


@pytest.mark.parametrize("text", ["u09tv", "a", "i", "l", "o", "u0 9", "ü"])
def test_normalize_place_refuses(text: str) -> None:
    with pytest.raises(InvalidTrace) as caught:
        normalize_place(text)
    assert caught.value.reason is Reason.BAD_PLACE
