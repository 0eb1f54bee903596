"""Record checks in a worker process: decode, bounds and signature of a bundle's records off the
node's process, so that they no longer share one interpreter lock with the store.

A ``RecordChecker`` owns at most one worker process: ``python -m stig.node.checking``, a fresh
interpreter that imports no more than the checks need (never a fork of a process with threads
and an event loop running). It is started at the first ``start`` and ended by ``close`` (or
leaving the ``with`` block): its input is closed, it exits at the end of what it was reading
(and is killed if it has not within CLOSE_WAIT). It runs in its own session, so a Ctrl-C at the
terminal reaches the node's process alone, which ends it; if the node's process dies, the
worker reads the end of its input and exits.

What crosses, as frames (a 4-byte big-endian length, then msgpack): to the worker, the raw bytes
of a batch; back, per record in order, either its id (it is valid: ``decode_trusted`` of the
same bytes gives the trace without checking again) or the reason and detail it was refused for,
exactly those of ``InvalidTrace`` as the in-process checks raise it (``verdicts``). The worker
says an empty frame first, once it has imported what it checks with (``ready``).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import IO

import msgpack

from stig.crdt.codec import decode_trusted
from stig.crdt.trace import Trace
from stig.crdt.validate import check_record
from stig.errors import InvalidTrace, Reason

Verdict = bytes | tuple[Reason, str]
"""What the worker says of one record: its id (valid), or why it is not."""

CLOSE_WAIT = 5.0
"""Seconds ``close`` waits for the worker to exit before it kills it."""

_LENGTH = struct.Struct(">I")


def verdicts(raws: Sequence[bytes]) -> list[Verdict]:
    """``check_record`` of each record, in order (the worker's whole job)."""
    out: list[Verdict] = []
    for raw in raws:
        try:
            trace = check_record(raw)
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


class WorkerGone(RuntimeError):
    """The worker process ended while it had a batch to answer (a bug, or it was killed)."""


def _send(out: IO[bytes], payload: bytes) -> None:
    out.write(_LENGTH.pack(len(payload)))
    out.write(payload)
    out.flush()


def _receive(stream: IO[bytes]) -> bytes | None:
    """One frame's payload, or None at the end of the stream (between frames)."""
    head = stream.read(_LENGTH.size)
    if not head:
        return None
    if len(head) < _LENGTH.size:
        raise WorkerGone("a frame's length was cut short")
    (length,) = _LENGTH.unpack(head)
    payload = stream.read(length)
    if len(payload) < length:
        raise WorkerGone("a frame was cut short")
    return payload


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The worker's loop: a batch of raw records in, their verdicts out, until the end of input."""
    _send(answers, b"")
    while (payload := _receive(requests)) is not None:
        found = verdicts(msgpack.unpackb(payload))
        _send(
            answers,
            msgpack.packb([v if isinstance(v, bytes) else [v[0].value, v[1]] for v in found]),
        )


class RecordChecker:
    """One worker process checking batches of records (``verdicts``), started at first use."""

    def __init__(self) -> None:
        self._worker: subprocess.Popen[bytes] | None = None
        # One thread talks to the worker (writes a batch, reads its verdicts): blocking pipe
        # I/O, which releases the interpreter lock while it waits.
        self._talk: ThreadPoolExecutor | None = None
        self._started: Future[None] | None = None
        self._failed: WorkerGone | None = None  # the worker's process could not be started

    def start(self) -> None:
        """Start the worker, if not yet; ``ready`` says when it has, ``failed`` if it could not."""
        if self._worker is not None or self._failed is not None:
            return
        try:
            self._worker = subprocess.Popen(
                [
                    sys.executable,
                    "-P",
                    "-m",
                    "stig.node.checking",
                ],  # -P: the working directory not on sys.path
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            self._failed = WorkerGone(f"the worker could not start ({exc})")
            return
        self._talk = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stig-checker")
        self._started = self._talk.submit(self._hello)

    def _hello(self) -> None:
        assert self._worker is not None and self._worker.stdout is not None
        try:
            said = _receive(self._worker.stdout)
        except (OSError, ValueError) as exc:
            raise WorkerGone(f"the worker did not start ({exc})") from exc
        if said != b"":
            raise WorkerGone(f"the worker did not start (exit status {self._worker.poll()})")

    @property
    def ready(self) -> bool:
        """The worker is up (its interpreter started and imported what it checks with)."""
        started = self._started
        return started is not None and started.done() and started.exception() is None

    @property
    def failed(self) -> WorkerGone | None:
        """Why the worker could not start (then the checks are to be made elsewhere), or None."""
        started = self._started
        if self._failed is not None or started is None or not started.done():
            return self._failed
        error = started.exception()
        if error is None or isinstance(error, WorkerGone):
            return error
        return WorkerGone(f"the worker: {error}")

    async def check(self, raws: Sequence[bytes]) -> list[Verdict]:
        """``verdicts`` of ``raws``, computed in the worker."""
        self.start()
        if self._talk is None:
            raise self.failed or WorkerGone("the worker was closed")
        return await asyncio.wrap_future(self._talk.submit(self._exchange, list(raws)))

    def _exchange(self, raws: list[bytes]) -> list[Verdict]:
        worker = self._worker
        assert self._started is not None and worker is not None
        assert worker.stdin is not None and worker.stdout is not None
        self._started.result()
        try:
            _send(worker.stdin, msgpack.packb(raws))
        except OSError as exc:
            raise WorkerGone(f"the worker stopped reading ({exc})") from exc
        try:
            payload = _receive(worker.stdout)
            if payload is None:
                raise WorkerGone(f"the worker ended (exit status {worker.poll()})")
            found = [
                v if isinstance(v, bytes) else (Reason(v[0]), v[1])
                for v in msgpack.unpackb(payload)
            ]
        except (OSError, ValueError, TypeError, IndexError) as exc:  # a frame we cannot read
            raise WorkerGone(f"the worker's answer could not be read ({exc})") from exc
        if len(found) != len(raws):
            raise WorkerGone(f"the worker answered {len(found)} verdicts for {len(raws)} records")
        return found

    def close(self) -> None:
        """End the worker: no more input; it exits once it has read that (killed if it has
        not within CLOSE_WAIT). A batch it was on is dropped."""
        worker, talk = self._worker, self._talk
        self._worker = self._talk = self._started = None
        if worker is None or talk is None:
            return
        assert worker.stdin is not None and worker.stdout is not None
        with contextlib.suppress(OSError):  # (a worker that died left a broken pipe)
            worker.stdin.close()
        try:
            worker.wait(CLOSE_WAIT)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        worker.stdout.close()  # a read the thread was blocked in now ends
        talk.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> RecordChecker:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
