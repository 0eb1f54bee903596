"""The contour (stig/crdt/contour.py): its rules by example, and its laws as properties.

The histories are those of tests/crdt/strategies.py, composed again with tags and places (and
so new ids, which their referrers follow), so that retracts, burns, echoes and expiry interact
with what the contour counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stig.crdt import kinds
from stig.crdt.bounds import DAY, HOUR, MINUTE
from stig.crdt.compose import compose
from stig.crdt.contour import PLACE_PREFIX, UNCOUNTED_KINDS, Contour, contour, window
from stig.crdt.sealed import seal_trace
from stig.crdt.trace import Trace
from stig.crdt.views import TraceSet
from stig.crypto.group import Epoch
from stig.crypto.persona import Persona
from tests.crdt.strategies import (
    ANA,
    BEN,
    BY_KEY,
    PERSONAS,
    T0,
    histories,
    interesting_nows,
    post,
)

# Tags whose code point order is not their length or ASCII order (ties are broken by name,
# and SqliteStore must break them the same way: tests/store/test_store_contour.py).
TAGS = ("food", "housing", "j20", "z", "é", "日本", "\U0001f331", "ｱ")
PLACES = ("", "", "u0", "u09", "u09t", "u09w", "u0d", "gcpv", "gcp")

ALL = 10**6
"""A top that keeps every tag and place."""


def recompose(
    traces: Sequence[Trace],
    *,
    shift: int = 0,
    who: Callable[[bytes], Persona] = lambda author: BY_KEY[author],
    tags: Callable[[int], Sequence[str]] = lambda _: (),
    place: Callable[[int], str] = lambda _: "",
) -> list[Trace]:
    """The same history composed again, in order: times moved by ``shift``, each trace by the
    persona ``who`` says, with the tags and place given for its position. Refs follow the new
    ids (a dangling ref stays as it is)."""
    out: list[Trace] = []
    new_id: dict[bytes, bytes] = {}
    for i, t in enumerate(traces):
        again = compose(
            who(t.author),
            t.kind,
            t.body,
            now=t.created + shift,
            ttl=t.expires - t.created,
            tags=tags(i),
            place=place(i),
            refs=[new_id.get(ref, ref) for ref in t.refs],
        )
        new_id[t.id] = again.id
        out.append(again)
    return out


@st.composite
def tagged_histories(draw: st.DrawFn, max_size: int = 12) -> list[Trace]:
    """``histories()`` with tags and places from small pools (ties in every ranking)."""
    plain = draw(histories(max_size=max_size))
    tags = [draw(st.lists(st.sampled_from(TAGS), max_size=3, unique=True)) for _ in plain]
    places = [draw(st.sampled_from(PLACES)) for _ in plain]
    return recompose(plain, tags=tags.__getitem__, place=places.__getitem__)


DAYS = st.sampled_from([1, 2, 7, 14, 60, 400])
TOPS = st.sampled_from([0, 1, 2, 3, ALL])


def counted(ts: TraceSet, now: int) -> list[Trace]:
    """What the contour counts, straight from its definition."""
    return [t for t in ts if t.kind not in UNCOUNTED_KINDS and ts.is_visible(t, now)]


def in_window(trace: Trace, now: int, days: int) -> bool:
    return trace.created // DAY >= now // DAY - days + 1


def ranked_items(c: Contour) -> tuple[list[tuple[str, tuple[int, ...]]], list[tuple[str, int]]]:
    """Both dicts with their order, which ``==`` on dicts ignores."""
    return list(c.by_tag.items()), list(c.by_place.items())


def same(one: Contour, two: Contour) -> None:
    assert one == two
    assert ranked_items(one) == ranked_items(two)


@st.composite
def history_and_now(draw: st.DrawFn) -> tuple[list[Trace], int]:
    traces = draw(tagged_histories())
    return traces, draw(st.sampled_from(interesting_nows(traces)))


# -- rules, by example ---------------------------------------------------------------------


def test_an_empty_set_has_columns_and_nothing_in_them() -> None:
    c = contour(TraceSet(), T0, days=3)
    assert c == Contour(days=3, first_day=T0 // DAY - 2, by_tag={}, by_place={}, total=(0, 0, 0))


def test_what_counts() -> None:
    """Activity counts, echoes and disputes too; retracts, burns, the hidden, the expired and
    a trace with no place (for by_place) do not."""
    now = T0 + 3 * DAY
    callout = post(ANA, kinds.CALLOUT, 0, tags=("food",), place="u09t")
    echo = post(BEN, kinds.ECHO, DAY, refs=(callout,), tags=("food", "j20"), place="u0")
    dispute = post(BEN, kinds.DISPUTE, DAY, refs=(callout,), place="gcpv")
    future_kind = post(BEN, "vote2", 2 * DAY, tags=("j20",))
    retracted = post(BEN, kinds.NOTE, 2 * DAY, tags=("food",), place="u09t")
    retract = post(BEN, kinds.RETRACT, 2 * DAY + 1, refs=(retracted,), tags=("food",))
    expired = post(ANA, kinds.NOTE, 0, ttl=HOUR, tags=("food",), place="u09t")
    burned = post(ANA, kinds.NOTE, 0, tags=("gone",), place="u09t")
    ts = TraceSet([callout, echo, dispute, future_kind, retracted, retract, expired])
    c = contour(ts, now, days=4)
    assert c.first_day == now // DAY - 3
    day0 = T0 // DAY - c.first_day
    assert c.total == tuple(
        {day0: 1, day0 + 1: 2, day0 + 2: 1}.get(col, 0) for col in range(c.days)
    )
    assert list(c.by_tag.items()) == [
        ("food", tuple({day0: 1, day0 + 1: 1}.get(col, 0) for col in range(c.days))),
        ("j20", tuple({day0 + 1: 1, day0 + 2: 1}.get(col, 0) for col in range(c.days))),
    ]
    assert list(c.by_place.items()) == [("gcp", 1), ("u0", 1), ("u09", 1)]

    # Ana's burn hides her callout and her other note, whatever reached this node.
    burn = post(ANA, kinds.BURN, DAY)
    c2 = contour(ts.merge([burned, burn]), now, days=4)
    assert sum(c2.total) == sum(c.total) - 1
    assert "gone" not in c2.by_tag
    assert c2.by_place == {"gcp": 1, "u0": 1}


def test_sealed_envelopes_are_not_counted() -> None:
    """An envelope's one tag is a group's tag of the day: it must never show."""
    inner = post(ANA, kinds.CALLOUT, 0, tags=("food",), place="u09t")
    envelope = seal_trace(inner, Epoch.of(bytes(32), inner.expires // DAY), T0)
    assert envelope.tags
    c = contour(TraceSet([envelope]), T0, 14, ALL, ALL)
    assert (sum(c.total), c.by_tag, c.by_place) == (0, {}, {})


def test_columns_are_utc_days_and_the_future_is_today() -> None:
    midnight = (T0 // DAY + 1) * DAY
    now = midnight - MINUTE
    early = compose(ANA, kinds.NOTE, "", now=midnight - DAY, tags=["a"])  # today, 00:00
    late = compose(ANA, kinds.NOTE, "", now=midnight - 1, tags=["a"])
    ahead = compose(BEN, kinds.NOTE, "", now=midnight + 5 * MINUTE, tags=["a"])  # fast clock
    yesterday = compose(BEN, kinds.NOTE, "", now=midnight - DAY - 1, tags=["a"], place="u0")
    old = compose(BEN, kinds.NOTE, "", now=midnight - 3 * DAY, tags=["b"], place="u0")
    c = contour(TraceSet([early, late, ahead, yesterday, old]), now, days=2)
    assert c.first_day == midnight // DAY - 2
    assert c.total == (1, 3)
    assert c.by_tag == {"a": (1, 3)}  # "b" is on no day of the window
    assert c.by_place == {"u0": 2}  # but the old trace is still alive there


def test_tops_and_ties() -> None:
    traces = [
        compose(p, kinds.NOTE, str(i), now=T0 + i, tags=tags, place=place)
        for i, (p, tags, place) in enumerate(
            [
                (ANA, ["b", "c"], "u09t"),
                (BEN, ["a", "c"], "u0"),
                (ANA, ["a", "d"], "gcpv"),
                (BEN, ["c"], "gcp"),
            ]
        )
    ]
    c = contour(TraceSet(traces), T0 + HOUR, days=1, top_tags=2, top_places=1)
    assert list(c.by_tag) == ["c", "a"]  # c: 3; a: 2, before b and d (1) by name
    assert list(c.by_place) == ["gcp"]  # gcp: 2, u0: 1 and u09: 1
    assert contour(TraceSet(traces), T0, top_tags=0, top_places=0).by_tag == {}


def test_bad_sizes_are_refused() -> None:
    for days, top in ((0, 1), (-1, 1), (1, -1)):
        with pytest.raises(ValueError):
            contour(TraceSet(), T0, days=days, top_tags=top)
    with pytest.raises(ValueError):
        contour(TraceSet(), T0, top_places=-1)
    assert window(T0, 1, 0, 0) == (T0 // DAY, T0 // DAY)


# -- laws ----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(history_and_now(), DAYS, TOPS, TOPS)
def test_shape_and_sums(case: tuple[list[Trace], int], days: int, tags: int, places: int) -> None:
    """Columns are ``days`` long; ``total`` counts every counted trace of the window once, each
    tag row counts those with the tag (so it is never above ``total``), ``by_place`` every
    counted trace with a place, whatever its day; the tops keep the best, best first."""
    traces, now = case
    ts = TraceSet(traces)
    c = contour(ts, now, days, tags, places)
    alive = counted(ts, now)
    window_ = [t for t in alive if in_window(t, now, days)]
    assert c.days == days and len(c.total) == days
    assert c.first_day == now // DAY - days + 1
    assert sum(c.total) == len(window_)
    assert len(c.by_tag) <= tags and len(c.by_place) <= places
    for tag, row in c.by_tag.items():
        assert len(row) == days
        assert all(n <= total for n, total in zip(row, c.total, strict=True))
        assert sum(row) == sum(1 for t in window_ if tag in t.tags) > 0
    for cell, n in c.by_place.items():
        assert len(cell) <= PLACE_PREFIX
        assert n == sum(1 for t in alive if t.place and t.place[:PLACE_PREFIX] == cell) > 0
    sums = [sum(row) for row in c.by_tag.values()]
    assert sums == sorted(sums, reverse=True)
    assert list(c.by_place.values()) == sorted(c.by_place.values(), reverse=True)
    # A smaller top is the start of a larger one, rows and all.
    full = contour(ts, now, days, ALL, ALL)
    assert ranked_items(c) == (
        list(full.by_tag.items())[:tags],
        list(full.by_place.items())[:places],
    )
    assert sum(full.by_place.values()) == sum(1 for t in alive if t.place)


@settings(max_examples=100, deadline=None)
@given(tagged_histories(), st.data())
def test_order_of_delivery_and_merging_does_not_matter(
    traces: list[Trace], data: st.DataObject
) -> None:
    now = data.draw(st.sampled_from(interesting_nows(traces)), label="now")
    expected = contour(TraceSet(traces), now, 7, 3, 3)
    order = data.draw(st.permutations(traces), label="order")
    cut = data.draw(st.integers(0, len(traces)), label="cut")
    repeats = data.draw(st.lists(st.sampled_from(traces), max_size=3) if traces else st.just([]))
    same(contour(TraceSet(order), now, 7, 3, 3), expected)
    merged = TraceSet(order[:cut] + repeats).merge(order[cut:] + repeats)
    same(contour(merged, now, 7, 3, 3), expected)
    same(contour(TraceSet(order[cut:]).merge(order[:cut]), now, 7, 3, 3), expected)


@settings(max_examples=100, deadline=None)
@given(history_and_now(), DAYS)
def test_hidden_traces_leave_no_mark(case: tuple[list[Trace], int], days: int) -> None:
    """Taking out a hidden trace (but a retract or a burn, which hide others) changes
    nothing: it was not counted, and a hidden trace supports nothing."""
    traces, now = case
    ts = TraceSet(traces)
    hidden = {t.id for t in ts if ts.is_hidden(t) and t.kind not in kinds.PINNED_LIFE_KINDS}
    without = TraceSet(t for t in traces if t.id not in hidden)
    same(contour(without, now, days, ALL, ALL), contour(ts, now, days, ALL, ALL))


@settings(max_examples=100, deadline=None)
@given(history_and_now(), st.data())
def test_a_retract_takes_its_trace_out_and_adds_nothing(
    case: tuple[list[Trace], int], data: st.DataObject
) -> None:
    traces, now = case
    ts = TraceSet(traces)
    alive = counted(ts, now)
    if not alive:
        return
    target = data.draw(st.sampled_from(sorted(alive, key=lambda t: t.id)), label="target")
    when = data.draw(st.sampled_from([target.created, target.created + HOUR, now]))
    retract = compose(
        BY_KEY[target.author],
        kinds.RETRACT,
        "",
        now=max(when, target.created),
        tags=["food"],
        place="u09t",
        refs=[target.id],
    )
    before = contour(ts, now, 400, ALL, ALL)
    after = contour(ts.merge([retract]), now, 400, ALL, ALL)
    assert all(a <= b for a, b in zip(after.total, before.total, strict=True))
    assert sum(after.total) <= sum(before.total) - in_window(target, now, 400)
    for cell, n in after.by_place.items():
        assert n <= before.by_place[cell]
    if target.place:
        cell = target.place[:PLACE_PREFIX]
        assert after.by_place.get(cell, 0) <= before.by_place[cell] - 1
    for tag, row in after.by_tag.items():
        assert all(a <= b for a, b in zip(row, before.by_tag[tag], strict=True))


@settings(max_examples=60, deadline=None)
@given(history_and_now(), st.permutations(PERSONAS), st.integers(-30, 30), DAYS, TOPS)
def test_who_does_not_matter_and_time_only_moves_the_columns(
    case: tuple[list[Trace], int], personas: list[Persona], days_moved: int, days: int, top: int
) -> None:
    """The same history posted by other people (each person consistently another) gives the
    same contour: it says what, never who. The same history whole days later, read as many
    days later, gives the same contour on columns that many days later."""
    traces, now = case
    index = {p.public_key: i for i, p in enumerate(PERSONAS)}
    tags = [t.tags for t in traces]
    places = [t.place for t in traces]
    moved = recompose(
        traces,
        shift=days_moved * DAY,
        who=lambda author: personas[index[author]],
        tags=tags.__getitem__,
        place=places.__getitem__,
    )
    one = contour(TraceSet(traces), now, days, top, top)
    two = contour(TraceSet(moved), now + days_moved * DAY, days, top, top)
    assert two.first_day == one.first_day + days_moved
    same(Contour(one.days, two.first_day, one.by_tag, one.by_place, one.total), two)


@settings(max_examples=100, deadline=None)
@given(history_and_now(), DAYS, st.integers(1, 30))
def test_a_wider_window_adds_older_columns_only(
    case: tuple[list[Trace], int], days: int, more: int
) -> None:
    traces, now = case
    ts = TraceSet(traces)
    narrow = contour(ts, now, days, ALL, ALL)
    wide = contour(ts, now, days + more, ALL, ALL)
    assert wide.total[more:] == narrow.total
    assert wide.by_place == narrow.by_place
    for tag, row in narrow.by_tag.items():
        assert wide.by_tag[tag][more:] == row


@settings(max_examples=100, deadline=None)
@given(history_and_now(), st.integers(0, DAY - 1), DAYS)
def test_later_the_same_day_nothing_grows(
    case: tuple[list[Trace], int], later: int, days: int
) -> None:
    """Within one UTC day the columns stay put and traces only expire: no count grows."""
    traces, now = case
    then = min(now + later, (now // DAY + 1) * DAY - 1)
    ts = TraceSet(traces)
    before, after = contour(ts, now, days, ALL, ALL), contour(ts, then, days, ALL, ALL)
    assert after.first_day == before.first_day
    assert all(a <= b for a, b in zip(after.total, before.total, strict=True))
    for cell, n in after.by_place.items():
        assert n <= before.by_place[cell]
    for tag, row in after.by_tag.items():
        assert all(a <= b for a, b in zip(row, before.by_tag[tag], strict=True))


@settings(max_examples=100, deadline=None)
@given(tagged_histories(), st.data())
def test_garbage_collection_changes_nothing_later(traces: list[Trace], data: st.DataObject) -> None:
    nows = interesting_nows(traces)
    t0 = data.draw(st.sampled_from(nows), label="t0")
    now = data.draw(st.sampled_from([n for n in nows if n >= t0]), label="now")
    ts = TraceSet(traces)
    same(contour(ts.collect(t0), now, 14, 3, 3), contour(ts, now, 14, 3, 3))
