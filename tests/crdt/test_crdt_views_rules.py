"""Examples that pin each derived-view rule (views.py module docstring), and heat vs intensity."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stig.crdt import kinds
from stig.crdt.bounds import DAY, HOUR, INTENSITY_HALF_LIFE, LIFE_CAP, MAX_TTL
from stig.crdt.views import Counts, FeedFilter, TraceSet, heat_of, intensity_of
from tests.crdt.strategies import ANA, BEN, CY, DEE, T0, UNKNOWN_KIND, post

H = INTENSITY_HALF_LIFE


def weight(at: int, now: int) -> float:
    """The contribution of one supporter at offset ``at`` to intensity at offset ``now``."""
    return float(2.0 ** ((at - now) / H))


# -- effective expiry: echoes by others extend life, up to the cap --------------------------


def test_echo_by_another_author_extends_life() -> None:
    t = post(ANA, "callout", 0, ttl=DAY)
    echo = post(BEN, "echo", 12 * HOUR, ttl=10 * DAY, refs=(t,))
    ts = TraceSet([t, echo])
    assert ts.effective_expiry(t) == T0 + 12 * HOUR + 10 * DAY
    assert ts.is_visible(t, T0 + 5 * DAY)
    assert not TraceSet([t]).is_visible(t, T0 + 5 * DAY)
    assert not ts.is_visible(t, T0 + 12 * HOUR + 10 * DAY)


@pytest.mark.parametrize("kind", sorted(kinds.SUPPORT_KINDS))
def test_every_support_kind_extends_life(kind: str) -> None:
    t = post(ANA, "callout", 0, ttl=DAY)
    support = post(BEN, kind, HOUR, ttl=MAX_TTL, refs=(t,))
    assert TraceSet([t, support]).effective_expiry(t) == T0 + HOUR + MAX_TTL


@pytest.mark.parametrize("kind", ["dispute", "note", "report", UNKNOWN_KIND, "retract"])
def test_other_kinds_do_not_extend_life(kind: str) -> None:
    t = post(ANA, "callout", 0, ttl=DAY)
    other = post(BEN, kind, HOUR, ttl=MAX_TTL, refs=(t,))
    assert TraceSet([t, other]).effective_expiry(t) == T0 + DAY


def test_echo_by_the_author_does_not_extend_life() -> None:
    t = post(ANA, "callout", 0, ttl=DAY)
    self_echo = post(ANA, "echo", HOUR, ttl=MAX_TTL, refs=(t,))
    self_action = post(ANA, "action", HOUR, ttl=MAX_TTL, refs=(t,))
    ts = TraceSet([t, self_echo, self_action])
    assert ts.effective_expiry(t) == T0 + DAY
    assert not ts.is_visible(t, T0 + DAY)
    assert ts.intensity(t, T0) == 1.0  # and adds nothing to intensity


def test_reinforcement_is_capped_at_life_cap() -> None:
    t = post(ANA, "callout", 0, ttl=MAX_TTL)
    echoes = [post(BEN, "echo", day * DAY, ttl=MAX_TTL, refs=(t,)) for day in (25, 50, 75)]
    ts = TraceSet([t, *echoes])
    assert ts.effective_expiry(t) == T0 + LIFE_CAP  # not T0 + 105 days
    assert ts.is_visible(t, T0 + LIFE_CAP - 1)
    assert not ts.is_visible(t, T0 + LIFE_CAP)
    assert ts.is_visible(echoes[-1], T0 + LIFE_CAP)  # the echo itself lives on
    assert TraceSet([t, *echoes[:2]]).effective_expiry(t) == T0 + 50 * DAY + MAX_TTL


def test_only_the_supporters_own_expiry_counts() -> None:
    # An echo that is itself echoed does not pass its extension on to what it echoes.
    t = post(ANA, "callout", 0, ttl=DAY)
    echo = post(BEN, "echo", HOUR, ttl=2 * DAY, refs=(t,))
    echo_of_echo = post(CY, "echo", 2 * HOUR, ttl=MAX_TTL, refs=(echo,))
    ts = TraceSet([t, echo, echo_of_echo])
    assert ts.effective_expiry(echo) == T0 + 2 * HOUR + MAX_TTL
    assert ts.effective_expiry(t) == T0 + HOUR + 2 * DAY


def test_a_hidden_echo_extends_nothing() -> None:
    t = post(ANA, "callout", 0, ttl=DAY)
    echo = post(BEN, "echo", HOUR, ttl=MAX_TTL, refs=(t,))
    unsaid = post(BEN, "retract", 2 * HOUR, refs=(echo,))
    assert TraceSet([t, echo, unsaid]).effective_expiry(t) == T0 + DAY
    burned = post(BEN, "burn", 2 * HOUR)
    assert TraceSet([t, echo, burned]).effective_expiry(t) == T0 + DAY


# -- retraction and burning ------------------------------------------------------------------


def test_retract_by_the_author_hides() -> None:
    t = post(ANA, "callout", 0)
    other = post(ANA, "callout", 0, body="another")
    retract = post(ANA, "retract", HOUR, refs=(t,))
    ts = TraceSet([t, other, retract])
    assert ts.is_hidden(t)
    assert not ts.is_visible(t, T0 + 2 * HOUR)
    assert ts.intensity(t, T0 + 2 * HOUR) == 0.0
    assert not ts.is_hidden(other)  # only what it references
    assert t not in {r.trace for r in ts.feed(T0 + 2 * HOUR)}
    assert ts.effective_expiry(retract) == T0 + HOUR + LIFE_CAP  # outlives what it hides


def test_retract_by_someone_else_does_not_hide() -> None:
    t = post(ANA, "callout", 0)
    ts = TraceSet([t, post(BEN, "retract", HOUR, refs=(t,))])
    assert not ts.is_hidden(t)
    assert ts.is_visible(t, T0 + 2 * HOUR)


def test_retract_in_the_same_second_hides_but_not_one_dated_before() -> None:
    t = post(ANA, "callout", HOUR)
    assert TraceSet([t, post(ANA, "retract", HOUR, refs=(t,))]).is_hidden(t)
    assert not TraceSet([t, post(ANA, "retract", HOUR - 1, refs=(t,))]).is_hidden(t)


def test_a_retract_hides_whatever_order_it_arrives_in() -> None:
    t = post(ANA, "callout", 0)
    retract = post(ANA, "retract", HOUR, refs=(t,))
    assert TraceSet([retract]).merge([t]).is_hidden(t)
    assert TraceSet([t]).merge([retract]).is_hidden(t)


def test_burn_hides_every_trace_of_its_author_created_up_to_it() -> None:
    before = post(ANA, "callout", 0)
    same_second = post(ANA, "note", DAY)
    after = post(ANA, "note", DAY + 1)
    echo = post(ANA, "echo", HOUR, refs=(post(BEN, "callout", 0),))
    someone_else = post(BEN, "callout", HOUR)
    burn = post(ANA, "burn", DAY)
    ts = TraceSet([before, same_second, after, echo, someone_else, burn])
    assert ts.is_hidden(before)
    assert ts.is_hidden(same_second)
    assert ts.is_hidden(echo)
    assert ts.is_hidden(burn)  # a burn burns itself too: nothing of it is shown
    assert not ts.is_hidden(after)
    assert not ts.is_hidden(someone_else)
    now = T0 + DAY + HOUR
    assert [t.id for t in ts.visible(now)] == sorted(t.id for t in (after, someone_else))


def test_the_latest_burn_counts() -> None:
    early = post(ANA, "note", 0)
    late = post(ANA, "note", 2 * DAY)
    burns = [post(ANA, "burn", DAY), post(ANA, "burn", 3 * DAY)]
    for order in (burns, burns[::-1]):
        ts = TraceSet([early, late, *order])
        assert ts.is_hidden(early)
        assert ts.is_hidden(late)
    assert not TraceSet([late, burns[0]]).is_hidden(late)


# -- intensity: one contribution per distinct author, their latest ---------------------------


def test_intensity_counts_each_author_once_with_their_latest_support() -> None:
    t = post(ANA, "callout", 0)
    ben_early = post(BEN, "echo", HOUR, refs=(t,))
    ben_late = post(BEN, "action", 2 * HOUR, refs=(t,))
    cy = post(CY, "confirm", 3 * HOUR, refs=(t,))
    ana_self = post(ANA, "echo", 4 * HOUR, refs=(t,))  # the author counts once, at creation
    dee_dispute = post(DEE, "dispute", 4 * HOUR, refs=(t,))  # not support
    ts = TraceSet([t, ben_early, ben_late, cy, ana_self, dee_dispute])
    now = 5 * HOUR
    assert ts.support_times(t, T0 + now) == [T0, T0 + 2 * HOUR, T0 + 3 * HOUR]
    expected = math.fsum([weight(0, now), weight(2 * HOUR, now), weight(3 * HOUR, now)])
    assert ts.intensity(t, T0 + now) == expected
    # Three distinct supporters: once all of them are in the past, at most 3.0.
    assert ts.intensity(t, T0 + 3 * HOUR) < 3.0


def test_an_expired_latest_support_falls_back_to_the_authors_live_one() -> None:
    t = post(ANA, "callout", 0, ttl=MAX_TTL)
    lasting = post(BEN, "echo", HOUR, ttl=10 * DAY, refs=(t,))
    brief = post(BEN, "echo", 2 * HOUR, ttl=HOUR, refs=(t,))
    ts = TraceSet([t, lasting, brief])
    assert ts.support_times(t, T0 + 2 * HOUR) == [T0, T0 + 2 * HOUR]
    assert ts.support_times(t, T0 + 3 * HOUR) == [T0, T0 + HOUR]
    assert ts.support_times(t, T0 + 11 * DAY) == [T0]


def test_intensity_halves_every_half_life_and_is_zero_when_not_visible() -> None:
    t = post(ANA, "callout", 0, ttl=MAX_TTL)
    ts = TraceSet([t])
    assert ts.intensity(t, T0) == 1.0
    assert ts.intensity(t, T0 + H) == 0.5
    assert ts.intensity(t, T0 + 3 * H) == 0.125
    assert ts.intensity(t, T0 + MAX_TTL) == 0.0


def test_feed_is_most_intense_first() -> None:
    quiet = post(ANA, "callout", 0, body="quiet")
    loud = post(BEN, "callout", 0, body="loud")
    echoes = [post(p, "echo", HOUR, refs=(loud,)) for p in (ANA, CY, DEE)]
    newer = post(CY, "report", 2 * HOUR)
    ts = TraceSet([quiet, loud, newer, *echoes])
    feed = ts.feed(T0 + 3 * HOUR)
    assert [r.trace for r in feed] == [loud, newer, quiet]  # echoes are meta: not listed
    assert feed[0].counts.echoes == 3
    assert feed[0].intensity == ts.intensity(loud, T0 + 3 * HOUR)
    assert [r.trace for r in ts.feed(T0 + 3 * HOUR, limit=1)] == [loud]
    only_echoes = ts.feed(T0 + 3 * HOUR, FeedFilter(kinds=frozenset({"echo"})))
    assert {r.trace.id for r in only_echoes} == {e.id for e in echoes}


def test_feed_filters_by_tag_place_author_and_shows_unknown_kinds() -> None:
    a = post(ANA, "callout", 0, tags=("housing", "j20"), place="u09t")
    b = post(BEN, UNKNOWN_KIND, 0, tags=("housing",), place="u0")
    c = post(CY, "note", 0, place="gcpv")
    ts = TraceSet([a, b, c])

    def shown(where: FeedFilter) -> set[bytes]:
        return {r.trace.id for r in ts.feed(T0 + HOUR, where)}

    assert shown(FeedFilter()) == {a.id, b.id, c.id}
    assert shown(FeedFilter(tags=frozenset({"housing"}))) == {a.id, b.id}
    assert shown(FeedFilter(tags=frozenset({"housing", "j20"}))) == {a.id}
    assert shown(FeedFilter(place="u0")) == {a.id, b.id}
    assert shown(FeedFilter(place="u09t")) == {a.id}
    assert shown(FeedFilter(author=CY.public_key)) == {c.id}
    assert shown(FeedFilter(kinds=frozenset({UNKNOWN_KIND}))) == {b.id}


# -- counts -----------------------------------------------------------------------------------


def test_confirm_and_dispute_count_distinct_authors_by_their_latest_word() -> None:
    t = post(ANA, "report", 0)
    answers = [post(BEN, "note", HOUR, refs=(t,)), post(BEN, UNKNOWN_KIND, HOUR, refs=(t,))]
    cy_dispute = post(CY, "dispute", 90 * 60, refs=(t,))
    meta = [
        post(BEN, "confirm", HOUR, refs=(t,)),
        post(BEN, "confirm", 2 * HOUR, refs=(t,)),  # same author: still one
        post(CY, "confirm", HOUR, refs=(t,)),
        cy_dispute,  # CY's latest word: CY counts as disputing, not as confirming (§6.6)
        post(ANA, "confirm", HOUR, refs=(t,)),  # the author's own: not counted
        post(DEE, "dispute", HOUR, refs=(t,)),
        post(DEE, "dispute", 2 * HOUR, refs=(t,)),
        post(BEN, "echo", HOUR, refs=(t,)),
        post(ANA, "echo", HOUR, refs=(t,)),
    ]
    ts = TraceSet([t, *answers, *meta])
    now = T0 + 3 * HOUR
    assert ts.counts(t, now) == Counts(answers=2, echoes=1, confirms=1, disputes=2)
    assert ts.answers(t, now) == sorted(answers, key=lambda r: (r.created, r.id))
    # A retracted word no longer counts: CY's confirm before it is CY's word again.
    unsaid = post(CY, "retract", 2 * HOUR, refs=(cy_dispute,))
    assert ts.merge([unsaid]).counts(t, now) == Counts(answers=2, echoes=1, confirms=2, disputes=1)
    # Two words in the same second: the greater id is the latest.
    both = [post(DEE, "confirm", 2 * HOUR, refs=(t,)), post(DEE, "dispute", 2 * HOUR, refs=(t,))]
    last = max(both, key=lambda r: r.id).kind
    counts = ts.merge(both).counts(t, now)
    assert (counts.confirms, counts.disputes) == ((2, 1) if last == "confirm" else (1, 2))


def test_counts_drop_what_has_expired() -> None:
    t = post(ANA, "report", 0, ttl=MAX_TTL)
    short = post(BEN, "confirm", 0, ttl=HOUR, refs=(t,))
    long = post(CY, "confirm", 0, ttl=DAY, refs=(t,))
    ts = TraceSet([t, short, long])
    assert ts.counts(t, T0).confirms == 2
    assert ts.counts(t, T0 + HOUR).confirms == 1
    assert ts.counts(t, T0 + DAY).confirms == 0


# -- heat orders exactly as intensity does ------------------------------------------------------

support_lists = st.lists(st.integers(T0 - 20 * DAY, T0), min_size=1, max_size=8)


def sign(x: float) -> int:
    return (x > 0) - (x < 0)


@settings(max_examples=300, deadline=None)
@given(support_lists, support_lists, st.integers(T0, T0 + 20 * DAY))
def test_heat_orders_as_intensity_does(one: list[int], two: list[int], now: int) -> None:
    one, two = sorted(one), sorted(two)
    i1, i2 = intensity_of(one, now), intensity_of(two, now)
    h1, h2 = heat_of(one), heat_of(two)
    # intensity = 2^(heat − now/H), up to rounding.
    for i, h in ((i1, h1), (i2, h2)):
        assert math.isclose(i, 2.0 ** (h - now / H), rel_tol=1e-9)
    if math.isclose(i1, i2, rel_tol=1e-9):
        # A (near) tie: heat must see a (near) tie too. Rounding decides the exact sign.
        assert math.isclose(h1, h2, rel_tol=0, abs_tol=1e-8)
    else:
        assert sign(h1 - h2) == sign(i1 - i2)


@settings(max_examples=200, deadline=None)
@given(support_lists, support_lists)
def test_heat_order_is_the_same_at_every_now(one: list[int], two: list[int]) -> None:
    one, two = sorted(one), sorted(two)
    if math.isclose(heat_of(one), heat_of(two), rel_tol=0, abs_tol=1e-8):
        return
    signs = {
        sign(intensity_of(one, now) - intensity_of(two, now))
        for now in (T0, T0 + HOUR, T0 + 3 * DAY, T0 + 19 * DAY)
    }
    assert signs == {sign(heat_of(one) - heat_of(two))}


def test_equal_support_gives_equal_heat_and_exact_ties() -> None:
    assert heat_of([T0, T0]) == heat_of([T0 + H])  # two halves make one whole
    assert heat_of([T0, T0 + 5]) == heat_of([T0 + 5, T0])
    assert intensity_of([T0, T0], T0 + H) == intensity_of([T0 + H], T0 + H) == 1.0


def test_heat_of_traces_orders_as_their_intensity() -> None:
    a = post(ANA, "callout", 0, ttl=MAX_TTL)
    b = post(BEN, "callout", 2 * DAY, ttl=MAX_TTL)
    echoes = [post(p, "echo", DAY, ttl=MAX_TTL, refs=(a,)) for p in (BEN, CY, DEE)]
    ts = TraceSet([a, b, *echoes])
    for now in (T0 + 2 * DAY, T0 + 5 * DAY, T0 + 20 * DAY):
        by_heat = sorted((a, b), key=lambda t: ts.heat(t, now))
        by_intensity = sorted((a, b), key=lambda t: ts.intensity(t, now))
        assert by_heat == by_intensity
    assert ts.heat(a, T0 + 2 * DAY) > ts.heat(b, T0 + 2 * DAY)
