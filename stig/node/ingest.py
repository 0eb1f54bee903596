"""The ingest pipeline: every trace from outside — a bundle, later a peer — passes here.

Order of work (docs/protocol.md §4): decode, bounds and signature for each record; then the
clock checks. A trace whose own expiry has passed is not rejected at once: it may be kept alive
by supporters elsewhere in the same batch or already stored (views: effective expiry), so those
are held back and judged once everything else is in (``finish``). Invalid input is counted by
reason and never stops the pipeline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from stig.crdt.codec import decode
from stig.crdt.trace import Trace
from stig.crdt.validate import check_fields, check_signature, check_times
from stig.errors import InvalidTrace, Reason
from stig.store.port import Store


@dataclass(frozen=True)
class Rejection:
    """One refused record: where it was (``at``: a byte offset, a peer, ...) and why: a
    ``Reason`` for invalid traces, or a policy's own reason (``refused_tag``, ...)."""

    at: str
    reason: str
    detail: str


Policy = Callable[[Trace], Awaitable[tuple[str, str] | None]]
"""A node's own rules on top of validity (a relay's tags, proof of work, quotas): returns
(reason, detail) to refuse a valid trace, None to take it."""


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)

    def reject(self, at: str, error: InvalidTrace) -> None:
        self.refuse(at, error.reason.value, error.detail)

    def refuse(self, at: str, reason: str, detail: str) -> None:
        self.rejected[reason] += 1
        self.rejections.append(Rejection(at, reason, detail))

    @property
    def seen(self) -> int:
        return self.accepted + self.duplicates + sum(self.rejected.values())


class Ingest:
    """Feed batches with ``add``, then call ``finish`` once; read ``report``."""

    def __init__(self, store: Store, now: int, policy: Policy | None = None) -> None:
        self._store = store
        self._now = now
        self._policy = policy
        self._held: list[tuple[str, Trace, InvalidTrace]] = []
        self.report = IngestReport()

    async def add(self, records: Iterable[tuple[str, bytes]]) -> None:
        """Validate and store one batch of (where, raw bytes) records."""
        valid: list[Trace] = []
        for at, raw in records:
            try:
                trace = decode(raw)
                check_fields(trace)
                check_signature(trace)
            except InvalidTrace as error:
                self.report.reject(at, error)
                continue
            refused = await self._policy(trace) if self._policy else None
            if refused is not None:
                self.report.refuse(at, *refused)
                continue
            try:
                check_times(trace, self._now)
            except InvalidTrace as error:
                if error.reason is Reason.EXPIRED:
                    self._held.append((at, trace, error))
                else:
                    self.report.reject(at, error)
                continue
            valid.append(trace)
        await self._store_batch(valid)

    async def finish(self) -> IngestReport:
        """Judge the held-back traces against everything now stored."""
        held, self._held = self._held, []
        if held:
            extended = await self._store.reinforced_until([trace for _, trace, _ in held])
            alive: list[Trace] = []
            for at, trace, error in held:
                try:
                    check_times(trace, self._now, extended_until=extended.get(trace.id, 0))
                except InvalidTrace:
                    self.report.reject(at, error)
                    continue
                alive.append(trace)
            await self._store_batch(alive)
        return self.report

    async def _store_batch(self, traces: list[Trace]) -> None:
        if not traces:
            return
        added = await self._store.add(traces, self._now)
        self.report.accepted += len(added.accepted)
        self.report.duplicates += added.duplicates
