"""Admission: what a node takes from its peers, and what it holds against them
(docs/protocol.md §8.2 "What counts against a peer", §8.4 "Bounds of a session").

For every pushed message and every record of a sync session the node decides one of three
things (``Outcome``):

* **accept** — valid, and carried by this node: stored, forwarded;
* **drop** — not taken, and no fault of the peer: a verdict of this node's own policy
  (``Refusal``: tags, proof of work, author rate and quota), or one that depends on this node's
  clock (``from_future``, ``expired``). A peer whose clock is within the tolerance of ours, or that
  relays a trace someone else wrote, did nothing wrong, and an outsider must not be able to make
  honest nodes ban each other by pushing traces at the edge of their clocks;
* **charge** — invalid whatever the receiver's clock (encoding, canonical form, signature, bounds,
  shape), or sent faster than the peer's rate: counted against the peer, and
  ``ledger.PENALTY_THRESHOLD`` charges within the window cut it off at once.

Every reject is counted by reason in the peer's record either way: the status shows drops too.

``Session`` is one ingest — a batch of pushes, or a whole sync session — through these rules: it
charges rejects as they arrive (a session that never ends is charged all the same) and remembers,
for the publisher, only the ids it really stored (``Taken``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from stig.crdt import kinds
from stig.crdt.codec import unsigned_bytes
from stig.crdt.mutes import targets
from stig.crdt.reconcile import SyncError, SyncReason
from stig.crdt.trace import Trace
from stig.crdt.validate import validate
from stig.crypto.pow import work_bits
from stig.errors import InvalidTrace, Reason
from stig.net.network import PeerId
from stig.node.config import RelayPolicy
from stig.node.ingest import Ingest, IngestReport
from stig.node.ledger import Ledger
from stig.node.verdicts import Verdicts
from stig.store.port import Store


class Refusal(StrEnum):
    """Why this node does not take a valid trace: its own policy, never the peer's fault."""

    REFUSED_TAG = "refused_tag"
    LOW_POW = "low_pow"
    AUTHOR_RATE = "author_rate"
    AUTHOR_QUOTA = "author_quota"
    REFUSED_AUTHOR = "refused_author"
    MUTED_AUTHOR = "muted_author"


class Outcome(StrEnum):
    ACCEPT = "accept"
    DROP = "drop"
    CHARGE = "charge"


RATE_LIMITED = "rate_limited"
"""A push beyond the peer's rate (ledger.PEER_RATE): charged."""

CLOCK_VERDICTS: frozenset[str] = frozenset({Reason.FROM_FUTURE.value, Reason.EXPIRED.value})
"""Reasons that depend on the receiver's clock: a trace refused for one of them may be valid to
a node whose clock differs by a few seconds."""

_DROPPED: frozenset[str] = CLOCK_VERDICTS | {refusal.value for refusal in Refusal}


def outcome_of(reason: str) -> Outcome:
    """What a reject for ``reason`` means for the peer that sent the trace."""
    return Outcome.DROP if reason in _DROPPED else Outcome.CHARGE


@dataclass(frozen=True)
class Refused:
    """A valid trace this node does not take, and why."""

    reason: Refusal
    detail: str


Pending = dict[bytes, set[bytes]]
"""By author, the ids admitted in the batch being ingested and not stored yet."""


class Admission:
    """The relay policy and the peer accounting of one node. ``judge_push`` and ``charge`` are
    thread-safe: the gossip validator runs on the network's thread."""

    def __init__(
        self,
        policy: RelayPolicy,
        store: Store,
        ledger: Ledger,
        clock: Callable[[], float],
        cut_off: Callable[[PeerId], None],
    ) -> None:
        self.policy = policy
        # Authors muted by the published mutes of the personas in policy.follow_mutes
        # (stig.crdt.mutes), as of the last refresh_mutes().
        self.muted: frozenset[bytes] = frozenset()
        self.ledger = ledger
        # The traces judge_push accepted, for the ingest of the same pushes (verdicts.py).
        self.verdicts = Verdicts()
        self._store = store
        self._clock = clock
        self._cut_off = cut_off

    # -- peers -----------------------------------------------------------------------------------

    def charge(self, peer: PeerId, reason: str, now: float | None = None) -> Outcome:
        """Count a reject from ``peer``; charge it if the reason is the peer's fault, and cut the
        peer off when it crosses the penalty threshold."""
        now = self._clock() if now is None else now
        outcome = outcome_of(reason)
        if outcome is Outcome.DROP:
            self.ledger.count(peer, reason)
        elif self.ledger.reject(peer, reason, now):
            self._cut_off(peer)
        return outcome

    def judge_push(self, peer: PeerId, data: bytes) -> bool:
        """The gossip validator: True to forward and deliver a pushed message."""
        now = self._clock()
        if not self.ledger.admit_push(peer, len(data), now):
            self.charge(peer, RATE_LIMITED, now)
            return False
        try:
            trace = validate(data, int(now))
        except InvalidTrace as exc:
            self.charge(peer, exc.reason.value, now)
            return False
        # A trace this node does not carry is not junk: refused (not forwarded, not delivered),
        # counted, and not charged.
        refused = self.carries(trace)
        if refused is not None:
            self.charge(peer, refused.reason.value, now)
            return False
        self.verdicts.keep(data, trace)
        return True

    # -- traces ----------------------------------------------------------------------------------

    async def refresh_mutes(self) -> None:
        """Work out again whom the followed personas' mutes name (their visible mutes now)."""
        follows = self.policy.follow_mutes
        if not follows:
            self.muted = frozenset()
            return
        found = await self._store.mutes_by(follows, int(self._clock()))
        self.muted = targets(found, follows)

    def carries(self, trace: Trace) -> Refused | None:
        """The relay policy's static rules: authors, tags and proof of work. A refused or muted
        author's retracts and burns are still carried: they only ever take traces away."""
        policy = self.policy
        if trace.kind not in kinds.PINNED_LIFE_KINDS:
            if trace.author in policy.refuse_authors:
                return Refused(Refusal.REFUSED_AUTHOR, "this relay refuses this author")
            if trace.author in self.muted:
                return Refused(
                    Refusal.MUTED_AUTHOR, "a persona this relay follows muted this author"
                )
        # An envelope's one tag is a group's tag of the day: tag rules are about public topics.
        if trace.kind != kinds.SEALED and not policy.admits_tags(trace.tags):
            return Refused(Refusal.REFUSED_TAG, "this relay does not carry these tags")
        if policy.min_pow_bits and work_bits(unsigned_bytes(trace)) < policy.min_pow_bits:
            return Refused(
                Refusal.LOW_POW, f"less than {policy.min_pow_bits} bits of proof of work"
            )
        return None

    async def admits_pushed(self, trace: Trace, pending: Pending) -> Refused | None:
        """``admits``, and the author's rate: gossip only (what sync brings, the node asked for)."""
        if not self.ledger.admit_author(trace.author, self._clock()):
            return Refused(
                Refusal.AUTHOR_RATE, "this author posts faster than this node takes by push"
            )
        return await self.admits(trace, pending)

    async def admits(self, trace: Trace, pending: Pending) -> Refused | None:
        """Everything the node asks of a valid trace before storing it. ``pending`` holds, by
        author, the ids admitted in the batch being ingested: not stored yet, they count
        against the author quota all the same, or one batch could carry any number past it."""
        refused = self.carries(trace)
        if refused is not None:
            return refused
        quota = self.policy.author_quota
        if not quota:
            return None
        store = self._store
        mine = pending.setdefault(trace.author, set())
        if trace.id in mine:
            return None
        held = await store.author_live_count(trace.author, int(self._clock()))
        if held + len(mine) >= quota:
            # Gossip often repeats what a sync just brought: a copy of a stored trace changes
            # no count, and counts once, in the store.
            if await store.get(trace.id) is not None:
                return None
            mine -= {tid for tid in mine if await store.get(tid) is not None}
            if held + len(mine) >= quota:
                return Refused(
                    Refusal.AUTHOR_QUOTA, f"this relay keeps at most {quota} traces per author"
                )
        mine.add(trace.id)
        return None


class Taken:
    """Ids stored from the network, which the publisher must not publish again (gossip already
    carries them). Only ids really stored are kept, each until the publisher has seen it, so
    junk and duplicates cost nothing here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: set[bytes] = set()

    def expect(self, ids: Sequence[bytes]) -> None:
        """ingest.Storing: a batch's ids, before the store commits them."""
        with self._lock:
            self._ids.update(ids)

    def forget(self, ids: Sequence[bytes]) -> None:
        """ingest.Storing: the ids of that batch that were not stored."""
        with self._lock:
            self._ids.difference_update(ids)

    def publishable(self, tid: bytes) -> bool:
        """False (once) for an id stored from the network; True for one of our own."""
        with self._lock:
            if tid in self._ids:
                self._ids.discard(tid)
                return False
            return True

    def __len__(self) -> int:
        return len(self._ids)


CHECK_EVERY = 256
"""A sync batch is ingested in slices of this many records, and a peer cut off by one slice's
charges gets no more work done for it: a frame of 20,000 junk records costs 256 of them."""


class Session:
    """One ingest from one peer: a batch of pushes, or a whole sync session (sync.Receiver).

    Rejects are charged as they arrive. ``turn`` is the node's ingest lock: ingests take turns,
    since the author quota is checked against the store."""

    def __init__(
        self,
        admission: Admission,
        store: Store,
        taken: Taken,
        turn: asyncio.Lock,
        peer: PeerId,
        *,
        pushed: bool,
        now: float,
    ) -> None:
        self._admission = admission
        self._store = store
        self._turn = turn
        self._peer = peer
        self._now = now
        self._pushed = pushed
        self._pending: Pending = {}
        rule = admission.admits_pushed if pushed else admission.admits
        pending = self._pending

        # The two callbacks do not refer to the session: a session that refers to its ingest,
        # which refers back to it, is a cycle only the cyclic collector frees (a sync session or
        # a batch of pushes each left one behind: 28,000 at 2,000 simulated nodes with the
        # collector off, benchmarks/propagation.py).
        async def policy(trace: Trace) -> tuple[str, str] | None:
            refused = await rule(trace, pending)
            return None if refused is None else (refused.reason.value, refused.detail)

        def charge(reason: str) -> None:
            admission.charge(peer, reason, now)

        # A push was checked in full by judge_push: its verdict is taken, not checked again.
        self._ingest = Ingest(
            store,
            int(now),
            policy,
            on_reject=charge,
            storing=taken,
            vouched=admission.verdicts.take if pushed else None,
        )

    async def add(self, traces: list[bytes]) -> None:
        """Ingest one batch. In a sync session, a peer cut off by the charges of this batch (or
        before it) ends the session: SyncError."""
        for start in range(0, len(traces), CHECK_EVERY):
            # What earlier batches admitted is stored now: the store counts it.
            self._pending.clear()
            async with self._turn:
                await self._ingest.add(
                    (self._peer, raw) for raw in traces[start : start + CHECK_EVERY]
                )
            if not self._pushed and self._admission.ledger.is_banned(self._peer, self._now):
                raise SyncError(SyncReason.TOO_MUCH, "too many invalid traces: cut off")

    async def finish(self) -> IngestReport:
        async with self._turn:
            report = await self._ingest.finish()
        admission = self._admission
        admission.ledger.accept(self._peer, report.accepted)
        if admission.policy.max_traces:
            evicted = await self._store.evict(admission.policy.max_traces, int(self._now))
            admission.ledger.tally.evict(evicted)
        return report
