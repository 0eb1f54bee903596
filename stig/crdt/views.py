"""Merge rules and derived views (DESIGN.md §2 "Merge rules"; docs/protocol.md §6).

The replicated state is a set of valid traces; merge is set union. Everything a node shows at
time ``now`` is a pure function of (set, now), defined here and nowhere else: the store computes
its indexed columns by calling these functions on the neighbourhood of a trace, so the SQLite
feed and this module cannot drift apart (tests/store checks they agree).

The rules, and why each is safe to garbage-collect (``TraceSet.collect``):

* **hidden** — T is hidden if a ``retract`` by T's author references T and was created no
  earlier than T, or a ``burn`` by T's author was created no earlier than T. Retract and burn
  live exactly LIFE_CAP, so they outlive every trace they hide: collecting an expired one never
  un-hides anything.
* **effective expiry** — min(T.created + LIFE_CAP, max(T.expires, R.expires for every
  non-hidden supporter R of T by another author)). Supporters are traces of SUPPORT_KINDS that
  reference T. Only supporters' *own* ``expires`` counts, so an expired supporter contributes a
  time in the past and collecting it changes nothing.
* **visible** — not hidden and effective expiry > now.
* **intensity** — sum over distinct supporting authors of 2^((t_i − now)/H): T's author with
  t = T.created, and each other author with their latest live (own expires > now), non-hidden
  supporting trace. The sum is ``math.fsum`` (correctly rounded, so term order cannot
  matter); each term is ``2.0 ** x``, so two nodes agree to the last bit wherever ``pow`` is
  correctly rounded, and within an ulp elsewhere (docs/protocol.md §6).
* **counts** — answers: every visible non-meta referrer; echoes, confirms, disputes: distinct
  other authors with a visible referrer of that kind, where a confirm and a dispute are one
  author's *word* on T and only their latest visible one (by created, then id) counts — one
  persona never both confirms and disputes. Only counts: a confirm goes on supporting T (life
  and intensity) after a later dispute by its author, because life must only grow as the set
  grows (a dispute that cut it would let a node collect what another, lacking the dispute,
  still shows). Counts look only at visible referrers, so collection cannot change them.
* **heat** — log2 of sum 2^(t_i/H) over the same terms: intensity = 2^(heat − now/H), so heat
  orders traces as intensity does at every ``now`` (up to float rounding at exact ties) and can
  be stored and indexed. Stores fetch by heat and sort what they return by exact intensity.

The rules are written here, and only here: once rule by rule as ``TraceSet``'s methods (the
definitions, read as the docstring above), and again as ``standing`` and ``columns``, the same
rules applied in one pass over a trace's referrers (``Referrer``: each one's kind, author, times
and its own derived hidden flag and effective expiry) — ``standing`` to rank a visible trace,
``columns`` for the hidden flag, effective expiry and heat a store indexes. A store that keeps
those columns for each referrer ranks and updates from them and never restates a rule;
tests/crdt/test_crdt_views_laws.py holds ``standing`` equal to ``TraceSet.rank`` and ``columns``
to ``TraceSet``'s own, and tests/store the stores to ``TraceSet``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from stig.crdt import kinds
from stig.crdt.bounds import INTENSITY_HALF_LIFE, LIFE_CAP
from stig.crdt.trace import Trace


@dataclass(frozen=True)
class Counts:
    """How a trace has been answered: distinct authors for echo/confirm/dispute (the trace's own
    author excluded), every visible answering trace for answers."""

    answers: int = 0
    echoes: int = 0
    confirms: int = 0
    disputes: int = 0


@dataclass(frozen=True)
class Ranked:
    """A visible trace as the feed shows it."""

    trace: Trace
    intensity: float
    effective_expiry: int
    counts: Counts


@dataclass(frozen=True)
class Mutes:
    """What this device chose not to see (stig.crdt.mutes): authors — its own mutes and those
    of the personas it follows — and tags. A muted author's traces are not shown, and their
    support does not count towards intensity or counts *as shown here*; a trace with a muted
    tag is not shown. Life is not touched: effective expiry and collection are properties of
    the set, the same on every node, whatever each one mutes."""

    authors: frozenset[bytes] = frozenset()
    tags: frozenset[str] = frozenset()

    def hides(self, trace: Trace) -> bool:
        return trace.author in self.authors or not self.tags.isdisjoint(trace.tags)

    def __bool__(self) -> bool:
        return bool(self.authors or self.tags)


NO_MUTES = Mutes()


@dataclass(frozen=True)
class FeedFilter:
    """What the feed shows. ``kinds`` empty means every kind but the meta kinds; tags must all
    be present; place matches as a geohash prefix (``u0`` includes ``u09t``)."""

    kinds: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    place: str = ""
    author: bytes | None = None

    def admits(self, trace: Trace) -> bool:
        if self.kinds:
            if trace.kind not in self.kinds:
                return False
        elif trace.kind in kinds.META_KINDS:
            return False
        if self.author is not None and trace.author != self.author:
            return False
        if self.place and not trace.place.startswith(self.place):
            return False
        return self.tags.issubset(trace.tags)


class TraceSet:
    """An immutable set of valid traces with the indexes the views need."""

    __slots__ = ("_burned_until", "_by_id", "_referrers")

    def __init__(self, traces: Iterable[Trace] = ()) -> None:
        self._by_id: dict[bytes, Trace] = {}
        self._referrers: dict[bytes, list[Trace]] = defaultdict(list)
        # author -> latest burn time: a burn hides everything its author created up to then.
        self._burned_until: dict[bytes, int] = {}
        for trace in traces:
            self._add(trace)

    def _add(self, trace: Trace) -> None:
        if trace.id in self._by_id:
            return
        self._by_id[trace.id] = trace
        for ref in trace.refs:
            self._referrers[ref].append(trace)
        if trace.kind == kinds.BURN:
            previous = self._burned_until.get(trace.author, -1)
            self._burned_until[trace.author] = max(previous, trace.created)

    # -- the set ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Trace]:
        return iter(self._by_id.values())

    def __contains__(self, trace_id: object) -> bool:
        return trace_id in self._by_id

    def get(self, trace_id: bytes) -> Trace | None:
        return self._by_id.get(trace_id)

    def ids(self) -> frozenset[bytes]:
        return frozenset(self._by_id)

    def merge(self, other: Iterable[Trace]) -> TraceSet:
        """Set union: commutative, associative, idempotent (tests/crdt/test_crdt_views_laws.py)."""
        return TraceSet([*self, *other])

    def referrers(self, trace_id: bytes) -> Sequence[Trace]:
        return self._referrers.get(trace_id, ())

    # -- hiding ----------------------------------------------------------------------------

    def is_hidden(self, trace: Trace) -> bool:
        """Retracted or burned by its own author (module docstring)."""
        burned = self._burned_until.get(trace.author)
        if burned is not None and trace.created <= burned:
            return True
        return any(
            r.kind == kinds.RETRACT and r.author == trace.author and r.created >= trace.created
            for r in self.referrers(trace.id)
        )

    # -- life ------------------------------------------------------------------------------

    def _supporters(self, trace: Trace) -> Iterator[Trace]:
        for r in self.referrers(trace.id):
            if r.kind in kinds.SUPPORT_KINDS and r.author != trace.author and not self.is_hidden(r):
                yield r

    def effective_expiry(self, trace: Trace) -> int:
        reinforced = max((r.expires for r in self._supporters(trace)), default=trace.expires)
        return min(trace.created + LIFE_CAP, max(trace.expires, reinforced))

    def is_visible(self, trace: Trace, now: int) -> bool:
        return not self.is_hidden(trace) and self.effective_expiry(trace) > now

    def visible(self, now: int) -> list[Trace]:
        """Every visible trace, sorted by id (a canonical order for comparing nodes)."""
        return sorted((t for t in self if self.is_visible(t, now)), key=lambda t: t.id)

    def collect(self, now: int) -> TraceSet:
        """Garbage collection: drop what can never be visible again. Never changes any view at
        ``now`` or later (module docstring)."""
        return TraceSet(t for t in self if self.effective_expiry(t) > now)

    # -- intensity -------------------------------------------------------------------------

    def support_times(
        self, trace: Trace, now: int, muted: frozenset[bytes] = frozenset()
    ) -> list[int]:
        """One time per distinct supporting author, the author's own first, sorted; authors in
        ``muted`` do not count (Mutes)."""
        latest: dict[bytes, int] = {}
        for r in self._supporters(trace):
            if r.author in muted:
                continue
            if r.expires > now and r.created > latest.get(r.author, -1):
                latest[r.author] = r.created
        return sorted([trace.created, *latest.values()])

    def intensity(self, trace: Trace, now: int, muted: frozenset[bytes] = frozenset()) -> float:
        if not self.is_visible(trace, now):
            return 0.0
        return intensity_of(self.support_times(trace, now, muted), now)

    def heat(self, trace: Trace, now: int) -> float:
        return heat_of(self.support_times(trace, now))

    # -- threads and the feed --------------------------------------------------------------

    def answers(self, trace: Trace, now: int, muted: frozenset[bytes] = frozenset()) -> list[Trace]:
        """Visible traces that answer this one (any kind but the meta kinds), oldest first;
        not those of authors in ``muted``."""
        found = [
            r
            for r in self.referrers(trace.id)
            if r.kind not in kinds.META_KINDS and r.author not in muted and self.is_visible(r, now)
        ]
        return sorted(found, key=lambda r: (r.created, r.id))

    def counts(self, trace: Trace, now: int, muted: frozenset[bytes] = frozenset()) -> Counts:
        authors: dict[str, set[bytes]] = defaultdict(set)
        # Each other author's latest visible confirm-or-dispute: their word now (module
        # docstring, "counts"). Latest by (created, id), so the order is total.
        verdicts: dict[bytes, Trace] = {}
        for r in self.referrers(trace.id):
            if r.author == trace.author or r.author in muted or not self.is_visible(r, now):
                continue
            if r.kind in kinds.VERDICT_KINDS:
                seen = verdicts.get(r.author)
                if seen is None or (r.created, r.id) > (seen.created, seen.id):
                    verdicts[r.author] = r
            else:
                authors[r.kind].add(r.author)
        for r in verdicts.values():
            authors[r.kind].add(r.author)
        return Counts(
            answers=len(self.answers(trace, now, muted)),
            echoes=len(authors[kinds.ECHO]),
            confirms=len(authors[kinds.CONFIRM]),
            disputes=len(authors[kinds.DISPUTE]),
        )

    def rank(self, trace: Trace, now: int, muted: frozenset[bytes] = frozenset()) -> Ranked:
        return Ranked(
            trace=trace,
            intensity=self.intensity(trace, now, muted),
            effective_expiry=self.effective_expiry(trace),
            counts=self.counts(trace, now, muted),
        )

    def feed(
        self,
        now: int,
        where: FeedFilter = FeedFilter(),
        limit: int = 50,
        mutes: Mutes = NO_MUTES,
    ) -> list[Ranked]:
        """Visible traces that pass the filter and are not muted, most intense first
        (feed_order), ranked as shown here (Mutes)."""
        ranked = [
            self.rank(t, now, mutes.authors)
            for t in self
            if where.admits(t) and not mutes.hides(t) and self.is_visible(t, now)
        ]
        ranked.sort(key=feed_order)
        return ranked[:limit]


class Referrer(NamedTuple):
    """What ranking needs of one trace R that references T: R's own fields, and R's derived
    ``hidden`` and ``effective_expiry`` as the set gives them. ``id`` orders one author's two
    words on T made in the same second (counts); a store that does not keep it passes None."""

    kind: str
    author: bytes
    created: int
    expires: int
    hidden: bool
    effective_expiry: int
    id: bytes | None = None

    @classmethod
    def of(cls, trace: Trace, hidden: bool, effective_expiry: int) -> Referrer:
        return cls(
            trace.kind,
            trace.author,
            trace.created,
            trace.expires,
            hidden,
            effective_expiry,
            trace.id,
        )


NEVER = 1 << 62
"""A time after every time a trace can hold (``Standing.until`` when nothing ends)."""


@dataclass(frozen=True, slots=True)
class Standing:
    """What a visible trace's referrers say of it — its effective expiry, support times and
    counts — for every ``now`` in [since, until): no referrer's own or effective expiry falls in
    between, so only a change of the set can change it before ``until``."""

    trace: Trace
    effective_expiry: int
    support_times: tuple[int, ...]
    counts: Counts
    since: int
    until: int

    def rank(self, now: int) -> Ranked:
        return Ranked(
            self.trace,
            intensity_of(self.support_times, now),
            self.effective_expiry,
            self.counts,
        )


def standing(
    trace: Trace,
    referrers: Iterable[Referrer],
    now: int,
    burned_until: int = -1,
    muted: frozenset[bytes] = frozenset(),
) -> Standing | None:
    """``TraceSet.rank(trace, now, muted)`` from the trace, its referrers and its author's
    latest burn (``burned_until``, -1 if none), the rules of the module docstring in one pass.

    None if the trace is not visible (hidden by a retract among the referrers or by the burn,
    or its effective expiry is past), or if its counts depend on ids the referrers lack (one
    author's confirm and dispute made in the same second, with ``id`` None): the caller then
    ranks it from the traces themselves. The referrers' ``hidden`` and ``effective_expiry``
    must be what the set gives them (``is_hidden``, ``effective_expiry``).
    """
    author, made = trace.author, trace.created
    if burned_until >= made:
        return None  # hidden: burned
    reinforced = trace.expires
    until = NEVER
    latest: dict[bytes, int] = {}  # support times: each other author's latest live supporter
    answers = 0
    echoes: set[bytes] = set()
    # Each other author's latest visible confirm-or-dispute (their word): its (created, id),
    # kind, and whether an equal `created` with another kind and no ids left it undecided.
    verdicts: dict[bytes, tuple[int, bytes | None, str, bool]] = {}
    for r in referrers:
        kind, by = r.kind, r.author
        if by == author:
            if kind == kinds.RETRACT and r.created >= made:
                return None  # hidden: retracted
            # The author's own referrers neither support nor count as words; they answer.
            if not r.hidden and r.effective_expiry > now:
                until = min(until, r.effective_expiry)
                if kind not in kinds.META_KINDS and by not in muted:
                    answers += 1
            continue
        if r.hidden:
            continue
        if kind in kinds.SUPPORT_KINDS:
            reinforced = max(reinforced, r.expires)  # life: muted or not, live or not
        if by in muted:  # extends life as anyone's support does; counts for nothing shown here
            continue
        if kind in kinds.SUPPORT_KINDS and r.expires > now:
            until = min(until, r.expires)
            if r.created > latest.get(by, -1):
                latest[by] = r.created
        if r.effective_expiry <= now:
            continue  # not visible: counts for nothing
        until = min(until, r.effective_expiry)
        if kind not in kinds.META_KINDS:
            answers += 1
        elif kind == kinds.ECHO:
            echoes.add(by)
        elif kind in kinds.VERDICT_KINDS:
            seen = verdicts.get(by)
            if seen is None or r.created > seen[0]:
                verdicts[by] = (r.created, r.id, kind, False)
            elif r.created == seen[0]:
                if r.id is not None and seen[1] is not None:
                    if r.id > seen[1]:
                        verdicts[by] = (r.created, r.id, kind, False)
                elif kind != seen[2]:
                    verdicts[by] = (*seen[:3], True)
    effective = min(made + LIFE_CAP, reinforced)
    if effective <= now:
        return None  # expired
    if any(undecided for *_, undecided in verdicts.values()):
        return None
    words = [kind for _, _, kind, _ in verdicts.values()]
    counts = Counts(
        answers=answers,
        echoes=len(echoes),
        confirms=words.count(kinds.CONFIRM),
        disputes=words.count(kinds.DISPUTE),
    )
    return Standing(trace, effective, tuple(sorted([made, *latest.values()])), counts, now, until)


class Columns(NamedTuple):
    """What a store keeps of each trace as indexed columns: ``TraceSet.is_hidden``,
    ``effective_expiry`` and ``heat`` (at the ``now`` they were computed)."""

    hidden: bool
    effective_expiry: int
    heat: float


def columns(
    author: bytes,
    created: int,
    expires: int,
    referrers: Iterable[Referrer],
    now: int,
    burned_until: int = -1,
) -> Columns:
    """``TraceSet``'s hidden flag, effective expiry and heat of the trace by ``author`` with
    these times, from its referrers and its author's latest burn (``burned_until``, -1 if
    none): the rules of the module docstring in one pass, as ``standing`` applies them for
    ranking, but for every trace, visible or not. The referrers' ``hidden`` must be what the
    set gives them; their ``effective_expiry`` and ``id`` are not used.
    """
    hidden = burned_until >= created
    reinforced = expires
    latest: dict[bytes, int] = {}  # support times: each other author's latest live supporter
    for r in referrers:
        by = r.author
        if by == author:
            if r.kind == kinds.RETRACT and r.created >= created:
                hidden = True
            continue
        if r.hidden or r.kind not in kinds.SUPPORT_KINDS:
            continue
        reinforced = max(reinforced, r.expires)
        if r.expires > now and r.created > latest.get(by, -1):
            latest[by] = r.created
    return Columns(
        hidden, min(created + LIFE_CAP, reinforced), heat_of([created, *latest.values()])
    )


def feed_order(item: Ranked) -> tuple[float, int, bytes]:
    """Most intense first; ties by newest, then by id, so the order is total."""
    return (-item.intensity, -item.trace.created, item.trace.id)


def intensity_of(support_times: Sequence[int], now: int) -> float:
    """sum 2^((t_i − now)/H), correctly rounded (fsum)."""
    return math.fsum(2.0 ** ((t - now) / INTENSITY_HALF_LIFE) for t in support_times)


def heat_of(support_times: Sequence[int]) -> float:
    """log2 sum 2^(t_i/H), computed around the largest term so it never overflows."""
    top = max(support_times) / INTENSITY_HALF_LIFE
    total = math.fsum(2.0 ** (t / INTENSITY_HALF_LIFE - top) for t in support_times)
    return top + math.log2(total)
