"""Propagation over the mesh: how long until every node holds a post, and what it costs.

    python benchmarks/propagation.py --real 10 [--posts 50] [--interval 0.2] [--profile 3]
                                     [--json]
    python benchmarks/propagation.py --memory 1000 [--posts-memory 20] [--interval-memory 1.0]
                                     [--mesh sample|stable] [--relays 20] [--json]
    python benchmarks/propagation.py [--json]      # both, with the defaults (10 and 1000)

Both modes use the product's default sync_interval (30 s; --sync-interval,
--sync-interval-memory), so what is measured is push (gossip); a node that push misses gets the
post by the next pull sync, and the script waits up to --straggle seconds for that.

**Real** (``--real N``): N ``stig node`` processes on 127.0.0.1, each with its own home under
a temporary directory (``stig init -q``, then a config.toml with ``sync_interval``). Node i is
bootstrapped to one random earlier node, so the mesh starts as a random tree and peer exchange
has work to do. The mesh has settled when every node has at least one connected peer and the
peer counts have not changed for SETTLE_STABLE seconds (asked over each node's control socket:
the answer ``stig peers --json`` prints, without starting a process per question). Then M
traces are posted, one every ``--interval`` seconds, each by a random node: written into that
node's store with SqliteStore.add_durable (exactly what ``stig post`` does; the node notices
the new row within PUBLISH_POLL and publishes it). Every node's store is polled (``get(id)``
on one SqliteStore connection per node, all nodes at once, then a POLL_EVERY pause); a trace
counts as held by a node from the first poll round that sees it there. Time-to-all = last
node's first sighting - the moment before add_durable was called.

CPU per message per node: utime + stime of each node process (/proc/<pid>/stat) over a window
of M x interval + CPU_TAIL seconds from the first post, minus the same node's CPU over an idle
window of the same length just before posting (same duration, no posts), divided by M.
``--profile K`` also splits the CPU of the first K nodes over both windows: by thread, exactly
(the kernel's per-thread counters), and by owner — stig's own work or py-libp2p's — from
py-spy samples (benchmarks/cpu_split.py; needs ``pip install py-spy``).

**Memory** (``--memory N``): N MeshNode instances in this one process on a MemoryHub
(stig.net.memory_net) with ``Link(latency=--latency)`` on every link and the hub's default
mesh_degree; each has a MemoryStore and a Home under a short temporary directory (MeshNode
writes its addrs file and opens a control socket there). Node i is configured to bootstrap to
up to ``--bootstrap`` random earlier nodes; peer exchange does the rest. Nodes are started one
after another, then the mesh settles (no new connection for SETTLE_STABLE seconds). M posts,
one every ``--interval`` seconds, each by a random node (MemoryStore.add_durable: the node
publishes it from its store poll, as in the real case). A store subclass notes the moment each
node stores each post (exact, no polling). Copies received per node per message is the sum of
``network.copies_received`` over the posting phase / N / M. Nodes that stored a post more
than PUSH_CUTOFF seconds after it was posted are counted as reached by pull, not push. The
event loop's lateness (a ticker asleep for 50 ms), the time spent in garbage collection and
this process's CPU are reported, because with thousands of nodes in one process the simulation
itself may be what is slow: read time-to-all beside the loop lag. Start-up is timed per tenth
of the nodes (wall and CPU ms per node), which shows whether it stays linear; beside it, the
loop's steps per node (a count of the work, the same whatever the load), the CPU per step, and
the work the nodes already running do while each new node starts (their timers fire meanwhile:
estimated from the idle window), so that more work per node can be told from dearer work.
The simulator's own costs are kept down without changing what a node does: a store that wakes
its node's publisher instead of being polled (TimedStore), and the cyclic garbage collector
switched off (GC_OFF; so a reference cycle left by a node is kept to the end of the run).

**Clock** (``--clock virtual``, the default for ``--memory``): the simulation runs on a
simulated clock (benchmarks/virtual_clock.py): time moves only when no simulated node has work
left, so link latency, batching delays and timers are exact and a node's own CPU work takes no
simulated time. Ten thousand nodes in one process need more CPU per post than a core has in the
time a post takes to spread (docs/performance.md, "10,000 in-memory nodes"); on the wall clock
that backlog read as slow propagation. Times printed are then on the loop's clock; beside them
the report prints the wall seconds each simulated second took (how far from real time the
simulator ran) and this process's CPU. ``--clock wall`` runs on asyncio's own loop, as before,
where the loop lag is the figure to read beside time-to-all. Nodes start every ``--start-every``
seconds of the loop's clock (5 ms simulated; none on the wall clock), and their clock
(``MeshNode(clock=...)``) is the loop's. Homes go on /dev/shm where there is one.

``--relays R`` simulates a relay tier instead of a flat mesh: R relays, the other nodes light
nodes that each reach two relays only (benchmarks/relay_tier.py); it adds the load of each relay.

``--mesh stable`` is a what-if, not stig's adapter: MemoryNetwork samples ``mesh_degree`` peers
afresh for every message, while GossipSub keeps a mesh whose links are mutual (GRAFT). The
StableMeshNetwork subclass below grafts once after the mesh settles, mutually, up to
mesh_degree from each node's side, and forwards every message to every mesh peer.

Percentiles are nearest-rank: with 50 posts, p99 is the largest; with 20, p90 is the 18th.
With --json the last line is
``{"real": {"n": .., "p50_ms": .., "p99_ms": .., "cpu_ms_per_msg_mean": .., ...},
"memory": {"n": .., "p50_ms": .., "p99_ms": .., "copies_per_node": .., ...}}``
(a mode that was not run is absent).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import random
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stig.crdt import kinds
from stig.crdt.compose import compose
from stig.crdt.trace import Trace
from stig.crypto.persona import Persona
from stig.net.memory_clock import LoopClock
from stig.net.memory_net import Link, MemoryHub, MemoryNetwork
from stig.net.network import PeerId
from stig.node.config import DEFAULT_MAX_CONNECTIONS, Config, NetworkConfig
from stig.node.control import ask_status
from stig.node.home import Home
from stig.node.mesh import MeshNode
from stig.node.topics import PUBLIC_TOPIC
from stig.store.memory import MemoryStore
from stig.store.port import Added
from stig.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
import virtual_clock
from cpu_split import SAMPLE_RATE, Sampler, attribute
from relay_tier import LIGHT_RELAYS, RELAY_MAX_CONNECTIONS, TierNetwork, relay_load
from report import code_stamp, loadavg, print_json, print_machine, print_table

STIG = str(Path(sys.executable).parent / "stig")
LOCAL = "/ip4/127.0.0.1/tcp/0"
START_WITHIN = 30.0
SETTLE_WITHIN = 60.0
SETTLE_STABLE = 3.0
"""Seconds the peer counts must stay the same before the mesh counts as settled."""
GOSSIP_WARMUP = 2.0
"""Extra seconds after settling: GossipSub grafts new peers into its mesh on a heartbeat (1 s)."""
POLL_EVERY = 0.005
CPU_TAIL = 3.0
STOP_WITHIN = 15.0
PUSH_CUTOFF = 2.0
"""A node that stores a post later than this after it was posted got it by pull, not push."""
CLK_TCK = os.sysconf("SC_CLK_TCK")
START_CHUNKS = 10
"""Start-up is timed in this many equal chunks of nodes, to show whether it stays linear."""
GC_OFF = True
"""Memory mode: Python's cyclic garbage collector is switched off for the simulation (and the
time any collection takes is reported). Measured with 10,000 nodes and collections left on
(thresholds raised, started nodes frozen out of sight every 250): 85 collections took 85 s of a
759 s run, the longest stopped every simulated node for 3.7 s, and loop lag p99 reached 36 s.
Most of the simulation's garbage is acyclic and freed at once by reference counting; what is
cyclic stays until the end: peak RSS is printed beside the figures."""
SEED = 20_261_121
HOMES_DIR = "/dev/shm"
"""Memory mode: the nodes' homes (an addresses file and a control socket each) go on tmpfs
where there is one: creating and removing 10,000 of them on the disk's file system took
seconds of the run (1,000 nodes: 3.4 s of 18 s of CPU under cProfile, 2026-12-07)."""
START_EVERY_VIRTUAL = 0.005
"""Simulated seconds between two node starts on the simulated clock. Without a pause every
node would start at the same simulated instant (starting one runs no timer), and the work of
its first connections would be counted in the settling, not in its start-up."""


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def spread(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50": math.nan, "p90": math.nan, "p99": math.nan, "max": math.nan}
    return {
        "p50": percentile(values, 0.5),
        "p90": percentile(values, 0.9),
        "p99": percentile(values, 0.99),
        "max": max(values),
    }


def degree_row(label: str, degrees: Sequence[int]) -> list[Any]:
    return [
        label,
        len(degrees),
        min(degrees),
        percentile(degrees, 0.5),
        round(statistics.fmean(degrees), 2),
        percentile(degrees, 0.9),
        percentile(degrees, 0.99),
        max(degrees),
    ]


DEGREE_HEADERS = ["degree", "nodes", "min", "p50", "mean", "p90", "p99", "max"]


def new_trace(author: Persona, seq: int, rng: random.Random, now: float | None = None) -> Trace:
    words = " ".join(rng.choice(("rail", "depot", "strike", "bread", "noon")) for _ in range(40))
    created = int(time.time() if now is None else now)
    return compose(author, kinds.REPORT, f"post {seq}: {words}", now=created)


@dataclass
class Post:
    seq: int
    origin: int
    trace: Trace
    t0: float  # loop.time() just before the trace was written into the origin's store
    seen: dict[int, float] = field(default_factory=dict)  # node -> first time seen there

    def time_to_all(self, n: int) -> float | None:
        return max(self.seen.values()) - self.t0 if len(self.seen) == n else None

    def time_to_fraction(self, n: int, fraction: float) -> float | None:
        need = max(1, math.ceil(fraction * n))
        if len(self.seen) < need:
            return None
        return sorted(self.seen.values())[need - 1] - self.t0


async def wait_for_all(posts: Sequence[Post], n: int, within: float) -> None:
    """Until every post is at every node, or ``within`` seconds (of the loop's clock) passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    for _ in range(math.ceil(within / 0.1)):
        if all(len(p.seen) == n for p in posts) or loop.time() > deadline:
            return
        await asyncio.sleep(0.1)


# -- real processes -----------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "STIG_HOME"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class RealNode:
    home: Path
    process: subprocess.Popen[bytes]
    address: str


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads (/proc/<pid>/stat fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def start_real_node(home: Path, bootstrap: str | None, sync_interval: float) -> RealNode:
    subprocess.run(
        [STIG, "--home", str(home), "init", "-q"], check=True, env=_env(), capture_output=True
    )
    (home / "config.toml").write_text(f"[network]\nsync_interval = {sync_interval}\n")
    boot = ["--bootstrap", bootstrap] if bootstrap else []
    with (home / "node.log").open("ab") as log:
        process = subprocess.Popen(
            [STIG, "--home", str(home), "node", "--listen", LOCAL, *boot],
            stdout=subprocess.PIPE,
            stderr=log,
            env=_env(),
        )
    assert process.stdout is not None
    deadline = time.monotonic() + START_WITHIN
    line = b""
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([process.stdout], [], [], max(deadline - time.monotonic(), 0))
        chunk = os.read(process.stdout.fileno(), 4096) if ready else b""
        if not chunk:
            tail = (home / "node.log").read_text(errors="replace")[-2000:]
            process.kill()
            process.wait()
            raise SystemExit(f"{home} did not start: {tail}")
        line += chunk
    addresses = [a for a in line.decode().splitlines() if a.startswith("/")]
    return RealNode(home, process, addresses[0])


def stop_processes(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGINT each by PID, wait, then SIGKILL whatever is left."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_WITHIN
    for process in processes:
        try:
            process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


async def connected_peers(home: Path) -> int:
    try:
        status = await ask_status(home / "control.sock")
    except Exception:
        return 0
    return sum(1 for p in status["peers"] if p["connected"] and not p["banned"])


async def settle(nodes: Sequence[RealNode]) -> tuple[list[int], float]:
    """Wait until every node has a peer and the counts stop changing; the counts and the wait."""
    start = time.monotonic()
    last: list[int] = []
    stable_since = start
    while True:
        counts = list(await asyncio.gather(*(connected_peers(n.home) for n in nodes)))
        now = time.monotonic()
        if counts != last:
            last, stable_since = counts, now
        if min(counts) >= 1 and now - stable_since >= SETTLE_STABLE:
            return counts, now - start
        if now - start > SETTLE_WITHIN:
            print(f"warning: the mesh did not settle within {SETTLE_WITHIN} s: {counts}")
            return counts, now - start
        await asyncio.sleep(0.5)


async def measure_real(
    nodes: Sequence[RealNode], args: argparse.Namespace, helpers: Sequence[int] = ()
) -> dict[str, Any]:
    """``helpers``: PIDs of processes the nodes depend on (the tors of benchmarks/
    onion_propagation.py), whose CPU is summed over the same two windows."""
    n, m, interval = len(nodes), args.posts, args.interval
    rng = random.Random(SEED)
    degrees, settle_s = await settle(nodes)
    await asyncio.sleep(GOSSIP_WARMUP)
    stores = [await SqliteStore.open(node.home / "store.db") for node in nodes]
    try:
        authors = [Persona.generate(f"a{i}") for i in range(min(n, 8))]
        traces = [new_trace(rng.choice(authors), i, rng) for i in range(m)]
        origins = [rng.randrange(n) for _ in range(m)]
        pids = [node.process.pid for node in nodes]
        window = m * interval + CPU_TAIL

        profiled = pids[: args.profile]
        work = Path(tempfile.mkdtemp(dir="/tmp", prefix="prof"))

        def samplers(phase: str) -> list[Sampler]:
            return [Sampler(p, window, work / f"{phase}-{p}.txt") for p in profiled]

        # Idle baseline: the same window with no posts.
        idle_samplers = samplers("idle")
        idle_before = [cpu_seconds(p) for p in pids]
        helpers_before = sum(cpu_seconds(p) for p in helpers)
        await asyncio.sleep(window)
        idle = [cpu_seconds(p) - b for p, b in zip(pids, idle_before, strict=True)]
        helpers_idle = sum(cpu_seconds(p) for p in helpers) - helpers_before
        idle_profiles = [s.finish() for s in idle_samplers]

        posts: list[Post] = []
        stop_polling = asyncio.Event()
        rounds = [0]

        async def poll() -> None:
            while not stop_polling.is_set():
                pending = [p for p in posts if len(p.seen) < n]
                checks = [(p, i) for p in pending for i in range(n) if i not in p.seen]
                if checks:
                    found = await asyncio.gather(*(stores[i].get(p.trace.id) for p, i in checks))
                    now = time.perf_counter()
                    for (p, i), got in zip(checks, found, strict=True):
                        if got is not None:
                            p.seen[i] = now
                rounds[0] += 1
                await asyncio.sleep(POLL_EVERY)

        poller = asyncio.get_running_loop().create_task(poll())
        own_cpu = time.process_time()
        busy_samplers = samplers("busy")
        busy_before = [cpu_seconds(p) for p in pids]
        helpers_before = sum(cpu_seconds(p) for p in helpers)
        start = time.perf_counter()
        for seq, (trace, origin) in enumerate(zip(traces, origins, strict=True)):
            await asyncio.sleep(max(0.0, start + seq * interval - time.perf_counter()))
            t0 = time.perf_counter()
            posts.append(Post(seq, origin, trace, t0))
            await stores[origin].add_durable(trace, int(time.time()))
        await asyncio.sleep(max(0.0, start + window - time.perf_counter()))
        busy = [cpu_seconds(p) - b for p, b in zip(pids, busy_before, strict=True)]
        helpers_busy = sum(cpu_seconds(p) for p in helpers) - helpers_before
        own_cpu = time.process_time() - own_cpu
        busy_profiles = [s.finish() for s in busy_samplers]
        if args.keep and profiled:
            print(f"kept the py-spy samples in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        # Stragglers (a node gossip missed waits for a pull sync): wait, outside the CPU window.
        await wait_for_all(posts, n, args.straggle)
        polled_for = time.perf_counter() - start
        stop_polling.set()
        await poller
        end_degrees = list(await asyncio.gather(*(connected_peers(node.home) for node in nodes)))
    finally:
        for store in stores:
            await store.close()

    per_msg = [(b - i) / m for b, i in zip(busy, idle, strict=True)]
    return {
        "degrees": degrees,
        "end_degrees": end_degrees,
        "settle_s": settle_s,
        "posts": posts,
        "idle_cpu_pct": [100 * i / window for i in idle],
        "busy_cpu_pct": [100 * b / window for b in busy],
        "cpu_per_msg": per_msg,
        "helpers_cpu_per_msg": (helpers_busy - helpers_idle) / m,
        "window": window,
        "own_cpu": own_cpu,
        "poll_round_ms": 1000 * polled_for / max(rounds[0], 1),
        "idle_profiles": idle_profiles,
        "busy_profiles": busy_profiles,
    }


def run_real(args: argparse.Namespace) -> dict[str, Any]:
    n = args.real
    rng = random.Random(SEED)
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="pr"))
    processes: list[subprocess.Popen[bytes]] = []
    print(f"\n== real: {n} stig node processes on 127.0.0.1 (homes under {root}) ==")
    print(f"load average at start of this part: {loadavg()}")
    try:
        nodes: list[RealNode] = []
        started = time.monotonic()
        for i in range(n):
            boot = nodes[rng.randrange(i)].address if i else None
            node = start_real_node(root / f"n{i}", boot, args.sync_interval)
            processes.append(node.process)
            nodes.append(node)
        print(f"{n} nodes started in {time.monotonic() - started:.1f} s")
        found = asyncio.run(measure_real(nodes, args))
    finally:
        stop_processes(processes)
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return report_real(n, args, found)


def report_real(n: int, args: argparse.Namespace, found: dict[str, Any]) -> dict[str, Any]:
    posts: list[Post] = found["posts"]
    m = len(posts)
    to_all = [t for p in posts if (t := p.time_to_all(n)) is not None]
    remote = [
        min(t - p.t0 for i, t in p.seen.items() if i != p.origin) for p in posts if len(p.seen) > 1
    ]
    half = [t for p in posts if (t := p.time_to_fraction(n, 0.5)) is not None]
    print(f"mesh settled in {found['settle_s']:.1f} s; then {GOSSIP_WARMUP} s of gossip warm-up")
    print_table(
        "Connected peers per node (real)",
        DEGREE_HEADERS,
        [
            degree_row("settled", found["degrees"]),
            degree_row("after posting", found["end_degrees"]),
        ],
    )
    rows = []
    for label, values in (
        ("first other node", remote),
        ("half of the nodes", half),
        ("all nodes", to_all),
    ):
        s = spread(values)
        rows.append(
            [label, len(values), *(1000 * s[k] for k in ("p50", "p90", "p99", "max"))],
        )
    print_table(
        f"Time from post to ... (real, N = {n}, M = {m} posts, one every {args.interval} s; "
        f"store polled every ~{found['poll_round_ms']:.0f} ms)",
        ["time to", "posts", "p50 ms", "p90 ms", "p99 ms", "max ms"],
        rows,
    )
    per_msg = [1000 * c for c in found["cpu_per_msg"]]
    print_table(
        f"CPU of each node process (real; window {found['window']:.1f} s, idle window before it "
        "of the same length)",
        ["", "mean", "max", "min"],
        [
            ["idle CPU %", *_mmm(found["idle_cpu_pct"])],
            ["posting CPU %", *_mmm(found["busy_cpu_pct"])],
            ["CPU ms per message (minus idle)", *_mmm(per_msg)],
        ],
    )
    print(
        f"this process (posting + polling {n} stores): {found['own_cpu']:.2f} s CPU over the "
        f"window; CPU clock tick {1000 / CLK_TCK:.0f} ms"
    )
    breakdown = report_profile(found["idle_profiles"], found["busy_profiles"], m)
    s = spread(to_all)
    return {
        "n": n,
        "posts": m,
        "reached_all": len(to_all),
        "p50_ms": round(1000 * s["p50"], 1),
        "p90_ms": round(1000 * s["p90"], 1),
        "p99_ms": round(1000 * s["p99"], 1),
        "max_ms": round(1000 * s["max"], 1),
        "cpu_ms_per_msg_mean": round(statistics.fmean(per_msg), 2),
        "cpu_ms_per_msg_max": round(max(per_msg), 2),
        "idle_cpu_pct_mean": round(statistics.fmean(found["idle_cpu_pct"]), 2),
        "degrees": found["degrees"],
        "cpu_ms_per_msg_by_owner": breakdown,
    }


def report_profile(
    idle: Sequence[tuple[dict[int, float], Any]],
    busy: Sequence[tuple[dict[int, float], Any]],
    m: int,
) -> dict[str, float]:
    """CPU ms per message per profiled node, the posting window minus the idle one (as the /proc
    figure above): by thread (exact, from the kernel) and by owner (each thread's CPU split in
    proportion to its py-spy samples: benchmarks/cpu_split.py)."""
    if not busy:
        return {}
    k = len(busy)
    groups: dict[str, list[float]] = {}
    owners: dict[str, list[float]] = {}
    for sign, profiles in ((-1, idle), (1, busy)):
        for cpu, samples in profiles:
            by_group, by_owner = attribute(cpu, samples)
            for table, split in ((groups, by_group), (owners, by_owner)):
                for key, seconds in split.items():
                    table.setdefault(key, [0.0, 0.0])[sign > 0] += seconds

    def rows(table: dict[str, list[float]]) -> list[list[Any]]:
        per_msg = {key: 1000 * (b - i) / k / m for key, (i, b) in table.items()}
        total = sum(per_msg.values())
        out: list[list[Any]] = [
            [key, 1000 * table[key][0] / k, 1000 * table[key][1] / k, v, 100 * v / total]
            for key, v in sorted(per_msg.items(), key=lambda kv: -kv[1])
        ]
        out.append(["total", "", "", total, 100.0])
        return out

    headers = ["", "idle ms", "posting ms", "ms per message", "%"]
    print_table(
        f"CPU by thread ({k} node(s); kernel's per-thread CPU over each window, per node)",
        headers,
        rows(groups),
    )
    owner_rows = rows(owners)
    stig = sum(r[3] for r in owner_rows[:-1] if str(r[0]).startswith("stig"))
    owner_rows.append(["  of which stig's own", "", "", stig, 100 * stig / owner_rows[-1][3]])
    print_table(
        f"CPU by owner (each thread's CPU split by its py-spy samples, {SAMPLE_RATE} Hz)",
        headers,
        owner_rows,
    )
    return {str(r[0]): round(r[3], 3) for r in owner_rows}


def _mmm(values: Sequence[float]) -> list[float]:
    return [statistics.fmean(values), max(values), min(values)]


# -- memory -------------------------------------------------------------------------------------


class Arrivals:
    """When each node stored each watched trace."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.watched: dict[bytes, Post] = {}
        self._clock = clock  # the loop's: simulated time on a VirtualClockLoop

    def stored(self, node: int, ids: Sequence[bytes]) -> None:
        if not self.watched:
            return
        now = self._clock()
        for tid in ids:
            post = self.watched.get(tid)
            if post is not None:
                post.seen.setdefault(node, now)


class TimedStore(MemoryStore):
    """MemoryStore that tells ``Arrivals`` what it stored, the moment it stores it.

    Its ``stored_after`` waits until there is something after the cursor instead of answering
    "nothing" at once: MeshNode's publisher polls the store every PUBLISH_POLL (20 ms) because
    another process may write it, and ten thousand nodes polling fifty times a second would be
    all the simulator does. Every writer of this store is in this process, so it can wake the
    publisher instead. The first hop of a post then leaves at once, not after half a poll
    (10 ms on average) as on a real node."""

    def __init__(self, node: int, arrivals: Arrivals) -> None:
        super().__init__()
        self._node = node
        self._arrivals = arrivals
        self._grown = asyncio.Event()

    async def add(self, traces: Sequence[Trace], now: int) -> Added:
        added = await super().add(traces, now)
        if added.accepted:
            self._arrivals.stored(self._node, added.accepted)
            self._grown.set()
        return added

    async def stored_after(self, cursor: int, limit: int) -> tuple[int, list[bytes]]:
        while cursor >= await self.cursor():
            self._grown.clear()
            await self._grown.wait()
        return await super().stored_after(cursor, limit)


class StableMeshNetwork(MemoryNetwork):
    """What-if, not stig's adapter (``--mesh stable``): a GossipSub-like mesh. Each node keeps
    one set of mesh peers; a graft is mutual, like GossipSub's GRAFT; every message goes to every
    mesh peer but the one it came from. MemoryNetwork instead samples ``mesh_degree`` peers
    afresh for each message, so a link is not used both ways."""

    def __init__(self, hub: MemoryHub, name: str) -> None:
        super().__init__(hub, name)
        self.mesh: set[PeerId] = set()

    def graft(self, topic: str) -> None:
        """A heartbeat: graft random connected peers until the mesh has mesh_degree."""
        hub = self._hub
        live = [p for p in self.peers() if _subscribed(hub, p, topic)]
        self.mesh.intersection_update(live)
        spare = [p for p in live if p not in self.mesh]
        want = min(len(spare), hub.mesh_degree - len(self.mesh))
        for peer in hub.random.sample(spare, max(want, 0)):
            other = hub.nodes[peer]
            assert isinstance(other, StableMeshNetwork)
            self.mesh.add(peer)
            other.mesh.add(self.peer_id)

    def _mesh(self, topic: str, exclude: PeerId | None) -> list[PeerId]:
        return [p for p in self.mesh if p != exclude and _subscribed(self._hub, p, topic)]


def _subscribed(hub: MemoryHub, peer: PeerId, topic: str) -> bool:
    node = hub.nodes.get(peer)
    return node is not None and topic in node._topics


class GcTime:
    """Wall time spent in the garbage collector: the simulator's own overhead, beside the loop
    lag (a collection stops every simulated node at once)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.longest = 0.0
        self.collections = 0
        self._began = 0.0

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            took = time.perf_counter() - self._began
            self.seconds += took
            self.longest = max(self.longest, took)
            self.collections += 1


class LoopLag:
    """How late a 50 ms sleep wakes up, on the loop's own clock: the event loop's backlog. On
    the simulated clock (virtual_clock) no timer is ever late, so this reads 0 there by
    construction; the simulator's slowness is then wall seconds per simulated second, which
    the report prints beside it."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.recording = False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(0.05)
            if self.recording:
                self.samples.append(loop.time() - t - 0.05)


async def measure_memory(args: argparse.Namespace) -> dict[str, Any]:
    n, m, interval = args.memory, args.posts_memory, args.interval_memory
    rng = random.Random(SEED)
    loop = asyncio.get_running_loop()
    # The twin's clock and the nodes' (unix seconds) are the loop's: simulated on a
    # VirtualClockLoop, so a route's start and a hole punch's timers agree with the links.
    clock = LoopClock(loop)
    hub = MemoryHub(default_link=Link(latency=args.latency), seed=SEED, clock=clock)
    arrivals = Arrivals(loop.time)
    node_clock = clock.now

    root = Path(tempfile.mkdtemp(dir=args.homes_dir, prefix="p"))
    stop = asyncio.Event()
    lag = LoopLag()
    lag_task = loop.create_task(lag.run())
    nets: list[MemoryNetwork] = []
    nodes: list[MeshNode] = []
    stores: list[TimedStore] = []
    runs: list[asyncio.Task[None]] = []
    # nodes started, wall s, CPU s, loop-clock s, loop steps (0 on the wall clock)
    marks: list[tuple[int, float, float, float, int]] = []

    def steps() -> int:
        return loop.steps if isinstance(loop, virtual_clock.VirtualClockLoop) else 0

    gc_time = GcTime()
    gc.callbacks.append(gc_time.callback)
    if GC_OFF:
        gc.disable()
    try:
        started, cpu0, sim0, steps0 = time.perf_counter(), time.process_time(), loop.time(), steps()
        addresses: list[str] = []
        relay_ids: set[PeerId] = set()
        for i in range(n):
            max_connections = DEFAULT_MAX_CONNECTIONS
            net: MemoryNetwork
            if i < args.relays:  # a relay: dials every earlier relay
                net = TierNetwork(hub, f"n{i}", relay_ids)
                relay_ids.add(net.peer_id)
                earlier = list(addresses)
                max_connections = RELAY_MAX_CONNECTIONS
            elif args.relays:  # a light node: two relays, nothing else
                earlier = rng.sample(addresses[: args.relays], LIGHT_RELAYS)
                reach = {a.rsplit("/p2p/", 1)[-1] for a in earlier}
                net = TierNetwork(hub, f"n{i}", relay_ids, reach)
            else:
                net = (
                    StableMeshNetwork(hub, f"n{i}")
                    if args.mesh == "stable"
                    else hub.network(f"n{i}")
                )
                earlier = rng.sample(addresses, min(args.bootstrap, len(addresses)))
            config = Config(
                network=NetworkConfig(
                    bootstrap=tuple(earlier),
                    sync_interval=args.sync_interval_memory,
                    max_connections=max_connections,
                )
            )
            home = Home(root / str(i))
            home.root.mkdir()
            store = TimedStore(i, arrivals)
            node = MeshNode(home, store, net, config, clock=node_clock)
            runs.append(loop.create_task(node.run(stop)))
            nodes.append(node)
            await node.started.wait()
            if args.start_every:
                await asyncio.sleep(args.start_every)
            addresses.append(net.addresses()[0])
            nets.append(net)
            stores.append(store)
            if (i + 1) % max(1, n // START_CHUNKS) == 0 or i + 1 == n:
                marks.append(
                    (
                        i + 1,
                        time.perf_counter() - started,
                        time.process_time() - cpu0,
                        loop.time() - sim0,
                        steps() - steps0,
                    )
                )
                if args.progress:
                    print(f"  {i + 1} nodes started, {marks[-1][1]:.1f} s", flush=True)
        start_s = time.perf_counter() - started
        start_cpu = time.process_time() - cpu0
        start_sim = loop.time() - sim0

        # Settle: no new connection for SETTLE_STABLE seconds (of the loop's clock).
        settle_start = loop.time()
        last, stable_since = -1, settle_start
        while True:
            edges = sum(len(net.peers()) for net in nets)
            now = loop.time()
            if edges != last:
                last, stable_since = edges, now
            if now - stable_since >= SETTLE_STABLE or now - settle_start > SETTLE_WITHIN:
                break
            await asyncio.sleep(0.25)
        settle_s = loop.time() - settle_start
        degrees = [len(net.peers()) for net in nets]
        mesh_sizes: list[int] = []
        if args.mesh == "stable":
            for net in nets:
                assert isinstance(net, StableMeshNetwork)
                net.graft(PUBLIC_TOPIC)
            mesh_sizes = [len(net.mesh) for net in nets if isinstance(net, StableMeshNetwork)]
        isolated = sum(1 for d in degrees if d == 0)
        where = {address: j for j, address in enumerate(addresses)}
        for i, node in enumerate(nodes):
            if degrees[i] == 0:  # why: whom it started from, and who turned it away
                bootstrap = [where.get(a, -1) for a in node.config.network.bootstrap]
                print(
                    f"  node {i} has no peer: bootstrap to {bootstrap} (their peers now "
                    f"{[degrees[j] for j in bootstrap if j >= 0]}), turned away by "
                    f"{len(node._turned_away)} peer(s), dial states "
                    f"{[(d.failures, d.error) for d in node.dialing.values()]}",
                    flush=True,
                )

        authors = [Persona.generate(f"a{i}") for i in range(8)]
        traces = [new_trace(rng.choice(authors), i, rng, node_clock()) for i in range(m)]
        origins = [rng.randrange(n) for _ in range(m)]

        # Idle baseline: this process's CPU over a window of the same length, no posts.
        window = m * interval + CPU_TAIL
        lag.recording = True
        idle_cpu, idle_wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(window)
        idle_cpu = time.process_time() - idle_cpu
        idle_wall = time.perf_counter() - idle_wall
        idle_lag, lag.samples = lag.samples, []

        copies_before = sum(net.copies_received for net in nets)
        pushes_before = hub.pushes_sent
        relays = nets[: args.relays]
        relay_before = [(r.copies_received, r.pushes_sent) for r in relays]
        posts: list[Post] = []
        busy_cpu, busy_wall = time.process_time(), time.perf_counter()
        start = loop.time()
        for seq, (trace, origin) in enumerate(zip(traces, origins, strict=True)):
            await asyncio.sleep(max(0.0, start + seq * interval - loop.time()))
            post = Post(seq, origin, trace, loop.time())
            arrivals.watched[trace.id] = post
            posts.append(post)
            await stores[origin].add_durable(trace, int(node_clock()))
        await asyncio.sleep(max(0.0, start + window - loop.time()))
        busy_cpu = time.process_time() - busy_cpu
        busy_wall = time.perf_counter() - busy_wall
        busy_lag = lag.samples
        lag.recording = False
        copies = sum(net.copies_received for net in nets) - copies_before
        pushes = hub.pushes_sent - pushes_before
        relay_rows, relay_summary = (
            relay_load(
                relays,
                [r.copies_received - c for r, (c, _) in zip(relays, relay_before, strict=True)],
                [r.pushes_sent - p for r, (_, p) in zip(relays, relay_before, strict=True)],
                m,
                PUBLIC_TOPIC,
            )
            if relays
            else ([], {})
        )
        # Stragglers: nodes gossip missed get the post by pull sync (sync_interval).
        await wait_for_all(posts, n, args.straggle)
        copies_late = sum(net.copies_received for net in nets) - copies_before
        end_degrees = [len(net.peers()) for net in nets]
        now_s = node_clock()
        cut_off = sum(1 for node in nodes for r in node.ledger.records() if r.banned_until > now_s)
    finally:
        stop.set()
        await asyncio.gather(*runs, return_exceptions=True)
        lag_task.cancel()
        gc.callbacks.remove(gc_time.callback)
        gc.enable()
        shutil.rmtree(root, ignore_errors=True)
    return {
        "n": n,
        "start_s": start_s,
        "start_cpu": start_cpu,
        "start_sim": start_sim,
        "start_marks": marks,
        "relay_rows": relay_rows,
        "relay_summary": relay_summary,
        "settle_s": settle_s,
        "degrees": degrees,
        "end_degrees": end_degrees,
        "isolated": isolated,
        "mesh_sizes": mesh_sizes,
        "cut_off": cut_off,
        "posts": posts,
        "copies": copies,
        "copies_late": copies_late,
        "pushes": pushes,
        "window": window,
        "idle_cpu": idle_cpu,
        "busy_cpu": busy_cpu,
        "idle_wall": idle_wall,
        "busy_wall": busy_wall,
        "run_cpu": time.process_time() - cpu0,
        "run_sim": loop.time() - sim0,
        "gc": (gc_time.collections, gc_time.seconds, gc_time.longest),
        "run_s": time.perf_counter() - started,
        "rss_mib": _rss_mib(),
        "idle_lag": idle_lag,
        "busy_lag": busy_lag,
    }


def run_memory(args: argparse.Namespace) -> dict[str, Any]:
    n = args.memory
    print(
        f"\n== memory: {n} MeshNodes in one process, MemoryHub, {1000 * args.latency:.0f} ms "
        f"links, mesh_degree {MemoryHub().mesh_degree}, bootstrap to {args.bootstrap} earlier "
        f"nodes, sync_interval {args.sync_interval_memory} s, mesh model: {args.mesh}, "
        f"clock: {args.clock} =="
    )
    if args.clock == "virtual":
        print(
            "clock: simulated (benchmarks/virtual_clock.py): times below are simulated seconds, "
            "in which a node's own CPU work takes no time; wall and CPU are this process's"
        )
    if args.relays:
        print(
            f"relay tier: nodes 0-{args.relays - 1} are relays (a clique, up to "
            f"{RELAY_MAX_CONNECTIONS} connections each); the other {n - args.relays} are light "
            f"nodes, each reaching {LIGHT_RELAYS} random relays only (benchmarks/relay_tier.py)"
        )
    print(f"load average at start of this part: {loadavg()}")
    args.homes_dir = HOMES_DIR if os.path.isdir(HOMES_DIR) else "/tmp"
    found = virtual_clock.run(measure_memory(args), virtual=args.clock == "virtual")
    posts: list[Post] = found["posts"]
    m = len(posts)
    print(
        f"{n} nodes started in {found['start_s']:.1f} s of wall clock, {found['start_cpu']:.1f} s "
        f"of CPU, {found['start_sim']:.1f} s on the loop's clock; the mesh settled in "
        f"{found['settle_s']:.1f} s more (loop's clock); {found['isolated']} node(s) without a peer"
    )
    chunk_rows = start_up_rows(
        found["start_marks"], found["idle_cpu"] / found["window"] / n, args.clock == "virtual"
    )
    print_table(
        "Start-up by chunk of nodes (linear if the figures stay flat). Idle work: the nodes "
        "already running, at the CPU per node per loop-clock s of the idle window below, for "
        "the loop-clock time each new node's start took (an estimate)",
        [
            "nodes",
            "wall ms per node",
            "CPU ms per node",
            "loop steps per node",
            "CPU µs per step",
            "idle work ms per node",
            "CPU ms per node less idle work",
        ],
        chunk_rows,
    )
    cpu = [row[2] for row in chunk_rows]
    if len(cpu) > 2:
        print(
            f"start-up CPU per node, last chunk / first: {cpu[-1] / cpu[0]:.2f}; "
            f"last / second: {cpu[-1] / cpu[1]:.2f}; less idle work, last / second: "
            f"{chunk_rows[-1][6] / chunk_rows[1][6]:.2f}"
        )
    print_table(
        "Connected peers per node (memory)",
        DEGREE_HEADERS,
        [
            degree_row("settled", found["degrees"]),
            degree_row("after posting", found["end_degrees"]),
        ],
    )
    if found["relay_rows"]:
        print_table(
            f"Per-relay load ({args.relays} relays; over the posting window, per message)",
            ["figure", "min", "median", "max", "all relays"],
            found["relay_rows"],
        )
    if found["mesh_sizes"]:
        print_table(
            "Mesh peers per node (what-if stable mesh, grafted once after settling)",
            DEGREE_HEADERS,
            [degree_row("mesh", found["mesh_sizes"])],
        )
    histogram = Counter(found["degrees"])
    hist_rows = []
    for lo, hi in ((0, 0), (1, 3), (4, 7), (8, 8), (9, 12), (13, 20), (21, 50), (51, 10**9)):
        label = str(lo) if lo == hi else (f"{lo}-{hi}" if hi < 10**9 else f"{lo}+")
        hist_rows.append([label, sum(c for d, c in histogram.items() if lo <= d <= hi)])
    print_table("Degree histogram (settled)", ["peers", "nodes"], hist_rows)
    rows = []
    for label, fraction in (("half", 0.5), ("90 %", 0.9), ("99 %", 0.99), ("all", 1.0)):
        values = [t for p in posts if (t := p.time_to_fraction(n, fraction)) is not None]
        s = spread(values)
        rows.append([label, len(values), *(1000 * s[k] for k in ("p50", "p90", "p99", "max"))])
    print_table(
        f"Time from post to ... of the nodes (memory, N = {n}, M = {m} posts, one every "
        f"{args.interval_memory} s)",
        ["nodes", "posts", "p50 ms", "p90 ms", "p99 ms", "max ms"],
        rows,
    )
    missed = [n - len(p.seen) for p in posts]
    late = [
        [i for i in range(n) if i not in p.seen or p.seen[i] - p.t0 > PUSH_CUTOFF] for p in posts
    ]
    late_degrees = [found["degrees"][i] for nodes in late for i in nodes]
    to_all = [t for p in posts if (t := p.time_to_all(n)) is not None]
    copies_per_node = found["copies"] / n / m
    lag_idle, lag_busy = spread(found["idle_lag"]), spread(found["busy_lag"])
    print_table(
        "Copies and load (memory)",
        ["figure", "value"],
        [
            ["copies received per node per message", copies_per_node],
            ["  incl. stragglers' wait", found["copies_late"] / n / m],
            ["pushes sent per message", found["pushes"] / m],
            ["posts that reached every node", f"{len(to_all)} of {m}"],
            [
                f"nodes without the post {PUSH_CUTOFF:.0f} s after it (mean / max per post)",
                f"{_mean([len(x) for x in late])} / {max(len(x) for x in late)}",
            ],
            [
                "  their degree (mean / max), all nodes' mean",
                f"{_mean(late_degrees) if late_degrees else '-'} / "
                f"{max(late_degrees, default='-')}, {_mean(found['degrees'])}",
            ],
            ["nodes missed per post at the end (mean / max)", f"{_mean(missed)} / {max(missed)}"],
            ["peers cut off (banned), counted before shutdown", found["cut_off"]],
            [
                "this process CPU s per loop-clock s, idle window",
                found["idle_cpu"] / found["window"],
            ],
            [
                "this process CPU s per loop-clock s, posting window",
                found["busy_cpu"] / found["window"],
            ],
            [
                "CPU ms per message, whole mesh (minus idle)",
                1000 * (found["busy_cpu"] - found["idle_cpu"]) / m,
            ],
            ["loop lag ms idle p50 / p99 / max (loop's clock)", _ms3(lag_idle)],
            ["loop lag ms posting p50 / p99 / max (loop's clock)", _ms3(lag_busy)],
            ["wall s per loop-clock s, idle window", found["idle_wall"] / found["window"]],
            ["wall s per loop-clock s, posting window", found["busy_wall"] / found["window"]],
            [
                "garbage collections, whole run: count, s, longest ms",
                f"{found['gc'][0]}, {found['gc'][1]:.1f}, {1000 * found['gc'][2]:.0f}",
            ],
            [
                "this process: run wall s, CPU s, loop-clock s, peak RSS MiB",
                f"{found['run_s']:.0f}, {found['run_cpu']:.0f}, {found['run_sim']:.0f}, "
                f"{found['rss_mib']:.0f}",
            ],
        ],
    )
    s = spread(to_all)
    return {
        "n": n,
        "posts": m,
        "reached_all": len(to_all),
        "p50_ms": round(1000 * s["p50"], 1),
        "p99_ms": round(1000 * s["p99"], 1),
        "max_ms": round(1000 * s["max"], 1),
        "copies_per_node": round(copies_per_node, 3),
        "degree_mean": round(statistics.fmean(found["degrees"]), 2),
        "degree_max": max(found["degrees"]),
        "cpu_pct_posting": round(100 * found["busy_cpu"] / found["window"], 1),
        "loop_lag_p99_ms": round(1000 * lag_busy["p99"], 1),
        "late_nodes_per_post": round(statistics.fmean(len(x) for x in late), 2),
        "mesh": args.mesh,
        "cut_off": found["cut_off"],
        "loop_lag_idle_p99_ms": round(1000 * lag_idle["p99"], 1),
        "gc_s": round(found["gc"][1], 1),
        "run_s": round(found["run_s"]),
        "run_cpu_s": round(found["run_cpu"]),
        "run_sim_s": round(found["run_sim"]),
        "start_s": round(found["start_s"], 1),
        "start_cpu_s": round(found["start_cpu"], 1),
        "clock": args.clock,
        "wall_per_sim_posting": round(found["busy_wall"] / found["window"], 2),
        "start_marks": found["start_marks"],
        "relays": args.relays,
        "relay_load": found["relay_summary"],
    }


def start_up_rows(
    marks: Sequence[tuple[int, float, float, float, int]], idle_per_node: float, stepped: bool
) -> list[list[Any]]:
    """One row per chunk of started nodes. A node starts ``--start-every`` of loop-clock time
    after the last, and in that time every node already running does its periodic work (a
    reachability check each second, a redial each 5 s ...): CPU per new node that grows with the
    nodes running, by construction of a one-after-another start. ``idle_per_node`` (CPU s per
    node per loop-clock s, from the idle window) estimates it, to be read apart."""
    rows: list[list[Any]] = []
    before = (0, 0.0, 0.0, 0.0, 0)
    for mark in marks:
        (n0, t0, c0, s0, k0), (n1, t1, c1, s1, k1) = before, mark
        nodes = n1 - n0
        cpu_ms = 1000 * (c1 - c0) / nodes
        idle_ms = 1000 * idle_per_node * (n0 + n1) / 2 * (s1 - s0) / nodes
        rows.append(
            [
                f"{n0 + 1}-{n1}",
                1000 * (t1 - t0) / nodes,
                cpu_ms,
                round((k1 - k0) / nodes) if stepped else "-",
                round(1e6 * (c1 - c0) / (k1 - k0), 1) if stepped and k1 > k0 else "-",
                idle_ms,
                cpu_ms - idle_ms,
            ]
        )
        before = mark
    return rows


def _rss_mib() -> float:
    """This process's peak resident memory (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _mean(values: Sequence[float]) -> str:
    return f"{statistics.fmean(values):.2f}"


def _ms3(s: dict[str, float]) -> str:
    return " / ".join(f"{1000 * s[k]:.0f}" for k in ("p50", "p99", "max"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", type=int, nargs="?", const=10, help="real node processes")
    parser.add_argument("--memory", type=int, nargs="?", const=1000, help="in-memory nodes")
    parser.add_argument("--posts", type=int, default=50, help="posts in the real run")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between real posts")
    parser.add_argument("--sync-interval", type=float, default=30.0, help="real nodes' config")
    parser.add_argument("--posts-memory", type=int, default=20, help="posts in the memory run")
    parser.add_argument("--interval-memory", type=float, default=1.0, help="seconds between")
    parser.add_argument("--sync-interval-memory", type=float, default=30.0, help="memory nodes")
    parser.add_argument(
        "--mesh",
        choices=("sample", "stable"),
        default="sample",
        help="memory: stig's MemoryNetwork (sample) or a GossipSub-like what-if (stable)",
    )
    parser.add_argument("--latency", type=float, default=0.025, help="one-way link latency, s")
    parser.add_argument("--bootstrap", type=int, default=3, help="earlier nodes each dials")
    parser.add_argument(
        "--relays", type=int, default=0, help="memory: this many relays, the rest light nodes"
    )
    parser.add_argument("--straggle", type=float, default=90.0, help="wait for the last nodes")
    parser.add_argument("--keep", action="store_true", help="keep the real homes (and logs)")
    parser.add_argument(
        "--profile", type=int, default=0, help="real: sample this many nodes with py-spy"
    )
    parser.add_argument(
        "--clock",
        choices=("virtual", "wall"),
        default="virtual",
        help="memory: simulated time (benchmarks/virtual_clock.py) or the wall clock",
    )
    parser.add_argument(
        "--start-every",
        type=float,
        default=None,
        help=f"memory: seconds between node starts (virtual: {START_EVERY_VIRTUAL}, wall: 0)",
    )
    parser.add_argument("--progress", action="store_true", help="print start-up progress")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args()
    if args.start_every is None:
        args.start_every = START_EVERY_VIRTUAL if args.clock == "virtual" else 0.0
    if args.real is None and args.memory is None:
        args.real, args.memory = 10, 1000
    print_machine()
    print(f"command: {' '.join(sys.argv)}")
    summary: dict[str, Any] = {}
    if args.real:
        summary["real"] = run_real(args)
    if args.memory:
        summary["memory"] = run_memory(args)
    print(f"\nload average at end: {loadavg()}; stig code stamp {code_stamp()}")
    if args.json:
        print_json(json.loads(json.dumps(summary, default=str)))


if __name__ == "__main__":
    main()
