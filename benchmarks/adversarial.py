"""CPU of the worst frame a hostile peer can send, for every decoder of peer bytes.

    python benchmarks/adversarial.py [--runs 3] [--n 100000] [--json]

The rule it checks (docs/performance.md, "Adversarial input"): every decoder of peer bytes runs
in time linear in its input, and no frame costs more than BUDGET_S of CPU at its largest
allowed size. Each case builds the largest input its channel accepts, shaped to make the
receiver work hardest, and times (``time.process_time``) only the receiving call:

- **reconcile**: one frame of MAX_FRAME bytes (stig.node.sync) for every payload mode of
  stig.crdt.reconcile, given to a ``Reconciler.receive`` holding --n items (sending at most
  SEND_RECONCILE_BYTES, as a node does), as initiator
  (after its ``initiate()``) and as responder where the mode may arrive there. Ranges are
  laid over our items either one item each (``fine``) or spread evenly over the whole set
  (``spread``); fingerprints, digests and claims are wrong, so that every range needs work.
  Frames a role must refuse are timed too: refusing must be as cheap as answering.
- **trace**: ``stig.crdt.validate.validate`` of MAX_TRACE_BYTES shapes: the largest body,
  arrays of thousands of tags or refs (refused), nesting past msgpack's depth (refused).
- **fetch**: stig.node.sync ``_keys`` (WANT) and ``_traces`` (TRACES) of MAX_FRAME bytes,
  with the most elements that fit.
- **fetch**, through ingest: a ``TRACES`` frame given to the node's sync receiver
  (``stig.node.admission.Session``, a real SQLite store), as a session does: the smallest
  traces (111 bytes, the most signatures per byte) with bad signatures, which charge the peer
  and cut it off after the first slice of CHECK_EVERY records, and valid ones (fresh authors).
- **bundle**: ``stig.crdt.bundle.read_records`` and ingest (``stig.node.ingest.Ingest``, a real
  SQLite store), as ``stig import`` does, over a file of MAX_FRAME bytes of the worst records:
  empty ones (the most per byte), the smallest that must be decoded (not msgpack), the smallest
  traces with bad signatures and valid ones, the largest valid ones, oversized ones.
- **peer exchange**: ``stig.node.mesh._decode_addresses`` of the 64 KiB frame it reads.
- **control**: a request on the control socket (stig.node.control, client and server in this
  process) of the 64 KiB line asyncio's reader accepts, deepest JSON nesting, and plain.

Every case runs --runs times (fresh receiver each time, set up outside the timing, then a full
garbage collection, so that the receiver's long-lived state — a set of 100,000 items — is in the
collector's oldest generation, as in a node where it outlives many frames); the table shows min /
median / max ms of CPU per frame (the whole process: signature checks run on worker threads),
the median per KiB, median / BUDGET_S, and the median CPU of the calling thread alone (``loop
ms``: what the event loop would be blocked for). With --json the last line is
``{"cases": {name: {"kib": ..., "ms": [...], "loop_ms": [...]}}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from itertools import accumulate
from pathlib import Path

import msgpack

from stig.crdt import bundle
from stig.crdt.bounds import MAX_BODY_BYTES, MAX_TRACE_BYTES
from stig.crdt.compose import compose
from stig.crdt.reconcile import (
    ID_BYTES,
    INFINITY,
    MAX_FRAME_RANGES,
    Bound,
    Claim,
    Digest,
    Fingerprint,
    Found,
    IdList,
    IdReply,
    Item,
    Payload,
    Range,
    Reconciler,
    Skip,
    SyncError,
    encode_frame,
    fingerprint,
)
from stig.crdt.trace import Trace
from stig.crdt.validate import signing_message, validate
from stig.crypto.persona import Persona
from stig.errors import InvalidTrace
from stig.node import control
from stig.node.admission import Admission, Session, Taken
from stig.node.config import RelayPolicy
from stig.node.ingest import Ingest
from stig.node.ledger import Ledger
from stig.node.local import INGEST_BATCH
from stig.node.mesh import _decode_addresses
from stig.node.sync import MAX_FRAME, SEND_RECONCILE_BYTES, TRACES, WANT, _keys, _traces
from stig.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import print_json, print_machine, print_table

BUDGET_S = 0.050
"""Most CPU one frame may cost (the issue "one sync frame freezes a node")."""

T0 = 1_790_000_000
STEP = 7  # seconds between our items: every item has its own timestamp, so Bound(ts) cuts
SEED = 20_261_203
NOW = 1_795_000_000
MESH_FRAME = 64 * 1024  # what stig.node.mesh reads of a peer-exchange frame
LINE_LIMIT = 64 * 1024  # asyncio.StreamReader's default line limit (control socket)


@dataclass
class Case:
    group: str
    name: str
    size: int  # bytes of peer input
    prepare: Callable[[], Callable[[], object]]  # untimed setup -> the timed call
    outcome: str = ""
    cleanup: Callable[[], None] = lambda: None  # untimed, after each run


# -- our set ------------------------------------------------------------------------------------


class Ours:
    """The receiver's items (sorted), with the sums a peer would need to craft digests."""

    def __init__(self, n: int, rng: random.Random) -> None:
        self.items = [Item(T0 + STEP * i, rng.randbytes(ID_BYTES)) for i in range(n)]
        self.vals = [int.from_bytes(x.id, "little") for x in self.items]
        self.sums = list(accumulate(self.vals, initial=0))
        self.n = n

    def bound(self, i: int) -> Bound:
        """The bound just below our item i (INFINITY past the last)."""
        return INFINITY if i >= self.n else Bound(self.items[i].timestamp)

    def total(self, lo: int, hi: int) -> int:
        return self.sums[hi] - self.sums[lo]


def reconciler(ours: Ours, initiator: bool) -> Reconciler:
    r = Reconciler(ours.items, initiator=initiator, frame_limit=SEND_RECONCILE_BYTES)
    if initiator:
        r.initiate()
    return r


def fill(ours: Ours, per_range: Callable[[int, int], Payload], spread: bool) -> bytes:
    """The most ranges of ``per_range(lo, hi)`` payloads that fit in MAX_FRAME bytes and
    MAX_FRAME_RANGES: one of our items per range (``spread`` False) or the whole set cut evenly
    (``spread`` True)."""

    def frame(k: int, width: int) -> bytes:
        ranges = []
        for j in range(k):
            lo, hi = j * width, (j + 1) * width
            upper = INFINITY if spread and j == k - 1 else ours.bound(hi)
            ranges.append(Range(upper, per_range(lo, min(hi, ours.n))))
        return encode_frame(ranges)

    low, high = 1, min(ours.n, MAX_FRAME_RANGES)
    while low < high:  # the largest k whose frame fits
        k = (low + high + 1) // 2
        if len(frame(k, ours.n // k if spread else 1)) <= MAX_FRAME:
            low = k
        else:
            high = k - 1
    return frame(low, ours.n // low if spread else 1)


def single_range(payload: Payload) -> bytes:
    return encode_frame([Range(INFINITY, payload)])


def reconcile_cases(ours: Ours, rng: random.Random) -> list[Case]:
    wrong = bytes(8)
    modes: dict[str, Callable[[int, int], Payload]] = {
        "fingerprint": lambda lo, hi: Fingerprint(wrong),
        # One more item on our side and the sums agree: _single searches the range.
        "digest, one more here": lambda lo, hi: Digest(
            wrong, hi - lo - 1, ours.total(lo, hi - 1) & (2**64 - 1)
        ),
        "digest, one fewer here": lambda lo, hi: Digest(wrong, hi - lo + 1, rng.getrandbits(64)),
        "digest, far off": lambda lo, hi: Digest(wrong, 3 * (hi - lo) + 7, rng.getrandbits(64)),
        "claim": lambda lo, hi: Claim(ours.items[lo].id[:8], wrong),
        "found": lambda lo, hi: Found(rng.randbytes(4)),
        "id list, 4 B, not ours": lambda lo, hi: IdList(4, (rng.randbytes(4),)),
        "id list, empty": lambda lo, hi: IdList(4, ()),
        "id list, 32 B, not ours": lambda lo, hi: IdList(32, (rng.randbytes(32),)),
        "id reply, wrong check": lambda lo, hi: IdReply.of(
            4, hi - lo, range(hi - lo), 4, (), wrong
        ),
    }
    # Which role may receive each mode (docs/sync.md §4.7); the other one must refuse it.
    roles = {
        "found": (True,),
        "id list, 4 B, not ours": (False,),
        "id list, empty": (False,),
        "id list, 32 B, not ours": (True,),
        "id reply, wrong check": (True,),
    }
    cases = []
    for name, make in modes.items():
        for spread in (False, True):
            frame = fill(ours, make, spread)
            for initiator in roles.get(name, (True, False)):
                role = "initiator" if initiator else "responder"
                cases.append(receiving(ours, f"{name} ({'spread' if spread else 'fine'})",
                                       role, initiator, frame))  # fmt: skip

    # Single-range frames at the frame's full size.
    room = MAX_FRAME - 64
    bits = 8 * room
    cases.append(
        receiving(ours, "id reply, 2 Mi bits set", "initiator", True,
                  single_range(IdReply(4, bits, b"\xff" * (bits // 8), 4, (), wrong)))
    )  # fmt: skip
    cases.append(
        receiving(ours, "id reply, 2 Mi bits set", "responder", False,
                  single_range(IdReply(4, bits, b"\xff" * (bits // 8), 4, (), wrong)))
    )  # fmt: skip
    # The reply a responder sends a new node: all our items missing, extras filling the frame.
    n_extras = (room - ours.n // 8) // 4
    extras = tuple(rng.randbytes(4) for _ in range(n_extras))
    everything = IdReply.of(4, ours.n, range(ours.n), 4, extras, wrong)
    cases.append(
        receiving(ours, "id reply, all missing + extras", "initiator", True,
                  single_range(everything))
    )  # fmt: skip
    listed = tuple(rng.randbytes(4) for _ in range(room // 4))
    cases.append(
        receiving(ours, "id list, 4 B x 65k, not ours", "responder", False,
                  single_range(IdList(4, listed)))
    )  # fmt: skip
    mine = tuple(x.id[:4] for x in ours.items[: room // 4])
    cases.append(
        receiving(ours, "id list, 4 B x 65k, ours", "responder", False,
                  encode_frame([Range(ours.bound(len(mine)), IdList(4, mine))]))
    )  # fmt: skip
    full = tuple(rng.randbytes(32) for _ in range(room // 32))
    cases.append(
        receiving(ours, "id list, 32 B x 8k, not ours", "initiator", True,
                  single_range(IdList(32, full)))
    )  # fmt: skip
    # Ranges past MAX_FRAME_RANGES (256 KiB of one-item fingerprints, which the limit exists
    # for): refusing them costs the decoding of the first MAX_FRAME_RANGES.
    over = encode_frame(
        [Range(ours.bound(i + 1), Fingerprint(wrong)) for i in range(MAX_FRAME // 12)]
    )
    cases.append(receiving(ours, "fingerprint, 256 KiB of ranges", "responder", False, over))
    # Skips between equal fingerprints: everything settled, nothing to answer.
    equal = fill(ours, lambda lo, hi: Fingerprint(fingerprint(ours.total(lo, hi), hi - lo)), False)
    cases.append(receiving(ours, "fingerprint, equal (fine)", "responder", False, equal))
    cases.append(rounds_of_collisions(ours))
    return cases


def receiving(ours: Ours, name: str, role: str, initiator: bool, frame: bytes) -> Case:
    case = Case("reconcile", f"{name}, to {role}", len(frame), lambda: lambda: None)

    def prepare() -> Callable[[], object]:
        r = reconciler(ours, initiator)

        def call() -> object:
            try:
                answer = r.receive(frame)
            except SyncError as exc:
                case.outcome = f"refused ({exc.reason.value})"
                return None
            case.outcome = f"answered {len(answer)} B" if answer is not None else "done"
            return answer

        return call

    case.prepare = prepare
    return case


COLLISION_ROUNDS = 3


def collisions(ours: Ours, start: int) -> bytes:
    """From our item ``start`` on, every other item of ours in a range of its own, answered with
    an id reply whose check is wrong (a 'collision', which the initiator remembers), skips
    between: nothing merges. As many as a frame holds (MAX_FRAME_RANGES)."""
    ranges = [Range(ours.bound(start), Skip())] if start else []
    for i in range(start, ours.n - 1):
        payload = IdReply.of(4, 1, (), 4, (), bytes(8)) if (i - start) % 2 == 0 else Skip()
        ranges.append(Range(ours.bound(i + 1), payload))
        if (i - start) % 2 == 0 and len(ranges) >= MAX_FRAME_RANGES - 2:
            break
    return encode_frame(ranges)


def rounds_of_collisions(ours: Ours) -> Case:
    """After COLLISION_ROUNDS frames of collisions, a frame of wrong fingerprints: each range
    makes the initiator write an id list, which asks whether it overlaps a remembered
    collision (the old code scanned them all: quadratic in the rounds)."""
    step = MAX_FRAME_RANGES  # items each round's ranges cover: the rounds do not overlap
    wrongs = [collisions(ours, r * step) for r in range(COLLISION_ROUNDS)]
    frame = fill(ours, lambda lo, hi: Fingerprint(bytes(8)), False)
    name = f"fingerprint (fine) after {COLLISION_ROUNDS} rounds of collisions, to initiator"
    case = Case("reconcile", name, len(frame), lambda: lambda: None)

    def prepare() -> Callable[[], object]:
        r = reconciler(ours, True)
        for wrong in wrongs:
            r.receive(wrong)
        return lambda: r.receive(frame)

    case.prepare = prepare
    case.outcome = "answered"
    return case


# -- traces, fetch frames, bundles --------------------------------------------------------------


def trace_inputs(rng: random.Random) -> dict[str, bytes]:
    author = Persona("bench", bytes(range(32)))
    largest = compose(author, "note", "x" * MAX_BODY_BYTES, now=NOW, ttl=86_400).encoded
    fields = msgpack.unpackb(largest, raw=False)

    def with_field(i: int, value: object) -> bytes:
        shaped = list(fields)
        shaped[i] = value
        out = msgpack.packb(shaped, use_bin_type=True)
        assert isinstance(out, bytes)
        return out

    def sized(make: Callable[[int], bytes]) -> bytes:
        k = 1
        while len(make(2 * k)) <= MAX_TRACE_BYTES:
            k *= 2
        while len(make(k + 1)) <= MAX_TRACE_BYTES:
            k += 1
        return make(k)

    fields[8] = ""  # the body's bytes go to the arrays instead
    return {
        "largest valid (body 4 KiB)": largest,
        "tags: thousands of 1-char": sized(lambda k: with_field(5, ["a"] * k)),
        "refs: hundreds of 32 B": sized(lambda k: with_field(7, [rng.randbytes(32)] * k)),
        "nesting past msgpack's depth": b"\x91" * (MAX_TRACE_BYTES - 1) + b"\x90",
        "array of 8k nil": sized(lambda k: msgpack.packb([None] * k)),
    }


def validating(raw: bytes) -> Callable[[], object]:
    def call() -> object:
        try:
            return validate(raw, NOW)
        except InvalidTrace as exc:
            return exc

    return call


def other_cases(rng: random.Random) -> list[Case]:
    cases = []
    traces = trace_inputs(rng)
    for name, raw in traces.items():
        cases.append(Case("trace", name, len(raw), partial(validating, raw)))

    def fetch(name: str, decode: Callable[[bytes], object], frame: bytes) -> Case:
        def call() -> object:
            try:
                return decode(frame)
            except SyncError as exc:
                return exc

        return Case("fetch", name, len(frame), lambda: call)

    def packed(values: list[bytes]) -> bytes:
        out = msgpack.packb(values, use_bin_type=True)
        assert isinstance(out, bytes)
        return out

    cases.append(fetch("WANT, 4096 keys of 32 B", _keys, bytes([WANT]) + packed(
        [rng.randbytes(32) for _ in range(4096)])))  # fmt: skip
    cases.append(fetch("WANT, 128k empty keys (refused)", _keys, bytes([WANT]) + packed(
        [b""] * ((MAX_FRAME - 8) // 2))))  # fmt: skip
    cases.append(fetch("TRACES, 128k empty entries", _traces, bytes([TRACES]) + packed(
        [b""] * ((MAX_FRAME - 8) // 2))))  # fmt: skip
    big = traces["largest valid (body 4 KiB)"]
    cases.append(fetch("TRACES, largest traces", _traces, bytes([TRACES]) + packed(
        [big] * ((MAX_FRAME - 8) // (len(big) + 5)))))  # fmt: skip

    def bundle_file(records: list[bytes]) -> bytes:
        out = io.BytesIO()
        bundle.write_header(out)
        for raw in records:
            bundle.write_record(out, raw)
        return out.getvalue()

    smallest = smallest_traces(rng)
    per_file = (MAX_FRAME - 9) // (bundle.MIN_RECORD_BYTES + 4)
    files = {
        "64k empty records (too_small)": bundle_file([b""] * ((MAX_FRAME - 9) // 4)),
        "2k smallest records, not msgpack": bundle_file(
            [b"\xc1" + rng.randbytes(bundle.MIN_RECORD_BYTES - 1) for _ in range(per_file)]
        ),
        "2k smallest traces, bad signatures": bundle_file(smallest["bad"][:per_file]),
        "2k smallest valid traces": bundle_file(
            smallest["valid"][: (MAX_FRAME - 9) // (len(smallest["valid"][-1]) + 4)]
        ),
        "largest valid records": bundle_file([big] * ((MAX_FRAME - 9) // (len(big) + 4))),
        "oversized records (skipped)": bundle_file(
            [bytes(MAX_TRACE_BYTES + 1)] * (MAX_FRAME // (MAX_TRACE_BYTES + 5))
        ),
    }
    for name, data in files.items():
        case = Case("bundle", name, len(data), lambda: lambda: None)
        case.prepare, case.cleanup = importing(data, case)
        cases.append(case)

    def traces_frame(raws: list[bytes]) -> bytes:
        count = len(raws)
        while len(frame := bytes([TRACES]) + packed(raws[:count])) > MAX_FRAME:
            count -= 1
        return frame

    for name, raws in (
        ("TRACES, 2k smallest traces, bad signatures, ingested", smallest["bad"]),
        ("TRACES, 2k smallest valid traces, ingested", smallest["valid"]),
    ):
        frame = traces_frame(raws)
        case = Case("fetch", name, len(frame), lambda: lambda: None)
        case.prepare, case.cleanup = receiving_traces(frame, case)
        cases.append(case)

    for name, frame in packed_addresses().items():
        cases.append(Case("peer exchange", name, len(frame), partial(exchanging, frame)))

    for name, line in control_lines().items():
        case = Case("control", name, len(line), lambda: lambda: None)
        case.prepare = partial(asking, line, case)
        cases.append(case)
    return cases


def smallest_traces(rng: random.Random) -> dict[str, list[bytes]]:
    """Traces of the smallest size that passes every check before the signature (bundle
    MIN_RECORD_BYTES; 8 bytes more to be live at NOW), each by a fresh author (no author rate
    or quota applies): ``valid`` ones, and ``bad`` ones whose signature is the author's over
    other content. A bad signature must be well formed to cost a full verification: libsodium
    refuses a random one (S not below the group order, 15 times in 16) or a random key (not on
    the curve, about half the time) early, for a few microseconds."""
    count = MAX_FRAME // (bundle.MIN_RECORD_BYTES + 4) + 1
    bad, valid = [], []
    for i in range(count):
        persona = Persona("bench", rng.randbytes(32))
        unsigned = Trace(kind="a", author=persona.public_key, created=NOW - 60, expires=NOW + i + 1)
        valid.append(replace(unsigned, signature=persona.sign(signing_message(unsigned))).encoded)
        oldest = Trace(kind="a", author=persona.public_key, created=0, expires=1)
        other = replace(oldest, expires=2)
        bad.append(replace(oldest, signature=persona.sign(signing_message(other))).encoded)
    assert len(bad[0]) == bundle.MIN_RECORD_BYTES
    return {"bad": bad, "valid": valid}


class _Stored:
    """A fresh SQLite store in a temporary folder, and an event loop to use it from."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.folder = tempfile.mkdtemp(prefix="stig-adversarial-")
        self.store = self.loop.run_until_complete(SqliteStore.open(Path(self.folder) / "s.db"))

    def close(self) -> None:
        self.loop.run_until_complete(self.store.close())
        self.loop.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def importing(
    data: bytes, case: Case
) -> tuple[Callable[[], Callable[[], object]], Callable[[], None]]:
    """``stig import`` of ``data``: read_records, then Ingest in batches (as LocalNode does)."""
    stored: list[_Stored] = []

    async def run(ingest: Ingest) -> None:
        batch: list[tuple[str, bytes]] = []
        for record in bundle.read_records(io.BytesIO(data)):
            at = f"byte {record.offset}"
            if record.error is not None:
                ingest.report.reject(at, record.error, record.count)
                continue
            batch.append((at, record.raw))
            if len(batch) >= INGEST_BATCH:
                await ingest.add(batch)
                batch = []
        await ingest.add(batch)
        report = await ingest.finish()
        case.outcome = f"accepted {report.accepted}, " + ", ".join(
            f"{reason} {n}" for reason, n in sorted(report.rejected.items())
        )

    def prepare() -> Callable[[], object]:
        here = _Stored()
        stored.append(here)
        ingest = Ingest(here.store, NOW)
        return lambda: here.loop.run_until_complete(run(ingest))

    def cleanup() -> None:
        while stored:
            stored.pop().close()

    return prepare, cleanup


def receiving_traces(
    frame: bytes, case: Case
) -> tuple[Callable[[], Callable[[], object]], Callable[[], None]]:
    """A TRACES frame of a sync session, from its bytes to the store, through the node's
    admission (stig.node.admission.Session: charges each reject, cuts the peer off)."""
    stored: list[_Stored] = []

    async def run(session: Session) -> None:
        try:
            await session.add(_traces(frame))
        except SyncError as exc:
            case.outcome = f"cut off ({exc.reason.value})"
            return
        report = await session.finish()
        case.outcome = f"accepted {report.accepted}"

    def prepare() -> Callable[[], object]:
        here = _Stored()
        stored.append(here)
        admission = Admission(RelayPolicy(), here.store, Ledger(), lambda: NOW, lambda peer: None)
        turn = here.loop.run_until_complete(_lock())
        session = Session(admission, here.store, Taken(), turn, "bench-peer", pushed=False, now=NOW)
        return lambda: here.loop.run_until_complete(run(session))

    def cleanup() -> None:
        while stored:
            stored.pop().close()

    return prepare, cleanup


async def _lock() -> asyncio.Lock:
    return asyncio.Lock()


def exchanging(frame: bytes) -> Callable[[], object]:
    return lambda: _decode_addresses(frame)


def packed_addresses() -> dict[str, bytes]:
    longest = "/ip4/203.0.113.7/tcp/4001/p2p/" + "x" * 450
    fitting = msgpack.packb([longest] * 32)
    too_many = msgpack.packb(["a"] * ((MESH_FRAME - 8) // 2))
    huge_str = msgpack.packb(["a" * (MESH_FRAME - 16)])
    return {
        "32 addresses of 480 chars": fitting,
        "64k-element array (refused)": too_many,
        "one 64 KiB string (refused)": huge_str,
    }


def control_lines() -> dict[str, bytes]:
    return {
        "a 64 KiB line": b'{"ask": "' + b"x" * (LINE_LIMIT - 16) + b'"}\n',
        "4 KiB of nested arrays": b"[" * control.MAX_REQUEST + b"\n",
        "a status request": b'{"ask": "status"}\n',
    }


def asking(line: bytes, case: Case) -> Callable[[], object]:
    """Serve the control socket and send it ``line``; the call times one request, both ends."""
    loop = asyncio.new_event_loop()
    folder = tempfile.TemporaryDirectory()
    path = Path(folder.name) / "control.sock"

    async def status() -> dict[str, object]:
        return {"peers": []}

    server = loop.run_until_complete(control.serve(path, status))

    async def ask() -> bytes:
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(line)
        answer = await reader.readline()
        writer.close()
        return answer

    def call() -> object:
        try:
            answer = loop.run_until_complete(asyncio.wait_for(ask(), 5))
            case.outcome = answer.decode()[:40].strip() or "no answer"
            return answer
        finally:
            server.close()
            loop.run_until_complete(server.wait_closed())
            loop.close()
            folder.cleanup()

    return call


# -- running ------------------------------------------------------------------------------------


def measure(case: Case, runs: int) -> tuple[list[float], list[float]]:
    """CPU seconds of each run: of the process, and of the calling thread alone."""
    times, loop_times = [], []
    for _ in range(runs):
        call = case.prepare()
        gc.collect()
        start, thread_start = time.process_time(), time.thread_time()
        call()
        loop_times.append(time.thread_time() - thread_start)
        times.append(time.process_time() - start)
        case.cleanup()
    return times, loop_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--n", type=int, default=100_000, help="items the reconciler holds")
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3 (min / median / max)")
    print_machine()
    rng = random.Random(SEED)
    ours = Ours(args.n, rng)
    cases = reconcile_cases(ours, rng) + other_cases(rng)
    rows, found = [], {}
    for case in cases:
        if args.only not in f"{case.group} {case.name}":
            continue
        times, loop_times = measure(case, args.runs)
        ms = [1000 * t for t in times]
        loop_ms = [1000 * t for t in loop_times]
        median = statistics.median(times)
        kib = case.size / 1024
        rows.append(
            (
                case.group,
                case.name,
                kib,
                min(ms),
                1000 * median,
                max(ms),
                1000 * median / kib,
                median / BUDGET_S,
                statistics.median(loop_ms),
                case.outcome,
            )
        )
        found[f"{case.group}: {case.name}"] = {"kib": kib, "ms": ms, "loop_ms": loop_ms}
    print_table(
        f"CPU per frame, {args.runs} runs, receiver holding {args.n:,} items "
        f"(budget {1000 * BUDGET_S:.0f} ms per frame)",
        [
            "channel",
            "input",
            "KiB",
            "min ms",
            "median ms",
            "max ms",
            "ms/KiB",
            "/budget",
            "loop ms",
            "",
        ],
        rows,
    )
    worst = max(rows, key=lambda r: r[7])
    print(f"\nworst: {worst[0]}: {worst[1]}, {worst[4]:.1f} ms = {worst[7]:.2f} x the budget")
    if args.json:
        print_json({"cases": found})


if __name__ == "__main__":
    main()
