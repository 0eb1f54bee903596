"""The gossip validator's verdicts, kept for the ingest of the same push: a pushed trace is
decoded and its signature verified once, not twice (docs/performance.md, "Gossip CPU per
message").

A push is checked in full on the network's thread before it is forwarded or delivered
(``Admission.judge_push``: decode with the canonical check, bounds, signature, clock, relay
policy); the node's loop then ingests what was delivered. The validator keeps the ``Trace`` it
built under the exact bytes it checked, and ingest takes it back for the same bytes instead of
decoding and verifying them again.

Why a peer cannot forge a verdict: this is the process's own memory, written only by the
validator after ``validate`` passed, and the key is the whole byte string — a dict compares the
bytes themselves, not a digest of them — so bytes that were not checked find nothing and take
the full path. What ingest still does for a vouched trace: the clock checks at its own ``now``
(a push may have waited in the queue) and the node's policy (it may have changed meanwhile).
Traces that reach ingest by any other path (sync, bundles, a push whose verdict was dropped)
are checked in full.

Bounded: at most ``KEPT`` verdicts; the oldest go first. Verdicts that nobody takes (our own
publish, looped back by the library and not delivered; a push the library dropped after
validating it) are pushed out by newer ones. Thread-safe: ``keep`` runs on the network's
thread, ``take`` on the node's loop.
"""

from __future__ import annotations

import threading

from stig.crdt.trace import Trace

KEPT = 512
"""Verdicts kept at most: pushes validated and not yet ingested. A push waits a few
milliseconds between the two (mesh.PUSH_BATCH_DELAY and the batch before it); a verdict pushed
out costs only a second check of its trace. Memory: at most KEPT traces of MAX_TRACE_BYTES and
their bytes (≈ 8 MiB at worst, ≈ 1.5 MiB at the usual 1–2 KiB) — the node's own publishes,
which the library validates too and never delivers, keep it full on a node that posts."""


class Verdicts:
    """Traces the validator accepted, by the bytes it accepted them as."""

    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._lock = threading.Lock()
        self._traces: dict[bytes, Trace] = {}

    def keep(self, data: bytes, trace: Trace) -> None:
        """``trace`` is what ``validate(data, ...)`` returned: ``data`` passed every check."""
        with self._lock:
            traces = self._traces
            traces[data] = trace
            if len(traces) > self._kept:
                del traces[next(iter(traces))]  # dicts keep insertion order: the oldest

    def take(self, data: bytes) -> Trace | None:
        """The trace validated as exactly ``data``, once; None if there is no such verdict."""
        with self._lock:
            return self._traces.pop(data, None)

    def __len__(self) -> int:
        return len(self._traces)
