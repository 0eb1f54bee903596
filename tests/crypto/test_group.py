"""The group key schedule, sealing and invite codes (stig.crypto.group): laws, by Hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stig.crypto.group import (
    BUCKETS,
    INVITE_PREFIX,
    MAX_SEALED_INNER,
    SEALED_OVERHEAD,
    Epoch,
    GroupError,
    advance,
    epochs,
    invite_code,
    open_sealed,
    read_invite,
    seal,
)

keys = st.binary(min_size=32, max_size=32)
days = st.integers(min_value=0, max_value=2**32 - 1)
inners = st.binary(max_size=MAX_SEALED_INNER)


@given(keys, st.integers(0, 40), st.integers(0, 40))
def test_advancing_composes(chain: bytes, a: int, b: int) -> None:
    assert advance(advance(chain, a), b) == advance(chain, a + b)


def test_the_schedule_does_not_go_back() -> None:
    with pytest.raises(GroupError, match="back in time"):
        advance(bytes(32), -1)


@given(keys, st.integers(0, 2**20))
def test_epochs_follow_the_chain(chain: bytes, day: int) -> None:
    listed = epochs(chain, day, 5)
    assert [e.day for e in listed] == list(range(day, day + 5))
    assert listed[3] == Epoch.of(advance(chain, 3), day + 3)
    tags = {e.tag for e in listed}
    assert len(tags) == 5  # a new tag every day: days are not linkable by tag
    assert chain not in {e.seal_key for e in listed}  # the chain key itself seals nothing


@given(keys, inners)
def test_seal_then_open_gives_the_inner_bytes(chain: bytes, inner: bytes) -> None:
    epoch = Epoch.of(chain, 1)
    sealed = seal(epoch, inner)
    assert len(sealed) - SEALED_OVERHEAD in BUCKETS  # the length tells only the bucket
    assert open_sealed(epoch, sealed) == inner


@given(keys, keys, inners)
def test_another_key_does_not_open(chain: bytes, other: bytes, inner: bytes) -> None:
    sealed = seal(Epoch.of(chain, 1), inner)
    if other != chain:
        with pytest.raises(GroupError, match="does not open"):
            open_sealed(Epoch.of(other, 1), sealed)
    with pytest.raises(GroupError):
        open_sealed(Epoch.of(advance(chain, 1), 2), sealed)  # the next day's key neither


@given(keys, inners, st.data())
def test_any_flipped_bit_is_refused(chain: bytes, inner: bytes, data: st.DataObject) -> None:
    epoch = Epoch.of(chain, 1)
    sealed = bytearray(seal(epoch, inner))
    at = data.draw(st.integers(0, len(sealed) * 8 - 1))
    sealed[at // 8] ^= 1 << (at % 8)
    with pytest.raises(GroupError):
        open_sealed(epoch, bytes(sealed))


@given(keys, inners, st.data())
def test_a_truncated_payload_is_refused(chain: bytes, inner: bytes, data: st.DataObject) -> None:
    epoch = Epoch.of(chain, 1)
    sealed = seal(epoch, inner)
    cut = data.draw(st.integers(0, len(sealed) - 1))
    with pytest.raises(GroupError):
        open_sealed(epoch, sealed[:cut])


def test_too_large_to_seal() -> None:
    with pytest.raises(GroupError, match="at most"):
        seal(Epoch.of(bytes(32), 1), bytes(MAX_SEALED_INNER + 1))


@given(keys, days)
def test_invite_codes_round_trip(chain: bytes, day: int) -> None:
    code = invite_code(chain, day)
    assert code.startswith(INVITE_PREFIX) and len(code) < 80
    assert read_invite(code) == (chain, day)
    assert read_invite(f"  {code.upper()[:20]}\n{code.upper()[20:]} ") == (chain, day)


@given(keys, days, st.data())
def test_a_mistyped_invite_code_is_caught(chain: bytes, day: int, data: st.DataObject) -> None:
    code = invite_code(chain, day)
    at = data.draw(st.integers(len(INVITE_PREFIX), len(code) - 1))
    typo = data.draw(
        st.sampled_from("abcdefghijklmnopqrstuvwxyz234567").filter(lambda c: c != code[at])
    )
    changed = code[:at] + typo + code[at + 1 :]
    try:
        got = read_invite(changed)
    except GroupError:
        return
    # Only the last character's unused low bits can change without changing the bytes.
    assert got == (chain, day) and at == len(code) - 1


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("hello", "starts with"),
        (INVITE_PREFIX + "!!!", "cannot be in one"),
        (INVITE_PREFIX + "aeaq", "cut short"),
    ],
)
def test_a_bad_invite_code_says_why(code: str, why: str) -> None:
    with pytest.raises(GroupError, match=why):
        read_invite(code)


def test_a_truncated_invite_code_says_so() -> None:
    code = invite_code(bytes(range(32)), 20_000)
    with pytest.raises(GroupError, match="cut short"):
        read_invite(code[:-5])
