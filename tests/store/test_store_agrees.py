"""SqliteStore, MemoryStore and the pure views agree (stig/store/port.py, stig/crdt/views.py).

The SQLite adapter keeps derived columns (hidden, eff_expires, heat) up to date incrementally
and answers the feed with one index scan; these properties check that whatever the delivery
order, batching, duplication and interleaving of reads and garbage collection, it shows exactly
what ``TraceSet`` says for the same set and time: same ids in the same order, same intensities
(bit for bit: both call the same pure functions), counts, effective expiry, threads, exports,
and the contour (which SqliteStore counts with SQL aggregates instead).

Every example opens a fresh SQLite file in its own temporary directory (no function-scoped
fixtures under Hypothesis), and runs its coroutine with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stig.crdt import kinds
from stig.crdt.bounds import DAY, HOUR, LIFE_CAP, MAX_TTL
from stig.crdt.compose import compose
from stig.crdt.contour import contour
from stig.crdt.trace import Trace
from stig.crdt.views import FeedFilter, Mutes, Ranked, TraceSet
from stig.store import ExportFilter, Hidden, MemoryStore, SqliteStore, Thread
from tests.crdt.strategies import ANA, BEN, BY_KEY, CY, DANGLING_REF, PERSONAS, T0, UNKNOWN_KIND

# -- generated stories: small sets of interacting traces -----------------------------------

TAGS = ("food", "housing", "j20")
PLACES = ("", "", "u0", "u09", "u09t", "gcpv")
WORDS = ("bread", "café", "rent", "march")
STORY_KINDS = (
    *(k for k in kinds.KNOWN_KINDS if k != kinds.SEALED),
    UNKNOWN_KIND,
    kinds.ECHO,
    kinds.ECHO,
    kinds.ECHO,
    kinds.ACTION,
    kinds.CONFIRM,
    kinds.DISPUTE,  # with the confirms: one author's several words on a trace (§6.6)
    kinds.CALLOUT,
    kinds.NOTE,
)
"""Supporting kinds more often than the rest, so several authors back the same trace."""

_STEP = 6 * HOUR  # a quarter of the intensity half-life: many exact ties in intensity
_DELTAS = (-1, 0, 0, 1, HOUR, DAY, 2 * DAY, 7 * DAY, 29 * DAY, 85 * DAY)
_TTLS = (1, HOUR, DAY, 2 * DAY, 7 * DAY, MAX_TTL)


@st.composite
def stories(draw: st.DrawFn, max_size: int = 14) -> list[Trace]:
    """Valid traces by four personas, of mixed kinds (an unknown one too), referencing earlier
    ones (or a trace nobody has), created within a few days with many ties, with tags, places
    and words from small pools so that filters select something."""
    out: list[Trace] = []
    for _ in range(draw(st.integers(0, max_size))):
        kind = draw(st.sampled_from(STORY_KINDS))
        refs: list[Trace] = []
        if out:
            picked = draw(
                st.lists(
                    st.integers(0, len(out) - 1),
                    min_size=1 if kind in kinds.REF_REQUIRED_KINDS else 0,
                    max_size=3,
                    unique=True,
                )
            )
            refs = [out[i] for i in picked]
        ref_ids = {r.id for r in refs}
        if kind in kinds.REF_REQUIRED_KINDS and (not ref_ids or draw(st.integers(0, 5)) == 0):
            ref_ids.add(DANGLING_REF)
        if len(refs) > 0 and draw(st.booleans()):
            persona = BY_KEY[refs[0].author]  # about one's own trace: retracts bite
        else:
            persona = draw(st.sampled_from(PERSONAS))
        if len(refs) > 0 and draw(st.booleans()):
            created = refs[0].created + draw(st.sampled_from(_DELTAS))
        elif out and draw(st.integers(0, 3)) == 0:
            created = draw(st.sampled_from(out)).created  # a tie
        else:
            created = T0 + draw(st.integers(0, 16)) * _STEP
        trace = compose(
            persona,
            kind,
            f"#{len(out)} {draw(st.sampled_from(WORDS))}",
            now=created,
            ttl=draw(st.one_of(st.sampled_from(_TTLS), st.integers(1, MAX_TTL))),
            refs=ref_ids,
            tags=draw(st.lists(st.sampled_from(TAGS), max_size=2, unique=True)),
            place=draw(st.sampled_from(PLACES)),
        )
        out.append(trace)
    return out


def interesting_nows(traces: Sequence[Trace]) -> list[int]:
    """Times at which something changes, and just around them: every trace's creation, its own
    expiry (a supporter's own expiry takes its term out of the heat), its effective expiry and
    its life cap."""
    times = {T0 - 1, T0 + 200 * DAY}
    full = TraceSet(traces)
    for t in traces:
        times.update((t.created, t.created + HOUR))
        for end in (t.expires, full.effective_expiry(t), t.created + LIFE_CAP):
            times.update((end - 1, end, end + 1))
    return sorted(times)


@st.composite
def deliveries(draw: st.DrawFn, traces: list[Trace]) -> list[list[Trace]]:
    """The traces, some repeated, in a random order, cut into batches (some empty)."""
    repeats = draw(st.lists(st.sampled_from(traces), max_size=len(traces))) if traces else []
    order = draw(st.permutations([*traces, *repeats]))
    cuts = sorted(draw(st.lists(st.integers(0, len(order)), max_size=5)))
    return [order[a:b] for a, b in zip([0, *cuts], [*cuts, len(order)], strict=True)]


LIMITS = st.sampled_from([1, 2, 3, 5, 50])

FILTERS = (
    FeedFilter(),
    FeedFilter(kinds=frozenset({*kinds.KNOWN_KINDS, UNKNOWN_KIND})),
    FeedFilter(kinds=frozenset(kinds.META_KINDS)),
    FeedFilter(kinds=frozenset({kinds.ECHO, kinds.NOTE})),
    FeedFilter(kinds=frozenset({UNKNOWN_KIND})),
    FeedFilter(tags=frozenset({"food"})),
    FeedFilter(tags=frozenset({"food", "j20"})),
    FeedFilter(place="u0"),
    FeedFilter(place="u09t"),
    FeedFilter(author=ANA.public_key),
    FeedFilter(author=BEN.public_key, tags=frozenset({"housing"}), place="u"),
)

CONTOURS = ((14, 12, 12), (1, 1, 1), (3, 2, 0), (120, 0, 2))
"""(days, top_tags, top_places) of the contours compared: the screen's, and cuts through ties."""

EXPORTS = (
    ExportFilter(),
    ExportFilter(kinds=frozenset({kinds.ECHO, kinds.RETRACT, kinds.BURN})),
    ExportFilter(tags=frozenset({"food"}), since=T0 + DAY),
)


# -- comparing -----------------------------------------------------------------------------


def summary(items: Sequence[Ranked]) -> list[tuple[Any, ...]]:
    """A readable form of a feed for assertion messages."""
    return [
        (r.trace.id.hex()[:8], r.trace.kind, r.intensity, r.effective_expiry, r.counts)
        for r in items
    ]


async def exported(store: SqliteStore | MemoryStore, now: int, where: ExportFilter) -> list[bytes]:
    return [raw async for raw in store.export(now, where)]


async def assert_agree(
    sql: SqliteStore,
    mem: MemoryStore,
    ref: TraceSet,
    now: int,
    limit: int,
    extra_ids: Sequence[bytes] = (),
    loose: Mapping[bytes, Hidden] | None = None,
    purged: Mapping[bytes, Hidden] | None = None,
) -> None:
    """Everything a node can read at ``now`` is the same in both stores and in ``ref``.

    ``loose``: hidden, purged traces that one store may have collected and the other not yet
    (see ``purged_and_hidden``); for them a thread may be Hidden in one store and None in the
    other, and counts and id lookups may differ. ``purged``: hidden, purged traces whose
    effective expiry SqliteStore stopped following, collected or not: only their thread may be
    Hidden in one store and None in the other. Nothing visible may differ.
    """
    loose = loose or {}
    purged = {**(purged or {}), **loose}
    where_now = f"now=T0{now - T0:+d}"
    for where in FILTERS:
        expected = ref.feed(now, where, limit)
        got_sql = await sql.feed(now, where, limit)
        got_mem = await mem.feed(now, where, limit)
        assert summary(got_sql) == summary(expected), f"sqlite feed {where} at {where_now}"
        assert got_sql == expected, f"sqlite feed {where} at {where_now}"
        assert got_mem == expected, f"memory feed {where} at {where_now}"

    ids = sorted({*ref.ids(), *extra_ids, DANGLING_REF})
    rows = 0
    for tid in ids:
        one, two = await sql.thread(tid, now), await mem.thread(tid, now)
        rows += bool(await sql.resolve(tid.hex()))  # stored, whether visible or not
        if tid in purged and None in (one, two):
            assert {one, two} <= {None, purged[tid]}, f"thread of {tid.hex()[:8]} at {where_now}"
        else:
            assert one == two, f"thread of {tid.hex()[:8]} at {where_now}"
        trace = ref.get(tid)
        if trace is None or ref.effective_expiry(trace) <= now:
            assert two is None  # expired traces are invisible at once, before collection
        elif ref.is_hidden(trace):
            assert two == Hidden(trace.id, trace.kind, trace.author, trace.created)
        else:
            assert isinstance(two, Thread)
            assert two.ranked == ref.rank(trace, now)
            assert [a.trace.id for a in two.answers] == [a.id for a in ref.answers(trace, now)]
            assert [r for r, _ in two.answers_to] == list(trace.refs)
        assert await sql.get(tid) == await mem.get(tid)

    for where_export in EXPORTS:
        expected_bytes = await exported(mem, now, where_export)
        assert await exported(sql, now, where_export) == expected_bytes, where_now
    assert set(await exported(sql, now, ExportFilter())) == {
        t.encoded
        for t in ref
        if (t.kind in kinds.PINNED_LIFE_KINDS or not ref.is_hidden(t))
        and ref.effective_expiry(t) > now
    }

    for days, top_tags, top_places in CONTOURS:
        expected_contour = contour(ref, now, days, top_tags, top_places)
        for store in (sql, mem):
            got_contour = await store.contour(now, days, top_tags, top_places)
            assert got_contour == expected_contour, f"{type(store).__name__} contour {where_now}"
            assert list(got_contour.by_tag) == list(expected_contour.by_tag)
            assert list(got_contour.by_place) == list(expected_contour.by_place)

    for mutes in mutings(ref):
        await assert_agree_muted(sql, mem, ref, now, limit, mutes, purged)

    traces = list(ref)
    assert await sql.reinforced_until(traces) == await mem.reinforced_until(traces)
    for store in (sql, mem):  # what a relay's stats report as live (stig.node.stats)
        live = await store.live_count(now)
        assert len(await store.live_items(now)) <= live <= await store.count()
    if not loose and not purged:
        unexpired = sum(1 for t in ref if ref.effective_expiry(t) > now)
        assert await sql.live_count(now) == await mem.live_count(now) == unexpired
    assert await mem.count() == len(ref)
    assert await sql.count() == rows
    if not loose:
        assert rows == len(ref)
    for prefix in ("", "0", "a", "7f"):
        one_ids, two_ids = await sql.resolve(prefix), await mem.resolve(prefix)
        if not loose:
            assert one_ids == two_ids
        elif len(one_ids) < 10 and len(two_ids) < 10:
            assert set(one_ids) - set(loose) == set(two_ids) - set(loose)


def mutings(ref: TraceSet) -> list[Mutes]:
    """Mutes to read the stores with: an author who supports others (most often), a tag."""
    supporters = sorted(
        {t.author for t in ref if t.kind in kinds.SUPPORT_KINDS},
        key=lambda a: (-sum(t.author == a for t in ref), a),
    )
    tags = sorted({tag for t in ref for tag in t.tags})
    out = [Mutes(authors=frozenset(supporters[:1]))] if supporters else []
    if tags:
        out.append(Mutes(authors=frozenset(supporters[1:2]), tags=frozenset(tags[:1])))
    return out


async def assert_agree_muted(
    sql: SqliteStore,
    mem: MemoryStore,
    ref: TraceSet,
    now: int,
    limit: int,
    mutes: Mutes,
    purged: Mapping[bytes, Hidden],
) -> None:
    """What a node shows with mutes (views.Mutes) is the same in both stores and ``ref``."""
    where_now = f"now=T0{now - T0:+d} mutes={mutes}"
    for where in FILTERS:
        expected = ref.feed(now, where, limit, mutes)
        assert await sql.feed(now, where, limit, mutes) == expected, f"sqlite {where} {where_now}"
        assert await mem.feed(now, where, limit, mutes) == expected, f"memory {where} {where_now}"
    for tid in sorted(ref.ids()):
        one, two = await sql.thread(tid, now, mutes), await mem.thread(tid, now, mutes)
        if tid in purged and None in (one, two):
            continue
        assert one == two, f"thread of {tid.hex()[:8]} {where_now}"
    for days, top_tags, top_places in CONTOURS:
        expected_contour = contour(ref, now, days, top_tags, top_places, mutes)
        for store in (sql, mem):
            got = await store.contour(now, days, top_tags, top_places, mutes)
            assert got == expected_contour, f"{type(store).__name__} contour {where_now}"
    followed = {t.author for t in ref}
    assert await sql.mutes_by(followed, now) == await mem.mutes_by(followed, now)


def purged_and_hidden(traces: Iterable[Trace]) -> dict[bytes, Hidden]:
    """Hidden traces whose bytes SqliteStore purged. It stops recomputing their effective
    expiry then (the bytes are gone), so a supporter that arrives or is retracted later does
    not move it, and it may garbage-collect the row earlier (or later) than TraceSet.collect.
    Harmless: a hidden trace can never be visible again, and a re-sent copy is hidden again by
    its retract or burn, which outlives it. Only ``thread`` (Hidden vs None), ``count``, and
    ``add`` (accepted vs duplicate) can tell."""
    full = TraceSet(traces)
    return {
        t.id: Hidden(t.id, t.kind, t.author, t.created)
        for t in full
        if full.is_hidden(t) and t.kind not in kinds.PINNED_LIFE_KINDS
    }


def _with_stores(body: Any) -> None:
    """Run ``body(sql, mem)`` against a fresh SQLite file and a fresh memory store."""

    async def main() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            sql = await SqliteStore.open(Path(tmp) / "stig.db")
            try:
                await body(sql, MemoryStore())
            finally:
                await sql.close()

    asyncio.run(main())


# -- the properties ------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_stores_agree_with_the_pure_views_before_and_after_collection(data: st.DataObject) -> None:
    """All traces arrive (in batches, any order, with duplicates) before any of them is created,
    so every stored heat counts every supporter; reading later must take out the terms of
    supporters whose own life ended (SqliteStore._refresh). Then garbage collection at t0 must
    change nothing that is read at t0 or later."""
    traces = data.draw(stories(), label="traces")
    batches = data.draw(deliveries(traces), label="batches")
    candidates = interesting_nows(traces)
    nows = sorted(data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=5)))
    t0 = data.draw(st.sampled_from(nows), label="t0")
    limit = data.draw(LIMITS, label="limit")
    full = TraceSet(traces)

    async def body(sql: SqliteStore, mem: MemoryStore) -> None:
        stored: set[bytes] = set()
        for batch in batches:
            one = await sql.add(batch, T0 - DAY)
            two = await mem.add(batch, T0 - DAY)
            assert one == two
            assert set(one.accepted) == {t.id for t in batch} - stored
            assert one.duplicates == len(batch) - len(one.accepted)
            stored |= {t.id for t in batch}

        for now in (n for n in nows if n < t0):
            await assert_agree(sql, mem, full, now, limit, purged=purged_and_hidden(traces))

        before = {now: full.feed(now, FeedFilter(), limit) for now in nows if now >= t0}
        collected = full.collect(t0)
        gone, gone_mem = await sql.collect(t0), await mem.collect(t0)
        assert gone_mem.expired == len(full) - len(collected)
        assert gone.expired == len(full) - await sql.count()
        loose = purged_and_hidden(traces)
        if not loose:
            assert gone == gone_mem
        for now in (n for n in nows if n >= t0):
            await assert_agree(sql, mem, collected, now, limit, list(full.ids()), loose)
            for where in FILTERS:
                assert collected.feed(now, where, limit) == full.feed(now, where, limit)
            assert await sql.feed(now, FeedFilter(), limit) == before[now]

    _with_stores(body)


@st.composite
def timelines(draw: st.DrawFn) -> list[tuple[str, int, list[Trace]]]:
    """Adds, reads and collections at nondecreasing times, as a running node does them."""
    traces = draw(stories(), label="traces")
    batches = draw(deliveries(traces), label="batches")
    candidates = interesting_nows(traces)
    ops: list[tuple[str, int, list[Trace]]] = []
    for batch in batches:
        ops.append(("add", draw(st.sampled_from(candidates)), batch))
        if draw(st.integers(0, 3)) == 0:
            ops.append(("collect", draw(st.sampled_from(candidates)), []))
        ops.append(("read", draw(st.sampled_from(candidates)), []))
    ops.append(("read", draw(st.sampled_from(candidates)), []))
    times = sorted(when for _, when, _ in ops)
    return [(op, when, batch) for (op, _, batch), when in zip(ops, times, strict=True)]


@settings(max_examples=40, deadline=None)
@given(timelines(), LIMITS)
def test_stores_agree_when_adds_reads_and_collection_interleave(
    ops: list[tuple[str, int, list[Trace]]], limit: int
) -> None:
    """A trace may arrive after its echoes, its retract or its author's burn, after some of its
    supporters already expired, or after a collection: the stored columns must still say what
    the pure views say of the set stored so far (collected the same way)."""

    async def body(sql: SqliteStore, mem: MemoryStore) -> None:
        ref = TraceSet()
        seen: list[Trace] = []
        loose: dict[bytes, Hidden] = {}  # stays empty until something was collected
        for op, now, batch in ops:
            if op == "add":
                one, two = await sql.add(batch, now), await mem.add(batch, now)
                if loose:
                    assert set(one.accepted) - set(loose) == set(two.accepted) - set(loose)
                    assert len(one.accepted) + one.duplicates == len(batch)
                else:
                    assert one == two
                ref = ref.merge(batch)
            elif op == "collect":
                rows = await sql.count()
                one_c, two_c = await sql.collect(now), await mem.collect(now)
                assert two_c.expired == len(ref) - len(ref.collect(now))
                assert one_c.expired == rows - await sql.count()
                if not purged_and_hidden(seen):
                    assert one_c == two_c
                ref = ref.collect(now)
            seen.extend(batch)
            if op == "collect" or loose:
                loose = purged_and_hidden(seen)
            await assert_agree(
                sql, mem, ref, now, limit, [t.id for t in seen], loose, purged_and_hidden(seen)
            )

    _with_stores(body)


def test_stores_agree_on_an_authors_latest_word() -> None:
    """docs/protocol.md §6.6, where SqliteStore's fast path (views.standing over refs) cannot
    see ids: one author's confirm then dispute, and two words of another author in the same
    second (the greater id is the latest). Both stores and the pure views give the same counts."""
    t = compose(ANA, kinds.CALLOUT, "x", now=T0, ttl=7 * DAY)
    words = [
        compose(BEN, kinds.CONFIRM, now=T0 + HOUR, refs=[t.id]),
        compose(BEN, kinds.DISPUTE, now=T0 + 2 * HOUR, refs=[t.id]),
        compose(CY, kinds.DISPUTE, now=T0 + HOUR, refs=[t.id]),
        compose(CY, kinds.CONFIRM, now=T0 + HOUR, refs=[t.id]),
    ]
    full = TraceSet([t, *words])

    async def body(sql: SqliteStore, mem: MemoryStore) -> None:
        await sql.add([t, *words], T0)
        await mem.add([t, *words], T0)
        for now in (T0 + 3 * HOUR, T0 + 3 * HOUR + 1):  # the second read is from memory
            await assert_agree(sql, mem, full, now, 50)
            (ranked,) = await sql.feed(now, FeedFilter(), 50)
            assert ranked.counts.confirms + ranked.counts.disputes == 2
            assert ranked.counts == full.counts(t, now)

    _with_stores(body)
