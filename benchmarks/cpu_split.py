"""Where a node process's CPU goes: stig's own work, py-libp2p's, the bridge, the event loops.

Two sources, because neither is enough alone on a shared machine:

* **per-thread CPU from the kernel** (``/proc/<pid>/task/<tid>/stat``, utime + stime): exact,
  but it knows only threads. A ``stig node`` process runs the node's asyncio loop on its main
  thread (stig), py-libp2p in a trio thread (``trio-libp2p-…``, with stig's libp2p adapter and
  the gossip validator running inside it), one thread per store connection (``stig-store…``,
  stig.store.connection; aiosqlite's in trees before it), the signature threads
  (``stig-verify…``) and a few library threads;
* **py-spy samples** (``pip install py-spy``; not a dependency of stig) of every thread, at
  SAMPLE_RATE, taken from outside with no change to the process. They say which code a thread
  was in, but py-spy counts a thread as busy whenever the kernel does not report it asleep, so
  on a loaded machine a thread waiting for a core counts too: samples are read as *shares*
  within one thread, never as time.

So each thread's exact CPU is split between owners in proportion to its samples. A sample's
owner is found from its innermost frames outward: the first frame that belongs to a known part
of stig or of py-libp2p names it (an Ed25519 check called by stig's validator is stig's, one
called by py-libp2p's peer-record check is py-libp2p's). Samples with neither on the stack
are the event loops' own scheduling (trio's, asyncio's) or "other". OWNERS lists the rules in
the order they are tried on each frame.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

SAMPLE_RATE = 100
"""Samples per second per thread."""

CLK_TCK = os.sysconf("SC_CLK_TCK")

OWNERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("stig: bridge (trio <-> asyncio)", ("stig/net/trio_bridge.py",)),
    (
        "stig: trace checks (decode, bounds, signature)",
        ("stig/node/admission.py", "stig/crdt/", "stig/crypto/"),
    ),
    ("stig: ingest and store", ("stig/node/ingest.py", "stig/store/", "aiosqlite/")),
    ("stig: sync and peer exchange", ("stig/node/sync.py", "stig/crdt/reconcile")),
    ("stig: node loop (publish poll, events)", ("stig/node/mesh.py", "stig/node/outbox.py")),
    (
        "stig: libp2p adapter",
        ("stig/net/libp2p_", "stig/net/negotiation_guard.py", "stig/net/circuit.py"),
    ),
    ("stig: other", ("stig/",)),
    # py-spy shortens some paths to the file name (envelope.py).
    (
        "libp2p: Ed25519 (signed peer records, message signatures)",
        ("envelope.py", "peer_record.py", "libp2p/crypto/"),
    ),
    ("libp2p: pubsub and gossipsub", ("libp2p/pubsub/",)),
    ("libp2p: noise (encryption)", ("libp2p/security/",)),
    ("libp2p: yamux (multiplexing)", ("libp2p/stream_muxer/",)),
    ("libp2p: TCP socket reads and writes", ("libp2p/io/trio.py", "libp2p/transport/")),
    ("libp2p: task services (anyio_service)", ("libp2p/tools/anyio_service/",)),
    ("libp2p: other", ("libp2p/",)),
    ("protobuf", ("google/protobuf",)),
    ("trio scheduler", ("trio/",)),
    ("asyncio scheduler", ("asyncio/",)),
)


LOOP_STEPS = (
    ("BaseEventLoop._run_once (", "asyncio scheduler"),
    ("Handle._run (", "asyncio scheduler"),
    ("run (trio/_core/_run.py", "trio scheduler"),
    ("unrolled_run (", "trio scheduler"),
)
"""Where an event loop runs, then hands control to a task or a callback. The frames rootward
of the last one are the loop and the thread's root (stig's command line, the bridge's thread
main): on every stack of that thread, not a cost of their own."""

WAITING = (
    "EpollSelector.select (",
    "EpollIOManager.get_events (",
    "Condition.wait (",
    "_connection_worker_thread (aiosqlite/core.py:59)",  # aiosqlite 0.22.1: its queue's get()
    "_worker (concurrent/futures/thread.py:81)",  # Python 3.11: an idle pool thread's get()
)
"""A thread whose innermost frame is one of these is waiting, not working. py-spy counts it
busy when the kernel has just woken it (on a loaded machine, for as long as it waits for a
core), so such samples are dropped: WAITING_OWNER."""

WAITING_OWNER = "waiting (dropped)"


def owner(frames: list[str]) -> str:
    """The owner of one stack (frames root first): the innermost frame of stig or py-libp2p
    above the event loop's last hand-off; the loop itself when there is none."""
    if frames and frames[-1].startswith(WAITING):
        return WAITING_OWNER
    start, fallback = 0, "other"
    for at, frame in enumerate(frames):
        for mark, loop in LOOP_STEPS:
            if frame.startswith(mark):
                start, fallback = at + 1, loop
    for frame in reversed(frames[start:]):
        for name, marks in OWNERS:
            if name not in SCHEDULERS and any(mark in frame for mark in marks):
                return _where_checked(name, frames[start:])
    return fallback


CHECKED_BY = (("stig/node/ingest.py", "in ingest"), ("stig/node/admission.py", "in the validator"))
"""Trace checks are the same functions wherever they run: the frames that called them say
whether it was the gossip validator (on the trio thread) or the ingest pipeline."""


def _where_checked(name: str, frames: list[str]) -> str:
    if not name.startswith("stig: trace checks"):
        return name
    for mark, where in CHECKED_BY:
        if any(mark in frame for frame in frames):
            return f"stig: trace checks {where} (decode, bounds, signature)"
    return name


SCHEDULERS = ("trio scheduler", "asyncio scheduler")


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (utime + stime) of each live thread of ``pid``, by thread id."""
    found: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the thread ended meanwhile
        found[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return found


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> dict[int, float]:
    return {tid: after[tid] - before.get(tid, 0.0) for tid in after}


Samples = dict[int, tuple[str, Counter[str]]]
"""By thread id: the thread's name and its samples by owner."""


def read_raw(path: Path) -> Samples:
    """py-spy ``record --threads --format raw``: each line is ``thread (TID): NAME;frame;...
    COUNT``."""
    samples: Samples = {}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack.startswith("thread (") or not count.isdigit():
            continue
        head, *frames = stack.split(";")
        tid_text, _, name = head[len("thread (") :].partition("): ")
        if not tid_text.isdigit():
            continue
        entry = samples.setdefault(int(tid_text), (name, Counter()))
        entry[1][owner(frames)] += int(count)
    return samples


def thread_group(name: str, owners: Counter[str]) -> str:
    """What a thread is, from its name and where its samples were."""
    if name == "MainThread":
        return "asyncio thread (the node)"
    if name.startswith("trio-"):
        return "trio thread (py-libp2p)"
    if name.startswith("stig-verify"):
        return "signature threads (ingest)"
    if name.startswith("stig-store") or "_connection_worker_thread" in name:
        return "store threads (SQLite)"  # stig.store.connection; aiosqlite's before it
    return "other threads"


def attribute(cpu: dict[int, float], samples: Samples) -> tuple[Counter[str], Counter[str]]:
    """Each thread's CPU split between owners in proportion to its samples (a thread without
    samples: all "unsampled"). Returns CPU by thread group and CPU by owner."""
    by_group: Counter[str] = Counter()
    by_owner: Counter[str] = Counter()
    for tid, seconds in cpu.items():
        name, owners = samples.get(tid, ("?", Counter()))
        by_group[thread_group(name, owners)] += seconds
        owners = Counter({who: n for who, n in owners.items() if who != WAITING_OWNER})
        total = sum(owners.values())
        if not total:
            by_owner["unsampled"] += seconds
            continue
        for who, count in owners.items():
            by_owner[who] += seconds * count / total
    return by_group, by_owner


def available() -> str | None:
    """The py-spy executable (beside this Python's, else on PATH), or None."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Sampler:
    """``py-spy record --threads`` on a live process for ``seconds``, and its threads' CPU over
    the same window; ``finish()`` returns both."""

    def __init__(self, pid: int, seconds: float, out: Path) -> None:
        exe = available()
        if exe is None:
            raise SystemExit("py-spy is not installed (pip install py-spy)")
        self.pid = pid
        self.out = out
        self.cpu_before = thread_cpu(pid)
        self.process = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(max(1, round(seconds))),
                "--rate",
                str(SAMPLE_RATE),
                "--threads",
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def finish(self) -> tuple[dict[int, float], Samples]:
        """The threads' CPU over the window (read now: call at the window's end) and the
        samples (py-spy is waited for)."""
        cpu = cpu_delta(self.cpu_before, thread_cpu(self.pid))
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        return cpu, read_raw(self.out) if self.out.exists() else {}
