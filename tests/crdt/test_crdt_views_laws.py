"""The CRDT laws of TraceSet (DESIGN.md §2 "Merge rules"), as properties over generated sets.

Merge is set union, and every view is a pure function of (set, now): so merge is commutative,
associative and idempotent, the order and repetition of delivery never matter, and garbage
collection never changes anything visible at or after the time it was run for.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stig.crdt import kinds
from stig.crdt.bounds import DAY, HOUR, MAX_TTL
from stig.crdt.compose import compose
from stig.crdt.mutes import followed_mutes
from stig.crdt.trace import Trace
from stig.crdt.validate import validate
from stig.crdt.views import Columns, FeedFilter, Mutes, Referrer, TraceSet, columns, standing
from stig.crypto.persona import Persona
from tests.crdt.strategies import (
    ANA,
    BEN,
    CY,
    PERSONAS,
    SET_KINDS,
    T0,
    histories,
    interesting_nows,
)

ALL_KINDS = FeedFilter(kinds=frozenset(SET_KINDS))


def views(ts: TraceSet, now: int) -> dict[str, Any]:
    """Everything a node can show at ``now``, in comparable form."""
    per_trace = {
        t.id: (
            ts.is_hidden(t),
            ts.is_visible(t, now),
            ts.effective_expiry(t),
            ts.intensity(t, now),
            ts.heat(t, now),
            tuple(ts.support_times(t, now)),
            ts.counts(t, now),
            tuple(a.id for a in ts.answers(t, now)),
        )
        for t in ts
    }
    # Subjective moderation (stig.crdt.mutes): for the same follow list, the same mutes and
    # the same feed, whatever the order traces arrived in.
    muted = {
        follows: followed_mutes(ts, follows, now)
        for follows in (frozenset({ANA.public_key}), frozenset({ANA.public_key, BEN.public_key}))
    }
    return {
        "visible": [t.id for t in ts.visible(now)],
        "per_trace": per_trace,
        "feed": ts.feed(now),
        "feed_all_kinds": ts.feed(now, ALL_KINDS),
        "feed_top3": ts.feed(now, limit=3),
        "muted": muted,
        "feed_muted": {
            follows: ts.feed(now, ALL_KINDS, mutes=Mutes(authors=authors))
            for follows, authors in muted.items()
        },
    }


def visible_views(ts: TraceSet, now: int) -> dict[str, Any]:
    """What GC promises to keep: the visible traces with their numbers, and the feed."""
    visible = ts.visible(now)
    return {
        "visible": [t.id for t in visible],
        "per_trace": {
            t.id: (ts.intensity(t, now), ts.effective_expiry(t), ts.counts(t, now)) for t in visible
        },
        "feed": ts.feed(now),
        "feed_all_kinds": ts.feed(now, ALL_KINDS),
    }


def same_views(one: TraceSet, two: TraceSet, nows: list[int]) -> None:
    assert one.ids() == two.ids()
    assert len(one) == len(two)
    for now in nows:
        assert views(one, now) == views(two, now), f"views differ at now={now}"


@st.composite
def history_and_nows(draw: st.DrawFn, max_nows: int = 6) -> tuple[list[Trace], list[int]]:
    traces = draw(histories())
    candidates = interesting_nows(traces)
    nows = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=max_nows, unique=True))
    return traces, sorted(nows)


@st.composite
def subsets(draw: st.DrawFn, traces: list[Trace]) -> list[Trace]:
    """A random sub-list (overlapping with other draws), in a random order."""
    mask = draw(st.lists(st.booleans(), min_size=len(traces), max_size=len(traces)))
    return draw(st.permutations([t for t, keep in zip(traces, mask, strict=True) if keep]))


@settings(max_examples=60, deadline=None)
@given(histories())
def test_generated_histories_are_valid_traces(traces: list[Trace]) -> None:
    for t in traces:
        assert validate(t.encoded, t.created) == t


@settings(max_examples=80, deadline=None)
@given(history_and_nows(max_nows=4), st.data())
def test_merge_is_commutative_associative_idempotent(
    case: tuple[list[Trace], list[int]], data: st.DataObject
) -> None:
    traces, nows = case
    a, b, c = (TraceSet(data.draw(subsets(traces), label=name)) for name in "abc")

    assert a.merge(b).ids() == b.merge(a).ids() == a.ids() | b.ids()
    same_views(a.merge(b), b.merge(a), nows)

    left, right = a.merge(b).merge(c), a.merge(b.merge(c))
    assert left.ids() == right.ids() == a.ids() | b.ids() | c.ids()
    same_views(left, right, nows)

    same_views(a.merge(a), a, nows)
    same_views(a.merge(a.merge(b)), a.merge(b), nows)
    same_views(a.merge([]), a, nows)
    same_views(TraceSet().merge(a), a, nows)


@settings(max_examples=80, deadline=None)
@given(history_and_nows(), st.data())
def test_any_delivery_order_with_duplicates_gives_the_same_views(
    case: tuple[list[Trace], list[int]], data: st.DataObject
) -> None:
    traces, nows = case
    reference = TraceSet(traces)
    if traces:
        repeats = data.draw(st.lists(st.sampled_from(traces), max_size=2 * len(traces)))
    else:
        repeats = []
    deliveries = data.draw(st.permutations([*traces, *repeats]), label="order")

    one_by_one = TraceSet()
    for t in deliveries:
        one_by_one = one_by_one.merge([t])
    same_views(one_by_one, reference, nows)

    # In batches, merged into whichever side: still the same state.
    cuts = sorted(data.draw(st.lists(st.integers(0, len(deliveries)), max_size=4), label="cuts"))
    batched = TraceSet()
    for start, end in zip([0, *cuts], [*cuts, len(deliveries)], strict=True):
        batch = TraceSet(deliveries[start:end])
        batched = batch.merge(batched) if data.draw(st.booleans()) else batched.merge(batch)
    same_views(batched, reference, nows)

    same_views(TraceSet(deliveries), reference, nows)


@settings(max_examples=80, deadline=None)
@given(histories(), st.data())
def test_collection_never_changes_what_is_shown(traces: list[Trace], data: st.DataObject) -> None:
    full = TraceSet(traces)
    nows = interesting_nows(traces)
    t0 = data.draw(st.sampled_from(nows), label="t0")
    collected = full.collect(t0)
    assert collected.ids() <= full.ids()
    later = [t for t in nows if t >= t0]
    for now in data.draw(st.lists(st.sampled_from(later), min_size=1, max_size=8, unique=True)):
        assert visible_views(collected, now) == visible_views(full, now), f"t0={t0} now={now}"
    # Only what can never show again is dropped, and collecting twice is collecting once.
    for t in traces:
        if t.id not in collected:
            assert not any(full.is_visible(t, now) for now in later)
    t1 = data.draw(st.sampled_from(later), label="t1")
    assert collected.collect(t1).ids() == full.collect(t1).ids()
    assert collected.collect(t0).ids() == collected.ids()


@settings(max_examples=80, deadline=None)
@given(histories(), st.data())
def test_collection_on_partial_replicas_never_reveals(
    traces: list[Trace], data: st.DataObject
) -> None:
    """Replicas that each collected what *they* knew to be expired, then merged, may lack a
    trace that a supporter they had not seen yet kept alive (it comes back by sync), but they
    never show anything the full set does not: a retract or burn is never undone by collection,
    and no trace lives longer or counts more."""
    full = TraceSet(traces)
    nows = interesting_nows(traces)
    t0 = data.draw(st.sampled_from(nows), label="t0")
    # Every trace reaches at least one of three replicas.
    homes = [data.draw(st.sets(st.integers(0, 2), min_size=1), label="replicas") for _ in traces]
    replicas = [TraceSet(t for t, h in zip(traces, homes, strict=True) if i in h) for i in range(3)]
    merged = TraceSet()
    for replica in replicas:
        merged = merged.merge(replica.collect(t0))
    assert merged.ids() <= full.ids()
    for t in merged:
        if merged.is_hidden(t):
            assert full.is_hidden(t)
        elif full.is_hidden(t):
            assert merged.effective_expiry(t) <= t0  # its hider went only after it expired
        assert merged.effective_expiry(t) <= max(full.effective_expiry(t), t0)
    for now in (t for t in nows if t >= t0):
        shown = {t.id for t in merged.visible(now)}
        assert shown <= {t.id for t in full.visible(now)}, f"t0={t0} now={now}"
        for t in merged.visible(now):
            assert merged.counts(t, now).echoes <= full.counts(t, now).echoes
            assert merged.intensity(t, now) <= full.intensity(t, now)


def _words(ts: TraceSet, t: Trace, now: int) -> dict[bytes, list[Trace]]:
    """Every visible confirm or dispute of ``t`` by another author, by author."""
    found: dict[bytes, list[Trace]] = {}
    for r in ts.referrers(t.id):
        if r.kind in kinds.VERDICT_KINDS and r.author != t.author and ts.is_visible(r, now):
            found.setdefault(r.author, []).append(r)
    return found


def _referrers(ts: TraceSet, trace: Trace, *, with_ids: bool) -> list[Referrer]:
    found = [
        Referrer.of(r, ts.is_hidden(r), ts.effective_expiry(r)) for r in ts.referrers(trace.id)
    ]
    return found if with_ids else [r._replace(id=None) for r in found]


@settings(max_examples=150, deadline=None)
@given(history_and_nows(), st.sets(st.sampled_from(PERSONAS), max_size=2))
def test_standing_over_referrers_ranks_as_the_set_does(
    case: tuple[list[Trace], list[int]], muting: set[Persona]
) -> None:
    """views.standing — the rules in one pass over typed referrers, what a store ranks with —
    gives TraceSet.rank for every visible trace, muted authors or not; None exactly for the
    traces that are not visible, and, without ids, at most where one author's two words tie."""
    traces, nows = case
    ts = TraceSet(traces)
    muted = frozenset(p.public_key for p in muting)
    burned: dict[bytes, int] = {}
    for t in ts:
        if t.kind == kinds.BURN:
            burned[t.author] = max(burned.get(t.author, -1), t.created)
    for now in nows:
        for t in ts:
            if t.author in muted:
                continue  # never ranked: a muted author's traces are not shown
            burned_until = burned.get(t.author, -1)
            exact = standing(t, _referrers(ts, t, with_ids=True), now, burned_until, muted)
            if not ts.is_visible(t, now):
                assert exact is None
                continue
            assert exact is not None
            assert exact.rank(now) == ts.rank(t, now, muted)
            assert exact.since <= now < exact.until
            blind = standing(t, _referrers(ts, t, with_ids=False), now, burned_until, muted)
            if blind is None:
                assert any(
                    len({r.kind for r in said if r.created == max(x.created for x in said)}) > 1
                    for said in _words(ts, t, now).values()
                )
            else:
                assert blind.rank(now) == exact.rank(now)


@settings(max_examples=150, deadline=None)
@given(history_and_nows())
def test_columns_over_referrers_are_the_set_s_own(case: tuple[list[Trace], list[int]]) -> None:
    """views.columns — what a store indexes, from typed referrers — gives TraceSet's hidden
    flag, effective expiry and heat for every trace, visible or not, at every ``now``."""
    traces, nows = case
    ts = TraceSet(traces)
    burned: dict[bytes, int] = {}
    for t in ts:
        if t.kind == kinds.BURN:
            burned[t.author] = max(burned.get(t.author, -1), t.created)
    for now in nows:
        for t in ts:
            got = columns(
                t.author,
                t.created,
                t.expires,
                _referrers(ts, t, with_ids=False),
                now,
                burned.get(t.author, -1),
            )
            assert got == Columns(ts.is_hidden(t), ts.effective_expiry(t), ts.heat(t, now))


def test_standing_decides_a_same_second_word_by_id_or_not_at_all() -> None:
    """One author's confirms and dispute made in the same second: the greatest id is their
    word (§6.6), whatever the order the referrers come in. With ids, standing says which;
    without (a store's refs), it says None."""
    t = compose(ANA, kinds.CALLOUT, "x", now=T0, ttl=7 * DAY)
    confirms = sorted(
        (compose(CY, kinds.CONFIRM, str(i), now=T0 + HOUR, refs=[t.id]) for i in range(6)),
        key=lambda w: w.id,
    )
    dispute = compose(CY, kinds.DISPUTE, now=T0 + HOUR, refs=[t.id])
    other = compose(BEN, kinds.CONFIRM, now=T0 + HOUR, refs=[t.id])
    now = T0 + 2 * HOUR
    for words in ([*confirms, dispute], [dispute, *confirms], [*confirms[::-1], dispute]):
        ts = TraceSet([t, other, *words])
        ordered = sorted(ts.referrers(t.id), key=lambda r: words.index(r) if r in words else -1)
        with_ids = [Referrer.of(r, ts.is_hidden(r), ts.effective_expiry(r)) for r in ordered]
        exact = standing(t, with_ids, now)
        assert exact is not None and exact.rank(now) == ts.rank(t, now)
        blind = [r._replace(id=None) for r in with_ids]
        assert standing(t, blind, now) is None
        assert standing(t, [r for r in blind if r.author != CY.public_key], now) is not None


@settings(max_examples=120, deadline=None)
@given(history_and_nows())
def test_one_author_counts_once_on_the_side_of_their_latest_word(
    case: tuple[list[Trace], list[int]],
) -> None:
    """docs/protocol.md §6.6: confirms and disputes count each other author once, by their
    latest visible word (greatest created, then id) — never on both sides."""
    traces, nows = case
    ts = TraceSet(traces)
    for now in nows:
        for t in ts.visible(now):
            words = _words(ts, t, now)
            counts = ts.counts(t, now)
            assert counts.confirms + counts.disputes == len(words)
            latest = [max(said, key=lambda r: (r.created, r.id)).kind for said in words.values()]
            assert counts.confirms == latest.count(kinds.CONFIRM)
            assert counts.disputes == latest.count(kinds.DISPUTE)


@settings(max_examples=80, deadline=None)
@given(history_and_nows(max_nows=1), st.sampled_from(PERSONAS), st.data())
def test_a_later_word_replaces_an_authors_earlier_one(
    case: tuple[list[Trace], list[int]], persona: Persona, data: st.DataObject
) -> None:
    """Whatever an author said of T before, a new visible word of theirs is what counts; the
    other authors' counts do not move, and neither does T's life (a word is not a take-back of
    support: §6.6)."""
    traces, (now,) = case
    ts = TraceSet(traces)
    targets = [t for t in ts.visible(now) if t.author != persona.public_key]
    if not targets:
        return
    t = data.draw(st.sampled_from(targets), label="target")
    kind = data.draw(st.sampled_from(sorted(kinds.VERDICT_KINDS)), label="kind")
    before = ts.counts(t, now)
    earlier = _words(ts, t, now).get(persona.public_key, [])
    made = max([now, *(r.created + 1 for r in earlier)])
    word = compose(persona, kind, now=made, ttl=MAX_TTL, refs=[t.id])
    after = ts.merge([word])
    if not after.is_visible(word, now) or after.is_hidden(word):
        return  # a burn by the persona later than the word hides it
    counts = after.counts(t, now)
    side = {kinds.CONFIRM: "confirms", kinds.DISPUTE: "disputes"}
    had = max(earlier, key=lambda r: (r.created, r.id)).kind if earlier else None
    for k, field in side.items():
        expected = getattr(before, field) + (k == kind) - (k == had)
        assert getattr(counts, field) == expected, (field, had, kind)
    assert counts.echoes == before.echoes
    assert after.effective_expiry(t) >= ts.effective_expiry(t)
