"""Envelopes (stig.crdt.sealed, stig.crdt.envelope): what they show, what opens them, and how
damage is refused — by every node (validation) and by members (opening)."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stig.crdt import kinds
from stig.crdt.bounds import DAY
from stig.crdt.compose import compose
from stig.crdt.sealed import MAX_GROUP_TTL, open_envelope, seal_trace
from stig.crdt.trace import Trace
from stig.crdt.validate import validate
from stig.crypto.group import Epoch, GroupError, advance, day_of, epochs
from stig.crypto.persona import Persona
from stig.errors import InvalidTrace, Reason
from tests.crdt.strategies import ANA, T0, resign

CHAIN = bytes(range(32))
OTHER = bytes(range(1, 33))
TODAY = day_of(T0)


def mine(chain: bytes = CHAIN, today: int = TODAY) -> dict[str, Epoch]:
    return {e.tag_text: e for e in epochs(chain, today, 31)}


def sealed(
    body: str = "meet at the usual place", ttl: int = 3 * DAY, **kw: object
) -> tuple[Trace, Trace]:
    inner = compose(ANA, kinds.CALLOUT, body, now=T0, ttl=ttl, tags=("crew",), **kw)  # type: ignore[arg-type]
    day = day_of(inner.expires)
    epoch = Epoch.of(advance(CHAIN, day - TODAY), day)
    return inner, seal_trace(inner, epoch, T0)


def test_an_envelope_is_a_valid_trace_that_shows_only_tag_expiry_and_ciphertext() -> None:
    inner, envelope = sealed()
    assert validate(envelope.encoded, T0) == envelope
    assert envelope.kind == kinds.SEALED
    assert envelope.author != inner.author  # a one-time key
    assert envelope.place == "" and envelope.refs == ()
    assert envelope.expires % DAY == 0 and inner.expires <= envelope.expires < inner.expires + DAY
    assert envelope.tags == (mine()[envelope.tags[0]].tag_text,)
    assert "usual place" not in envelope.body and "crew" not in envelope.encoded.decode("latin-1")
    assert inner.author not in envelope.encoded


@settings(max_examples=30, deadline=None)
@given(st.text(max_size=1500), st.integers(60, MAX_GROUP_TTL))
def test_members_open_what_was_sealed(body: str, ttl: int) -> None:
    inner, envelope = sealed(body, ttl)
    assert open_envelope(envelope, mine(), T0) == inner


def test_another_group_ignores_it_quietly() -> None:
    _, envelope = sealed()
    assert open_envelope(envelope, mine(OTHER), T0) is None
    public = compose(ANA, kinds.NOTE, "hi", now=T0)
    assert open_envelope(public, mine(), T0) is None


def test_a_group_trace_cannot_live_past_what_an_envelope_may() -> None:
    with pytest.raises(GroupError, match="at most 29 days"):
        sealed(ttl=MAX_GROUP_TTL + DAY)


def test_sealing_under_the_wrong_day_is_refused() -> None:
    inner = compose(ANA, kinds.NOTE, "x", now=T0, ttl=3 * DAY)
    with pytest.raises(GroupError, match="sealed under that day"):
        seal_trace(inner, Epoch.of(CHAIN, TODAY), T0)


def test_bit_flips_in_transit_fail_the_signature() -> None:
    _, envelope = sealed()
    body = envelope.body[:10] + ("A" if envelope.body[10] != "A" else "B") + envelope.body[11:]
    damaged = dataclasses.replace(envelope, body=body)
    with pytest.raises(InvalidTrace) as caught:
        validate(damaged.encoded, T0)
    assert caught.value.reason == Reason.BAD_SIGNATURE


def test_a_tampered_envelope_resigned_by_a_forger_does_not_open() -> None:
    _, envelope = sealed()
    payload = bytearray(base64.b64decode(envelope.body))
    payload[40] ^= 1
    forger = Persona("forger", bytes([9]) * 32)
    forged = resign(
        dataclasses.replace(
            envelope, author=forger.public_key, body=base64.b64encode(payload).decode()
        ),
        forger,
    )
    validate(forged.encoded, T0)  # a relay cannot tell: it carries it
    with pytest.raises(InvalidTrace) as caught:
        open_envelope(forged, mine(), T0)
    assert caught.value.reason == Reason.BAD_ENVELOPE


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda e: {"body": e.body[:-8]}, "not one of the sizes"),
        (lambda e: {"body": "not base64!"}, "not base64"),
        (lambda e: {"tags": (*e.tags, "extra")}, "exactly one tag"),
        (lambda e: {"tags": ("crew",)}, "exactly one tag"),
        (lambda e: {"place": "u09"}, "no place"),
        (lambda e: {"refs": (bytes(32),)}, "no refs"),
        (lambda e: {"expires": e.expires - 1}, "end of a UTC day"),
    ],
)
def test_every_node_refuses_a_misshapen_envelope(change: object, why: str) -> None:
    _, envelope = sealed()
    one_time = Persona("x", bytes([5]) * 32)
    fields = change(envelope)  # type: ignore[operator]
    bad = resign(dataclasses.replace(envelope, author=one_time.public_key, **fields), one_time)
    with pytest.raises(InvalidTrace) as caught:
        validate(bad.encoded, T0)
    assert caught.value.reason == Reason.BAD_ENVELOPE
    assert why in caught.value.detail


def test_once_its_day_has_passed_nothing_derivable_opens_it() -> None:
    inner, envelope = sealed(ttl=DAY)
    expiry_day = day_of(inner.expires)
    later = expiry_day + 1
    kept = advance(CHAIN, later - TODAY)  # all a node holds once the schedule moved on
    assert open_envelope(envelope, mine(kept, later), later * DAY) is None
    for epoch in epochs(kept, later, 60):  # every key the kept one can still give
        assert envelope.tags[0] != epoch.tag_text
        with pytest.raises(GroupError):
            from stig.crdt.envelope import payload
            from stig.crypto.group import open_sealed

            open_sealed(epoch, payload(envelope))


def test_an_expired_inner_trace_is_refused_by_the_member() -> None:
    inner, envelope = sealed(ttl=60)
    with pytest.raises(InvalidTrace) as caught:
        open_envelope(envelope, mine(), inner.expires + 1)
    assert caught.value.reason == Reason.EXPIRED


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _other_forms(body: str) -> list[str]:
    """Bodies that base64 decoders read as the same payload: the last character before '='
    with its unused low bits set, and (for one '=') the padding dropped or doubled."""
    unused = 0b11 if body.endswith("=") and not body.endswith("==") else 0b1111
    last = _B64.index(body.rstrip("=")[-1])
    assert last & unused == 0
    stem = body.rstrip("=")[:-1]
    pad = body[len(stem) + 1 :]
    return [stem + _B64[last | bit] + pad for bit in (1, unused)]


@pytest.mark.parametrize("size", [100, 700])  # buckets of 296 and 1064 payload bytes: one '='
def test_only_the_canonical_base64_of_a_payload_is_an_envelope(size: int) -> None:
    """docs/protocol.md §10.3: decoders ignore the unused bits of the last character, so
    without this check one payload has several bodies, hence several envelope ids."""
    _, envelope = sealed("x" * size)
    assert envelope.body.endswith("=") and not envelope.body.endswith("==")
    one_time = Persona("x", bytes([5]) * 32)
    for body in _other_forms(envelope.body):
        assert base64.b64decode(body, validate=True) == base64.b64decode(envelope.body)
        bad = resign(dataclasses.replace(envelope, author=one_time.public_key, body=body), one_time)
        with pytest.raises(InvalidTrace) as caught:
            validate(bad.encoded, T0)
        assert caught.value.reason == Reason.BAD_ENVELOPE
        assert f"character {len(body) - 2} is {body[-2]!r}" in caught.value.detail
        assert "not canonical base64" in caught.value.detail


def test_a_body_that_decodes_the_same_without_its_padding_is_refused() -> None:
    """Python's decoder reads 'QUJD=' as 'QUJD': the same payload, a longer body."""
    _, envelope = sealed("x" * 250)
    assert not envelope.body.endswith("=")  # 552 bytes: no padding
    bad = resign(dataclasses.replace(envelope, body=envelope.body + "="), ANA)
    with pytest.raises(InvalidTrace) as caught:
        validate(bad.encoded, T0)
    assert caught.value.reason == Reason.BAD_ENVELOPE
    assert "the canonical form has ''" in caught.value.detail
