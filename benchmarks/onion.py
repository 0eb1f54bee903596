"""Connect time and stream round trips over onion services, beside the same hosts on TCP.

    python benchmarks/onion.py [--runs 5] [--rounds 50] [--reconnects 3] [--json]

Starts the private Tor network of the test suite (tests/tor/private_network.py: 3 authorities,
3 relays, 2 client tors, all on 127.0.0.1), then measures the onion path with the peers of the
test suite (tests/tor/onion_peer.py, one OS process each, py-libp2p 0.8.1 with Noise and Yamux
over stig.net.tor.transport):

* one listener on client tor 0, published as an onion (``publish``: attach to tor + publish the
  descriptor, awaited);
* ``--runs`` dialers one after another on client tor 1, each a fresh process with a fresh onion
  of its own: ``connect`` is its first ``host.connect`` to the listener's ``/onion3`` address
  (SOCKS, introduction, rendezvous, Noise, Yamux; client tor 1 has the listener's descriptor
  from the first run on, but each dialer asks for SOCKS isolation of its own, so tor builds a
  new rendezvous circuit for each, as it would for a node on its own tor); ``stream`` opening
  the echo stream; ``rtt`` each of ``--rounds`` 64-byte round trips on it; ``reconnect``
  hanging up and connecting again ``--reconnects`` times (same isolation: tor may reuse the
  rendezvous circuit).

Then the same peers with ``--clearnet`` (TCP on 127.0.0.1, no tor) for the baseline. Percentiles
are nearest-rank over every sample of every run.

A private network on one machine has no real latency: every "hop" is a loopback socket, and
what is measured is tor's and libp2p's processing (and this machine's load), not the real Tor
network, where a first connection to an onion takes seconds and a round trip hundreds of
milliseconds.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from report import loadavg, print_json, print_machine, print_table

from tests.tor.peer_process import OnionPeer
from tests.tor.private_network import start_private_network

WITHIN = 120.0
"""Seconds allowed for each step (a bound on a hung run, not a measurement)."""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def measure(
    listen_args: list[str], dial_args: list[str], runs: int, rounds: int, reconnects: int, tmp: Path
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {
        "publish": [],
        "connect": [],
        "stream": [],
        "rtt": [],
        "reconnect": [],
    }
    peers: list[OnionPeer] = []
    try:
        listener = OnionPeer(tmp / "listener.log", *listen_args, "--seed", os.urandom(32).hex())
        peers.append(listener)
        listening = listener.wait_for("listening", WITHIN)
        samples["publish"].append(listening["up_s"])
        (address,) = listening["addrs"]
        for run in range(runs):
            dialer = OnionPeer(
                tmp / f"dialer{run}.log",
                *dial_args,
                *("--seed", os.urandom(32).hex(), "--dial", address),
                *("--rounds", str(rounds), "--reconnects", str(reconnects)),
            )
            peers.append(dialer)
            samples["publish"].append(dialer.wait_for("listening", WITHIN)["up_s"])
            samples["connect"].append(dialer.wait_for("connected", WITHIN)["connect_s"])
            echo = dialer.wait_for("echo", WITHIN)
            samples["stream"].append(echo["stream_s"])
            samples["rtt"] += echo["rtt_s"]
            if reconnects:
                samples["reconnect"] += dialer.wait_for("reconnects", WITHIN)["connect_s"]
            dialer.stop()
    finally:
        for peer in peers:
            peer.stop()
    return samples


def summary(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {
        name: {
            "n": len(values),
            "p50_ms": percentile(values, 50) * 1000,
            "p90_ms": percentile(values, 90) * 1000,
            "max_ms": max(values) * 1000,
        }
        for name, values in samples.items()
        if values
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--reconnects", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    print_machine()
    with tempfile.TemporaryDirectory(prefix="stig-onion-") as tmp_name:
        tmp = Path(tmp_name)
        began = time.monotonic()
        network = start_private_network(tmp / "tor")
        try:
            bootstrap_s = time.monotonic() - began
            host, dialer = network.clients
            (tmp / "onion").mkdir()
            (tmp / "tcp").mkdir()
            onion = measure(
                ["--control", str(host.control), "--socks", str(host.socks)],
                ["--control", str(dialer.control), "--socks", str(dialer.socks)],
                args.runs,
                args.rounds,
                args.reconnects,
                tmp / "onion",
            )
            tcp = measure(
                ["--clearnet"], ["--clearnet"], args.runs, args.rounds, args.reconnects, tmp / "tcp"
            )
        finally:
            network.stop()
    del tcp["publish"]  # no tor: nothing is published

    results: dict[str, Any] = {
        "bootstrap_s": bootstrap_s,
        "load": loadavg(),
        "onion": summary(onion),
        "tcp": summary(tcp),
    }
    print(f"\nprivate Tor network bootstrapped in {bootstrap_s:.1f} s; load at end {loadavg()}")
    rows = []
    for name in ("publish", "connect", "stream", "rtt", "reconnect"):
        o = results["onion"].get(name)
        t = results["tcp"].get(name)
        if o is None:
            continue
        rows.append(
            [
                name,
                o["n"],
                o["p50_ms"],
                o["p90_ms"],
                o["max_ms"],
                t["p50_ms"] if t else "-",
                t["p90_ms"] if t else "-",
            ]
        )
    print_table(
        f"onion path vs TCP on 127.0.0.1 ({args.runs} dialers, {args.rounds} round trips each; ms)",
        ["step", "n", "onion p50", "onion p90", "onion max", "tcp p50", "tcp p90"],
        rows,
    )
    if args.json:
        print_json(results)


if __name__ == "__main__":
    main()
