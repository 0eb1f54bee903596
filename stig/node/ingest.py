"""The ingest pipeline: every trace from outside — a bundle, later a peer — passes here.

Order of work (docs/protocol.md §4): decode, bounds and signature for each record; then the
clock checks. A trace whose own expiry has passed is not rejected at once: it may be kept alive
by supporters elsewhere in the same batch or already stored (views: effective expiry), so those
are held back and judged once everything else is in (``finish``). Invalid input is counted by
reason and never stops the pipeline.

Signatures are the costliest check (docs/performance.md §1). A batch's are verified on two
threads: PyNaCl releases the GIL inside ``crypto_sign_open``, so both cores work while the event
loop stays free. Results and rejections keep the order of the records.

Several batches at once (``add_all``: a bundle) are a pipeline: batch k+1 is decoded and its
signatures checked while batch k is being stored (the store's SQL runs on its own thread), so
the checks and the store no longer take turns on one core. A batch's policies and clock checks
still wait until the batch before it is stored: a policy may count what is stored (a quota).

Given a ``RecordChecker`` (a bundle's import), the checks of a batch of CHECK_APART_AT_LEAST
records or more run in its worker process instead (stig.node.checking), once that has started:
they and the store then share no interpreter lock. The verdicts are the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import Protocol

from stig.crdt.codec import decode
from stig.crdt.trace import Trace
from stig.crdt.validate import check_fields, check_signature, check_times
from stig.errors import InvalidTrace, Reason
from stig.node.checking import RecordChecker, WorkerGone, trace_of
from stig.store.port import Store

log = logging.getLogger(__name__)

VERIFY_THREADS = 2
"""Signature checks of a batch run in this many chunks, one per thread."""

VERIFY_INLINE_BELOW = 32
"""Smaller batches (a pushed trace, a short sync reply) are verified on the loop's thread: the
hand-off to the pool would cost more than it saves."""

CHECK_APART_AT_LEAST = 256
"""Batches this large go to the ``RecordChecker``'s worker process, if there is one; smaller
ones (a bundle's last, a session's) are checked here as before."""


@dataclass(frozen=True)
class Rejection:
    """One refused record: where it was (``at``: a byte offset, a peer, ...) and why: a
    ``Reason`` for invalid traces, or a policy's own reason (``refused_tag``, ...)."""

    at: str
    reason: str
    detail: str
    count: int = 1  # records this detail stands for (a run of short bundle records)


Policy = Callable[[Trace], Awaitable[tuple[str, str] | None]]
"""A node's own rules on top of validity (a relay's tags, proof of work, quotas): returns
(reason, detail) to refuse a valid trace, None to take it."""


DETAILS_PER_REASON = 20
"""A report keeps the details (where, what) of this many rejects per reason; beyond them it only
counts, so a bundle or a session of any number of junk records costs constant memory."""

HELD_AT_MOST = 10_000
"""Traces past their own expiry held back for judgement at ``finish``; beyond this many they
are judged at once against what is stored, so the held list stays bounded."""


@dataclass
class IngestReport:
    """Counts of every outcome; details of the first DETAILS_PER_REASON rejects per reason."""

    accepted: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)
    listed: Counter[str] = field(default_factory=Counter)
    """Details kept in ``rejections``, by reason."""

    def reject(self, at: str, error: InvalidTrace, count: int = 1) -> None:
        self.refuse(at, error.reason.value, error.detail, count)

    def refuse(self, at: str, reason: str, detail: str, count: int = 1) -> None:
        """Count ``count`` rejects for one reason (a run of short bundle records is counted
        at once, with one detail)."""
        if self.listed[reason] < DETAILS_PER_REASON:
            self.listed[reason] += 1
            self.rejections.append(Rejection(at, reason, detail, count))
        self.rejected[reason] += count

    def omitted(self, reason: str) -> int:
        """Rejects for ``reason`` counted but not kept in ``rejections``."""
        listed = sum(r.count for r in self.rejections if r.reason == reason)
        return self.rejected[reason] - listed

    @property
    def seen(self) -> int:
        return self.accepted + self.duplicates + sum(self.rejected.values())


OnReject = Callable[[str], None]
"""Told the reason of every reject as it happens (a sync session charges its peer at once)."""


class Storing(Protocol):
    """Told which ids a batch is about to store (``expect``, before the store commits), then
    which of them were not stored after all (``forget``): what a node remembers as taken from
    the network."""

    def expect(self, ids: Sequence[bytes]) -> None: ...

    def forget(self, ids: Sequence[bytes]) -> None: ...


Vouched = Callable[[bytes], Trace | None]
"""The trace that a full check of exactly these bytes has already produced in this process
(decode, bounds, signature: the gossip validator's verdict, stig.node.verdicts), or None. Only
ever local state: bytes without a verdict are checked in full."""


class Ingest:
    """Feed batches with ``add``, then call ``finish`` once; read ``report``."""

    def __init__(
        self,
        store: Store,
        now: int,
        policy: Policy | None = None,
        *,
        on_reject: OnReject | None = None,
        storing: Storing | None = None,
        vouched: Vouched | None = None,
        checker: RecordChecker | None = None,
    ) -> None:
        self._store = store
        self._now = now
        self._policy = policy
        self._on_reject = on_reject
        self._storing = storing
        self._vouched = vouched
        self._checker = checker
        self._held: list[tuple[str, Trace, InvalidTrace]] = []
        self.report = IngestReport()

    def _reject(self, at: str, error: InvalidTrace) -> None:
        self._refuse(at, error.reason.value, error.detail)

    def _refuse(self, at: str, reason: str, detail: str) -> None:
        self.report.refuse(at, reason, detail)
        if self._on_reject is not None:
            self._on_reject(reason)

    async def add(self, records: Iterable[tuple[str, bytes]]) -> None:
        """Validate and store one batch of (where, raw bytes) records."""
        await self._store_batch(await self._admit(await self._check(records)))
        if len(self._held) > HELD_AT_MOST:
            await self._judge_held()

    async def add_all(self, batches: Iterable[Iterable[tuple[str, bytes]]]) -> None:
        """``add`` each batch in turn, the checks of each one (decode, bounds, signatures)
        running while the one before it is stored (module docstring). Returns once every
        batch is stored; a store error is raised here, and stops the rest."""
        storing: asyncio.Future[None] | None = None
        try:
            for records in batches:
                checked = await self._check(records)
                if storing is not None:
                    await storing
                    storing = None
                    if len(self._held) > HELD_AT_MOST:
                        await self._judge_held()
                storing = asyncio.ensure_future(self._store_batch(await self._admit(checked)))
            if storing is not None:
                await storing
                storing = None
                if len(self._held) > HELD_AT_MOST:
                    await self._judge_held()
        finally:
            if storing is not None:  # left by an error or a cancellation: not abandoned
                storing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await storing

    async def _check(
        self, records: Iterable[tuple[str, bytes]]
    ) -> list[tuple[str, Trace | InvalidTrace]]:
        """Decode, bounds and signature of each record, in order: the trace, or why not.
        A record with a verdict (``vouched``) was checked so already, and is not again."""
        checker = self._checker
        if checker is not None and self._vouched is None:
            records = list(records)
            if len(records) >= CHECK_APART_AT_LEAST:
                checker.start()
                if checker.ready:  # until then, here (its start takes a few tenths of a second)
                    try:
                        found = await checker.check([raw for _, raw in records])
                    except WorkerGone as gone:
                        # The checks are the same here: the import goes on without the worker.
                        log.warning("record checks go on in this process: %s", gone)
                        self._checker = None
                    else:
                        return [
                            (at, trace_of(raw, verdict))
                            for (at, raw), verdict in zip(records, found, strict=True)
                        ]
                elif checker.failed is not None:
                    log.warning("record checks stay in this process: %s", checker.failed)
                    self._checker = None
        vouched = self._vouched
        checked: list[tuple[str, Trace | InvalidTrace]] = []
        due: list[tuple[int, Trace]] = []  # traces whose signature is to check, and where
        for at, raw in records:
            one = vouched(raw) if vouched is not None else None
            if one is None:
                try:
                    one = decode(raw)
                    check_fields(one)
                except InvalidTrace as error:
                    # Without its traceback: the traceback holds this frame, which holds
                    # ``checked``, a cycle only the garbage collector would free.
                    checked.append((at, error.with_traceback(None)))
                    continue
                due.append((len(checked), one))
            checked.append((at, one))
        if due:
            results = await check_signatures([trace for _, trace in due])
            for (i, _), bad_signature in zip(due, results, strict=True):
                if bad_signature is not None:
                    checked[i] = (checked[i][0], bad_signature)
        return checked

    async def _admit(self, checked: list[tuple[str, Trace | InvalidTrace]]) -> list[Trace]:
        """Count the rejects of ``_check``; apply the policy and the clock to the rest (traces
        past their own expiry are held back). What remains is to be stored."""
        valid: list[Trace] = []
        for at, item in checked:
            if isinstance(item, InvalidTrace):
                self._reject(at, item)
                continue
            trace = item
            refused = await self._policy(trace) if self._policy else None
            if refused is not None:
                self._refuse(at, *refused)
                continue
            try:
                check_times(trace, self._now)
            except InvalidTrace as error:
                if error.reason is Reason.EXPIRED:
                    self._held.append((at, trace, error))
                else:
                    self._reject(at, error)
                continue
            valid.append(trace)
        return valid

    async def finish(self) -> IngestReport:
        """Judge the held-back traces against everything now stored."""
        await self._judge_held()
        return self.report

    async def _judge_held(self) -> None:
        held, self._held = self._held, []
        if held:
            extended = await self._store.reinforced_until([trace for _, trace, _ in held])
            alive: list[Trace] = []
            for at, trace, error in held:
                try:
                    check_times(trace, self._now, extended_until=extended.get(trace.id, 0))
                except InvalidTrace:
                    self._reject(at, error)
                    continue
                alive.append(trace)
            await self._store_batch(alive)

    async def _store_batch(self, traces: list[Trace]) -> None:
        if not traces:
            return
        if self._storing is None:
            added = await self._store.add(traces, self._now)
        else:
            ids = [trace.id for trace in traces]
            self._storing.expect(ids)
            try:
                added = await self._store.add(traces, self._now)
            except BaseException:
                self._storing.forget(ids)
                raise
            stored = set(added.accepted)
            self._storing.forget([tid for tid in ids if tid not in stored])
        self.report.accepted += len(added.accepted)
        self.report.duplicates += added.duplicates


async def check_signatures(traces: Sequence[Trace]) -> list[InvalidTrace | None]:
    """``check_signature`` of each decoded trace, in order: None if it holds, else the error
    (as ``Ingest.add`` checks a batch: in VERIFY_THREADS chunks, one per thread)."""
    if len(traces) < VERIFY_INLINE_BELOW:
        return _check_chunk(traces)
    loop = asyncio.get_running_loop()
    size = -(-len(traces) // VERIFY_THREADS)
    chunks = [traces[at : at + size] for at in range(0, len(traces), size)]
    done = await asyncio.gather(
        *(loop.run_in_executor(_verifier(), _check_chunk, chunk) for chunk in chunks)
    )
    return [result for chunk in done for result in chunk]


@cache
def _verifier() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=VERIFY_THREADS, thread_name_prefix="stig-verify")


def _check_chunk(traces: Sequence[Trace]) -> list[InvalidTrace | None]:
    results: list[InvalidTrace | None] = []
    for trace in traces:
        try:
            check_signature(trace)
        except InvalidTrace as error:
            results.append(error)
        else:
            results.append(None)
    return results
