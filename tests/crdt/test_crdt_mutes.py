"""Published mutes (stig.crdt.mutes): what a mute names, and whose mutes a node applies."""

from __future__ import annotations

from stig.crdt import kinds
from stig.crdt.bounds import DAY
from stig.crdt.mutes import followed_mutes, mute_body, mute_target
from stig.crdt.views import FeedFilter, Mutes, TraceSet
from tests.crdt.strategies import ANA, BEN, CY, DEE, T0, post

ANA_K, BEN_K, CY_K = ANA.public_key, BEN.public_key, CY.public_key


def test_a_mute_names_the_key_first_in_its_body() -> None:
    assert mute_target(post(ANA, kinds.MUTE, 0, body=mute_body(CY_K))) == CY_K
    with_reason = post(ANA, kinds.MUTE, 0, body=mute_body(CY_K, "  threats, see refs "))
    assert with_reason.body == CY_K.hex() + "\nthreats, see refs"
    assert mute_target(with_reason) == CY_K


def test_a_mute_without_a_key_mutes_no_one() -> None:
    hexkey = CY_K.hex()
    for body in ("", hexkey[:63], hexkey.upper(), hexkey + " because", "x" + hexkey, "mute"):
        assert mute_target(post(ANA, kinds.MUTE, 0, body=body)) is None, body
    assert mute_target(post(ANA, kinds.NOTE, 0, body=hexkey)) is None  # not a mute


def test_only_the_mutes_of_followed_personas_apply() -> None:
    ana_mutes_cy = post(ANA, kinds.MUTE, 0, body=mute_body(CY_K))
    ben_mutes_dee = post(BEN, kinds.MUTE, 0, body=mute_body(DEE.public_key))
    ts = TraceSet([ana_mutes_cy, ben_mutes_dee])
    assert followed_mutes(ts, {ANA_K}, T0 + 60) == {CY_K}
    assert followed_mutes(ts, {ANA_K, BEN_K}, T0 + 60) == {CY_K, DEE.public_key}
    assert followed_mutes(ts, set(), T0 + 60) == frozenset()  # no default list
    assert followed_mutes(ts, {CY_K}, T0 + 60) == frozenset()


def test_a_mute_fades_unless_others_keep_it_alive_and_its_author_can_take_it_back() -> None:
    mute = post(ANA, kinds.MUTE, 0, ttl=DAY, body=mute_body(CY_K))
    assert followed_mutes(TraceSet([mute]), {ANA_K}, T0 + DAY + 1) == frozenset()
    # Someone who agrees echoes it: it lives as long as the echo (within the life cap).
    echo = post(BEN, kinds.ECHO, 3600, ttl=5 * DAY, refs=(mute,))
    assert followed_mutes(TraceSet([mute, echo]), {ANA_K}, T0 + 4 * DAY) == {CY_K}
    retract = post(ANA, kinds.RETRACT, 7200, refs=(mute,))
    assert followed_mutes(TraceSet([mute, echo, retract]), {ANA_K}, T0 + 2 * DAY) == frozenset()


def test_a_persona_cannot_mute_itself_through_its_followers() -> None:
    ts = TraceSet([post(ANA, kinds.MUTE, 0, body=mute_body(ANA_K))])
    assert followed_mutes(ts, {ANA_K}, T0 + 60) == frozenset()


def test_a_mute_does_not_support_what_it_names_as_evidence() -> None:
    abuse = post(CY, kinds.NOTE, 0, ttl=DAY)
    mute = post(ANA, kinds.MUTE, 60, ttl=20 * DAY, refs=(abuse,), body=mute_body(CY_K))
    ts = TraceSet([abuse, mute])
    assert ts.effective_expiry(abuse) == abuse.expires
    assert ts.support_times(abuse, T0 + 120) == [abuse.created]
    assert ts.counts(abuse, T0 + 120).answers == 0  # a meta kind: not an answer either
    assert mute not in [r.trace for r in ts.feed(T0 + 120)]  # listed only when asked for
    assert [r.trace for r in ts.feed(T0 + 120, FeedFilter(kinds=frozenset({kinds.MUTE})))] == [mute]


def test_muted_authors_are_hidden_and_their_support_does_not_count_here() -> None:
    call = post(ANA, kinds.CALLOUT, 0, tags=("housing",))
    cy_echo = post(CY, kinds.ECHO, 60, ttl=10 * DAY, refs=(call,))
    cy_note = post(CY, kinds.NOTE, 60)
    ben_note = post(BEN, kinds.NOTE, 60, tags=("spam",))
    ts = TraceSet([call, cy_echo, cy_note, ben_note])
    now = T0 + 120
    plain = {r.trace.id: r for r in ts.feed(now)}
    muted = {r.trace.id: r for r in ts.feed(now, mutes=Mutes(authors=frozenset({CY_K})))}
    assert set(muted) == {call.id, ben_note.id}
    assert muted[call.id].intensity < plain[call.id].intensity
    assert muted[call.id].counts.echoes == 0 and plain[call.id].counts.echoes == 1
    # Life is the set's, not this node's: the muted echo still keeps the call-out alive.
    assert muted[call.id].effective_expiry == plain[call.id].effective_expiry == cy_echo.expires
    by_tag = ts.feed(now, mutes=Mutes(tags=frozenset({"spam"})))
    assert ben_note.id not in {r.trace.id for r in by_tag}


def test_the_documented_example_body_names_persona_b() -> None:
    """docs/protocol.md §4.3 gives a mute body naming persona B of §9.1."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    key_b = "29e5833a915a6429a4e3a7948475c338ef436eb82be89c92f059704403db9d55"
    assert f'`"{key_b}\\nthreats, see refs"`' in doc
    mute = post(ANA, kinds.MUTE, 0, body=f"{key_b}\nthreats, see refs")
    assert mute_target(mute) == bytes.fromhex(key_b)
