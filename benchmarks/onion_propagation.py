"""Propagation over Tor onion services, beside the same topology on TCP, in the same run.

    python benchmarks/onion_propagation.py [--runs 3] [--nodes 4] [--posts 50] [--interval 0.25]
                                           [--json]

Starts the private Tor network of the test suite once (tests/tor/private_network.py: 3
authorities, 3 relays, 2 client tors, all on 127.0.0.1), then, ``--runs`` times, two meshes of
real ``stig`` processes, one after the other, each torn down before the next:

* **onion**: one ``stig relay --tor`` attached to client tor 0 (control port and cookie, as an
  operator's system tor) and ``--nodes`` ``stig node --tor-only --bootstrap <the relay's onion>``,
  each with a tor of its own (``control = "own"``, joined to the private network by
  ``extra_torrc``, as a person with tor installed gets by default);
* **clearnet**: one ``stig relay`` and ``--nodes`` ``stig node --bootstrap <the relay's TCP
  address>``, all on 127.0.0.1.

The nodes are started at once, after the relay. For each node: *start* is the time from its
process starting to its first line on stdout (its addresses: for a tor-only node that includes
starting its tor, waiting for tor's bootstrap and publishing the onion), *connect* from that line
to the first connected peer in its status (the control socket, polled every 50 ms). Then the
measuring of benchmarks/propagation.py (``measure_real``): the mesh settles, ``--posts`` traces
are written into random nodes' stores, one every ``--interval`` s, and every store is polled
until each trace is everywhere (time-to-all); CPU per message per stig process is its CPU over
the posting window minus an idle window of the same length, divided by the posts. For the onion
mesh the CPU of every tor (the network's 8 and the nodes' own) is summed over the same windows
and given per message as well: tor's work is part of the price.

Every process is stopped by PID (stig processes with SIGINT, then SIGKILL; a node's own tor exits
with its node, and is killed by PID if it outlives it), also when a run fails.

**A private Tor network's latency is not the real Tor network's**: every hop of every circuit is
a loopback socket on this machine, so the figures show what tor and the onion path cost in
processing, not the seconds a first connection and the hundreds of milliseconds a round trip
take across the world.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from propagation import (
    LOCAL,
    STIG,
    RealNode,
    connected_peers,
    measure_real,
    report_real,
    spread,
    stop_processes,
)
from report import code_stamp, loadavg, print_json, print_machine, print_table

from tests.tor.private_network import PrivateTorNetwork, start_private_network

START_WITHIN = 240.0
"""Seconds for a node to print its addresses (an own tor bootstraps first); a bound on a hung
run, not a measurement."""

CONNECT_WITHIN = 120.0
STRAGGLE = 60.0
"""Seconds to wait for posts that push missed (a pull sync brings them)."""

SYNC_INTERVAL = 30.0
"""The product's default: what is measured is push (gossip)."""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "STIG_HOME"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Launch:
    """A ``stig`` process started but perhaps not yet listening."""

    def __init__(self, home: Path, command: str, args: Sequence[str], tor: str) -> None:
        subprocess.run(
            [STIG, "--home", str(home), "init", "-q"], check=True, env=_env(), capture_output=True
        )
        config = f"[network]\nsync_interval = {SYNC_INTERVAL}\n"
        if tor:
            config += f"\n[tor]\n{tor}\n"
        (home / "config.toml").write_text(config)
        self.home = home
        with (home / "node.log").open("ab") as log:
            self.began = time.monotonic()
            self.process = subprocess.Popen(
                [STIG, "--home", str(home), command, *args],
                stdout=subprocess.PIPE,
                stderr=log,
                env=_env(),
            )
        self._line = b""
        self.ready_at: float | None = None
        self.address = ""

    def poll_ready(self) -> bool:
        """Read what the process wrote; True once its first line (its addresses) is in."""
        if self.ready_at is not None:
            return True
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)
        try:
            chunk = os.read(self.process.stdout.fileno(), 4096)
        except BlockingIOError:
            chunk = None
        if chunk == b"" or self.process.poll() is not None:
            tail = (self.home / "node.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"{self.home} exited before listening: {tail}")
        if chunk:
            self._line += chunk
        if b"\n" in self._line:
            self.ready_at = time.monotonic()
            first = self._line.split(b"\n", 1)[0].decode()
            self.address = first.strip()
            return True
        return False

    @property
    def start_s(self) -> float:
        assert self.ready_at is not None
        return self.ready_at - self.began

    def node(self) -> RealNode:
        return RealNode(self.home, self.process, self.address)


def wait_ready(launches: Sequence[Launch]) -> None:
    deadline = time.monotonic() + START_WITHIN
    while not all(launch.poll_ready() for launch in launches):
        if time.monotonic() > deadline:
            raise SystemExit(
                "nodes did not start in time: " + ", ".join(str(x.home) for x in launches)
            )
        time.sleep(0.02)


async def connect_times(launches: Sequence[Launch]) -> list[float]:
    """For each node, seconds from its first line to its first connected peer."""

    async def one(launch: Launch) -> float:
        assert launch.ready_at is not None
        deadline = time.monotonic() + CONNECT_WITHIN
        while await connected_peers(launch.home) < 1:
            if time.monotonic() > deadline:
                raise SystemExit(f"{launch.home} connected to no peer in {CONNECT_WITHIN} s")
            await asyncio.sleep(0.05)
        return time.monotonic() - launch.ready_at

    return list(await asyncio.gather(*(one(x) for x in launches)))


def own_tors(pid: int) -> list[int]:
    return [c.pid for c in psutil.Process(pid).children(recursive=True) if c.name() == "tor"]


def run_mesh(
    kind: str, root: Path, args: argparse.Namespace, network: PrivateTorNetwork
) -> dict[str, Any]:
    """One mesh (``kind`` "onion" or "clearnet"): started, measured, stopped by PID."""
    root.mkdir()
    processes: list[subprocess.Popen[bytes]] = []
    tors: list[int] = []
    try:
        if kind == "onion":
            relay_tor = network.clients[0]
            relay = Launch(
                root / "relay",
                "relay",
                ["--tor", "--listen", LOCAL, "--stats-interval", "0"],
                f'control = "127.0.0.1:{relay_tor.control}"',
            )
        else:
            relay = Launch(
                root / "relay", "relay", ["--listen", LOCAL, "--stats-interval", "0"], ""
            )
        processes.append(relay.process)
        wait_ready([relay])
        own = f'control = "own"\nextra_torrc = """\n{network.client_torrc()}\n"""'
        nodes = []
        for i in range(args.nodes):
            home = root / f"n{i}"
            home.mkdir()
            if kind == "onion":
                launch = Launch(home, "node", ["--tor-only", "--bootstrap", relay.address], own)
            else:
                launch = Launch(home, "node", ["--listen", LOCAL, "--bootstrap", relay.address], "")
            processes.append(launch.process)
            nodes.append(launch)
        wait_ready(nodes)
        if kind == "onion":
            tors = [pid for launch in nodes for pid in own_tors(launch.process.pid)]
        connect = asyncio.run(connect_times(nodes))
        helpers = [*network.pids(), *tors] if kind == "onion" else []
        found = asyncio.run(measure_real([relay.node(), *(x.node() for x in nodes)], args, helpers))
        n = args.nodes + 1
        print(f"\n-- {kind}: relay + {args.nodes} nodes --")
        summary = report_real(n, args, found)
        summary["start_s"] = [x.start_s for x in nodes]
        summary["relay_start_s"] = relay.start_s
        summary["connect_s"] = connect
        summary["tor_cpu_ms_per_msg"] = round(1000 * found["helpers_cpu_per_msg"], 2)
        return summary
    finally:
        stop_processes(processes)
        for pid in tors:  # a node's own tor exits with it; make sure by PID
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def mmm(values: Sequence[float]) -> str:
    return f"{min(values):,.1f} / {statistics.median(values):,.1f} / {max(values):,.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=4, help="nodes besides the relay")
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    # What propagation.measure_real reads besides posts and interval.
    args.profile, args.keep, args.straggle = 0, False, STRAGGLE

    print_machine()
    print(f"code stamp {code_stamp()}; load average at start {loadavg()}")
    runs: list[dict[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="stig-onion-prop-", dir="/tmp") as tmp_name:
        tmp = Path(tmp_name)
        began = time.monotonic()
        network = start_private_network(tmp / "tor")
        try:
            print(f"private Tor network bootstrapped in {time.monotonic() - began:.1f} s")
            for run in range(args.runs):
                print(f"\n==== run {run + 1} of {args.runs}; load average {loadavg()} ====")
                onion = run_mesh("onion", tmp / f"onion{run}", args, network)
                clearnet = run_mesh("clearnet", tmp / f"clear{run}", args, network)
                runs.append({"onion": onion, "clearnet": clearnet})
        finally:
            network.stop()

    def per_run(kind: str, key: str) -> list[float]:
        return [r[kind][key] for r in runs]

    def pooled(kind: str, key: str, q: str) -> list[float]:
        return [1000 * spread(r[kind][key])[q] for r in runs]

    rows = []
    for label, onion, clear in (
        (
            "start: process to listening (p50)",
            pooled("onion", "start_s", "p50"),
            pooled("clearnet", "start_s", "p50"),
        ),
        (
            "connect: listening to first peer (p50)",
            pooled("onion", "connect_s", "p50"),
            pooled("clearnet", "connect_s", "p50"),
        ),
        (
            "connect (max of the nodes)",
            pooled("onion", "connect_s", "max"),
            pooled("clearnet", "connect_s", "max"),
        ),
        ("time-to-all p50", per_run("onion", "p50_ms"), per_run("clearnet", "p50_ms")),
        ("time-to-all p99", per_run("onion", "p99_ms"), per_run("clearnet", "p99_ms")),
        (
            "stig CPU ms per message per process",
            per_run("onion", "cpu_ms_per_msg_mean"),
            per_run("clearnet", "cpu_ms_per_msg_mean"),
        ),
    ):
        # A CPU figure near zero (idle subtracted, 10 ms clock ticks) has no ratio.
        ratios = [o / c for o, c in zip(onion, clear, strict=True) if c > 0]
        rows.append([label, mmm(onion), mmm(clear), mmm(ratios) if ratios else "-"])
    rows.append(
        ["tor CPU ms per message (all tors)", mmm(per_run("onion", "tor_cpu_ms_per_msg")), "-", "-"]
    )
    reached = [f"{r['onion']['reached_all']}/{r['clearnet']['reached_all']}" for r in runs]
    print_table(
        f"onion vs clearnet, relay + {args.nodes} nodes, {args.posts} posts one every "
        f"{args.interval} s; {args.runs} runs, min / median / max (ms; ratio onion/clearnet "
        f"per run); posts that reached all, onion/clearnet: {', '.join(reached)}",
        ["", "onion", "clearnet", "ratio"],
        rows,
    )
    print(f"load average at end {loadavg()}")
    if args.json:
        print_json({"runs": runs})


if __name__ == "__main__":
    main()
