"""Record checks in a worker process: decode, bounds and signature of a bundle's records off the
node's process, so that they no longer share one interpreter lock with the store.

A ``RecordChecker`` owns at most one worker process (``spawn``: a fresh interpreter, never a
fork of a process with threads and an event loop running). It is started at the first
``start`` and stopped by ``close`` (or leaving the ``with`` block), which also cancels what
was not begun. A Ctrl-C is the node's process's alone to handle (it stops the worker): the
terminal signals the whole process group, so the worker is started with SIGINT blocked, which
it keeps from its first instruction on (a handler set later would leave its start-up open to
it, and to a traceback of its own).

What crosses: the raw bytes of a batch go to the worker; back comes, per record in order,
either its id (it is valid: ``decode_trusted`` of the same bytes gives the trace without
checking again) or the reason and detail it was refused for, exactly those of
``InvalidTrace`` as the in-process checks raise it (``verdicts``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType

from stig.crdt.codec import decode, decode_trusted
from stig.crdt.trace import Trace
from stig.crdt.validate import check_fields, check_signature
from stig.errors import InvalidTrace, Reason

Verdict = bytes | tuple[Reason, str]
"""What the worker says of one record: its id (valid), or why it is not."""


def verdicts(raws: Sequence[bytes]) -> list[Verdict]:
    """Decode, bounds and signature of each record, in order (the worker's whole job)."""
    out: list[Verdict] = []
    for raw in raws:
        try:
            trace = decode(raw)
            check_fields(trace)
            check_signature(trace)
        except InvalidTrace as error:
            out.append((error.reason, error.detail))
            continue
        out.append(trace.id)
    return out


def trace_of(raw: bytes, verdict: Verdict) -> Trace | InvalidTrace:
    """The trace ``raw`` makes after the worker's ``verdict`` on it, or the error it had."""
    if isinstance(verdict, bytes):
        return decode_trusted(raw, verdict)
    return InvalidTrace(*verdict)


def _ready() -> None:
    """The first task of a worker: nothing but to have started (imports done)."""


class RecordChecker:
    """One worker process checking batches of records (``verdicts``), started at first use."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._started: Future[None] | None = None

    def start(self) -> None:
        """Start the worker, if not yet; ``ready`` says when it has."""
        if self._pool is None:
            # Making the pool starts multiprocessing's resource tracker (it blocks SIGINT
            # itself, and unblocks it on this thread once it has started it: hence here).
            pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            )
            # A process inherits the signal mask of the thread that starts it: SIGINT is
            # blocked on this thread while the pool starts the worker (at its first task), no
            # longer. The node's process still takes a Ctrl-C meanwhile: the kernel hands it
            # to one of its threads that does not block it, and Python raises it on the main
            # thread as always.
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                self._started = pool.submit(_ready)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            self._pool = pool

    @property
    def ready(self) -> bool:
        """The worker is up (its interpreter started and imported what it checks with)."""
        return self._started is not None and self._started.done()

    async def check(self, raws: Sequence[bytes]) -> list[Verdict]:
        """``verdicts`` of ``raws``, computed in the worker."""
        self.start()
        assert self._pool is not None
        return await asyncio.wrap_future(self._pool.submit(verdicts, list(raws)))

    def close(self) -> None:
        """Stop the worker (waiting for the batch it is on) and forget what was queued."""
        pool, self._pool, self._started = self._pool, None, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> RecordChecker:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
