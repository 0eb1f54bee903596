"""Sync sessions over the stream protocol ``/stig/sync/1`` (docs/protocol.md §8).

A session has two phases on one stream:

1. **Reconcile** — the initiator and the responder exchange reconciliation frames
   (stig.crdt.reconcile; their first byte is the protocol version, 0x01) until the initiator
   knows what each side lacks.
2. **Fetch** — framed messages whose first byte says what they are (never 0x01):

   * ``WANT`` (0x10) + msgpack array of ids or id prefixes: the initiator asks; the responder
     answers with ``TRACES`` frames then ``DONE``. Repeated while the initiator needs more.
   * ``TRACES`` (0x11) + msgpack array of canonical traces (bin), at most MAX_FRAME bytes.
   * ``DONE`` (0x12), alone: the end of an answer, or of the initiator's pushes.

   The initiator then pushes what the responder lacks as ``TRACES`` frames and ``DONE``; the
   responder acknowledges with ``DONE`` once it has stored them, and both close.

The phases are strictly alternating — one side writes while the other reads — so neither side
can fill the stream's window while the other is also writing (no flow-control deadlock).

Every received trace goes through the node's ingest pipeline (validated as if pushed); a frame
that does not decode raises SyncError, which ends the session and gets the peer cut off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import msgpack

from stig.crdt.reconcile import (
    PROTOCOL_VERSION,
    Item,
    Reconciler,
    Snapshot,
    SyncError,
    SyncReason,
)
from stig.net.network import NetworkError, Stream
from stig.store.port import Store

SYNC_PROTOCOL = "/stig/sync/1"

WANT = 0x10
TRACES = 0x11
DONE = 0x12

MAX_FRAME = 256 * 1024
"""Largest frame of a session either way (fetch phase and reconciliation): what we accept, and
the most we send in the fetch phase."""

SEND_RECONCILE_BYTES = 192 * 1024
"""Largest reconciliation frame this node sends; it accepts MAX_FRAME (docs/sync.md §4.6: the
limit a peer must accept is not what it must send). A local choice: the CPU of writing an
answer grows with its bytes (some 0.15 us per byte in the worst frames a peer can ask us to
answer), and a quarter less keeps the worst under the 50 ms budget with a margin, for one more
round trip per ~48,000 items pulled by a new node (docs/performance.md, "Adversarial input")."""

MAX_WANT_KEYS = 4096
"""Keys per WANT frame: a request stays small and its answer bounded."""

MAX_SESSION_TRACES = 100_000
MAX_SESSION_BYTES = 256 * 1024 * 1024
"""What one session may carry each way (docs/protocol.md §8.4, "Bounds of a session"): a side
that receives more traces or more bytes of TRACES frames ends the session (``too_much``) and cuts
the peer off. An initiator asks for, and pushes, at most MAX_SESSION_TRACES per session; the rest
comes in the next one."""


class Receiver(Protocol):
    """Where a session's received traces go: validated and stored batch by batch, and judged
    once more at the end of the session (a trace past its own expiry may be kept alive by a
    supporter that came in a later frame, docs/protocol.md §8.4)."""

    async def add(self, traces: list[bytes]) -> None: ...

    async def finish(self) -> object: ...


@dataclass
class SyncStats:
    bytes_sent: int = 0
    bytes_received: int = 0
    round_trips: int = 0
    sent_traces: int = 0
    received_traces: int = 0
    received_trace_bytes: int = 0
    more: bool = False
    """The difference was larger than one session carries: sync again."""

    def took(self, traces: list[bytes], frame: bytes) -> None:
        """Count a TRACES frame; a session over its bounds is the peer breaking the protocol."""
        self.received_traces += len(traces)
        self.received_trace_bytes += len(frame)
        if self.received_traces > MAX_SESSION_TRACES:
            raise SyncError(
                SyncReason.TOO_MUCH, f"more than {MAX_SESSION_TRACES} traces in one session"
            )
        if self.received_trace_bytes > MAX_SESSION_BYTES:
            raise SyncError(
                SyncReason.TOO_MUCH,
                f"more than {MAX_SESSION_BYTES // (1024 * 1024)} MiB of traces in one session",
            )


class _Framed:
    """A stream that counts bytes and refuses what is not a frame of the session."""

    def __init__(self, stream: Stream, stats: SyncStats) -> None:
        self._stream = stream
        self._stats = stats

    async def send(self, frame: bytes) -> None:
        self._stats.bytes_sent += len(frame)
        await self._stream.send(frame)

    async def receive(self) -> bytes:
        try:
            frame = await self._stream.receive(MAX_FRAME)
        except NetworkError as exc:
            if exc.reason != "frame_too_large":
                raise
            # The stream refused it unread; it is still the peer breaking the protocol.
            raise SyncError(SyncReason.FRAME_TOO_LARGE, exc.detail) from exc
        if frame is None:
            # A peer that stops (Ctrl-C, a restart) closes its streams: a failed session, not
            # a broken protocol, so no penalty.
            raise NetworkError("closed", "the peer closed the stream mid-session")
        self._stats.bytes_received += len(frame)
        return frame

    async def receive_typed(self) -> tuple[int, bytes]:
        """A fetch-phase frame and its type byte (an empty frame has none: refused)."""
        frame = await self.receive()
        if not frame:
            raise SyncError(SyncReason.BAD_FRAME, "empty frame")
        return frame[0], frame


async def initiate(
    stream: Stream, store: Store, ingest: Receiver, now: int, items: Snapshot | None = None
) -> SyncStats:
    """Run a session as the initiator: reconcile, fetch what we lack, push what they lack.
    ``items`` is the set to reconcile (stig.node.sync_set), else read from the store."""
    stats = SyncStats()
    framed = _Framed(stream, stats)
    reconciler = await _reconciler(store, now, items, initiator=True)
    frame: bytes | None = reconciler.initiate()
    while frame is not None:
        await framed.send(frame)
        stats.round_trips += 1
        frame = await _receive(reconciler, await framed.receive())
    wanted = sorted(reconciler.need)
    if len(wanted) > MAX_SESSION_TRACES:
        wanted, stats.more = wanted[:MAX_SESSION_TRACES], True
    for start in range(0, len(wanted), MAX_WANT_KEYS):
        await framed.send(bytes([WANT]) + _pack(wanted[start : start + MAX_WANT_KEYS]))
        while (typed := await framed.receive_typed())[0] != DONE:
            traces = _traces(typed[1])
            stats.took(traces, typed[1])
            await ingest.add(traces)
    offered = sorted(reconciler.have)
    if len(offered) > MAX_SESSION_TRACES:
        offered, stats.more = offered[:MAX_SESSION_TRACES], True
    pushed = await store.fetch(offered, now)
    for chunk in _chunked(pushed):
        await framed.send(chunk)
    stats.sent_traces = len(pushed)
    await framed.send(bytes([DONE]))
    if (await framed.receive_typed())[0] != DONE:
        raise SyncError(SyncReason.PROTOCOL, "expected DONE after our traces")
    await ingest.finish()
    return stats


async def respond(
    stream: Stream, store: Store, ingest: Receiver, now: int, items: Snapshot | None = None
) -> SyncStats:
    """Serve one session as the responder (``items``: as for ``initiate``)."""
    stats = SyncStats()
    framed = _Framed(stream, stats)
    reconciler = await _reconciler(store, now, items, initiator=False)
    while True:
        kind, frame = await framed.receive_typed()
        if kind == PROTOCOL_VERSION:
            await framed.send(await _receive(reconciler, frame) or b"")
            stats.round_trips += 1
        elif kind == WANT:
            keys = _keys(frame)
            found = await store.fetch(keys, now)
            for chunk in _chunked(found):
                await framed.send(chunk)
            stats.sent_traces += len(found)
            await framed.send(bytes([DONE]))
        elif kind == TRACES:
            traces = _traces(frame)
            stats.took(traces, frame)
            await ingest.add(traces)
        elif kind == DONE:
            await ingest.finish()
            await framed.send(bytes([DONE]))
            return stats
        else:
            raise SyncError(SyncReason.BAD_FRAME, f"unknown frame type 0x{kind:02x}")


INLINE_BELOW = 4096
"""Reconciliation frames smaller than this are handled on the event loop; larger ones, and
building the reconciler, on a worker thread, so the loop stays responsive while a dense frame
(up to hundreds of milliseconds of CPU: docs/performance.md, "Adversarial input") is worked."""


async def _reconciler(
    store: Store, now: int, snapshot: Snapshot | None, *, initiator: bool
) -> Reconciler:
    if snapshot is not None:  # kept current between sessions: nothing to build
        return Reconciler(snapshot, initiator=initiator, frame_limit=MAX_FRAME)
    items = [Item(created, tid) for created, tid in await store.live_items(now)]
    if len(items) < INLINE_BELOW:
        return Reconciler(items, initiator=initiator, frame_limit=SEND_RECONCILE_BYTES)
    return await asyncio.to_thread(
        Reconciler, items, initiator=initiator, frame_limit=SEND_RECONCILE_BYTES
    )


async def _receive(reconciler: Reconciler, frame: bytes) -> bytes | None:
    if len(frame) < INLINE_BELOW:
        return reconciler.receive(frame)
    return await asyncio.to_thread(reconciler.receive, frame)


def _pack(values: list[bytes]) -> bytes:
    packed = msgpack.packb(values, use_bin_type=True)
    assert isinstance(packed, bytes)
    return packed


def _unpack_bins(frame: bytes, what: str, longest: int) -> list[bytes]:
    try:
        values = msgpack.unpackb(
            frame[1:], raw=False, max_bin_len=longest, max_str_len=0, max_map_len=0,
            max_ext_len=0, max_array_len=MAX_FRAME,
        )  # fmt: skip
    except (ValueError, msgpack.UnpackException) as exc:
        raise SyncError(SyncReason.BAD_FRAME, f"{what} frame does not decode: {exc}") from exc
    if type(values) is not list or not all(type(v) is bytes for v in values):
        raise SyncError(SyncReason.BAD_FRAME, f"{what} frame is not an array of binaries")
    return values


def _keys(frame: bytes) -> list[bytes]:
    keys = _unpack_bins(frame, "WANT", 32)
    if len(keys) > MAX_WANT_KEYS or any(not 1 <= len(k) <= 32 for k in keys):
        raise SyncError(SyncReason.BAD_FRAME, "WANT frame with too many or malformed keys")
    return keys


def _traces(frame: bytes) -> list[bytes]:
    if frame[0] != TRACES:
        raise SyncError(SyncReason.PROTOCOL, f"expected TRACES or DONE, got 0x{frame[0]:02x}")
    return _unpack_bins(frame, "TRACES", MAX_FRAME)


def _chunked(traces: Iterable[bytes]) -> Iterator[bytes]:
    """TRACES frames of at most MAX_FRAME bytes (a trace is at most 8 KiB, so one always fits)."""
    batch: list[bytes] = []
    size = 8
    for raw in traces:
        if batch and size + len(raw) + 5 > MAX_FRAME:
            yield bytes([TRACES]) + _pack(batch)
            batch, size = [], 8
        batch.append(raw)
        size += len(raw) + 5
    if batch:
        yield bytes([TRACES]) + _pack(batch)
