"""Reach through NATs, measured in network namespaces (tests/net/nat_bed.py): how often hole
punching works per NAT type, how long until a first trace crosses, and what a relayed circuit
costs the relay.

    python benchmarks/reach.py [--attempts 20] [--punch-within 25] [--json]

Needs root (network namespaces) and nftables. For each NAT type (``keep``: port-keeping
masquerade + a firewall that drops unsolicited packets, the usual home router; ``random``:
port-randomising masquerade, same firewall), one bed: relay R on the public bridge, A behind
router 1, B behind router 2, each a ``benchmarks/reach_peer.py`` process (the network port on
libp2p, as the node uses it) in its namespace. A reserves on R. Then ``--attempts`` times:

1. B dials A's circuit address through R (t0);
2. A publishes a probe every 50 ms until B receives one: *first trace* = its arrival - t0
   (relayed, unless a punch already happened);
3. B waits up to ``--punch-within`` s for its route to A to turn hole-punched (DCUtR runs on
   its own after 2 s): *punched*, and *to direct* = that moment - t0; if punched, one more
   probe gives the *direct push* time (publish to arrival);
4. R's CPU (getrusage of its process) and bytes (its namespace's /proc/net/dev, every
   interface but lo) over the attempt are the *relay cost per circuit*;
5. B stops (a fresh B, with a new peer id, makes the next attempt).

Figures are min / median / max over the attempts. With --json the last line holds them all.

With ``--verdicts N`` it also measures reachability learned from peers (AutoNAT, docs/protocol.md
§8.8.1), N times per NAT type in the same bed: a fresh R and a fresh A, both on
``reachability = auto``; A dials R (t0); *R public* and *A behind NAT* = seconds from t0 until
each says so, and whether each verdict was right. A's verdict waits for R's dial-back to time
out against A's router (DIAL_BACK_WITHIN), so its ratio to that bound is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.net.nat_bed import KEEP, RANDOM, Bed, why_not  # noqa: E402

PEER = Path(__file__).with_name("reach_peer.py")
PORT = 4737


class Peer:
    """A reach_peer.py process in a namespace, asked one JSON line at a time."""

    def __init__(
        self, inside: tuple[str, ...], seed: int, listen: str, role: str, reach: str = ""
    ) -> None:
        extra = [reach] if reach else []
        self.process = subprocess.Popen(
            [*inside, sys.executable, str(PEER), (bytes([seed]) * 32).hex(), listen, role, *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(os.environ.get("REACH_PEER_LOG", os.devnull), "a"),  # noqa: SIM115
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        hello = self._line()
        self.peer_id: str = hello["peer"]
        self.address: str = hello["addresses"][0]

    def _line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a benchmark peer exited")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.process.stdin.flush()
        return self._line()

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.ask("quit")
                self.process.wait(10)
            except (RuntimeError, OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(5)


def until(condition: Any, within: float, every: float = 0.05) -> float | None:
    """Seconds until ``condition()`` held, or None if not within ``within``."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        if condition():
            return time.monotonic() - start
        time.sleep(every)
    return None


def first_push(a: Peer, b: Peer, tag: str, within: float = 30) -> float | None:
    """Publish probes from A until B holds one; seconds from the first publish."""
    start = time.monotonic()
    k = 0
    while time.monotonic() - start < within:
        probe = f"{tag}-{k}".encode().hex()
        a.ask("publish", data=probe)
        k += 1
        got = set(b.ask("pushes")["data"])
        if any(f"{tag}-{j}".encode().hex() in got for j in range(k)):
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def one_nat(nat: str, attempts: int, punch_within: float) -> dict[str, Any]:
    bed = Bed().open()
    peers: list[Peer] = []
    try:
        one, two = bed.home(1, nat), bed.home(2, nat)
        relay = Peer(bed.inside_public, 1, f"/ip4/{bed.public_address}/tcp/{PORT}", "relay")
        peers.append(relay)
        a = Peer(one.inside, 2, f"/ip4/{one.address}/tcp/{PORT}", "node")
        peers.append(a)
        a.ask("dial", address=relay.address)
        if until(lambda: bool(a.ask("reach")["advertised"]), 30) is None:
            raise RuntimeError("A made no reservation on R")
        circuit = a.ask("reach")["advertised"][0]
        rows = []
        for i in range(attempts):
            # A fresh B (a new peer id) each time: a second circuit between the same two peers
            # through the same relay, after a hang-up, did not come up on 0.8.1 (docs/
            # architecture.md, py-libp2p traps), and DCUtR keeps per-peer state.
            b = Peer(two.inside, 3 + i, f"/ip4/{two.address}/tcp/{PORT}", "node")
            peers.append(b)
            before = relay.ask("usage")
            t0 = time.monotonic()
            dialed = b.ask("dial", address=circuit)
            if "error" in dialed:
                rows.append({"dialed": False})
                continue
            first = first_push(a, b, f"{nat}-{i}-first")
            punched = until(lambda b=b: b.ask("route", peer=a.peer_id)["kind"] == "hole-punched",
                            punch_within, every=0.1)  # fmt: skip
            to_direct = time.monotonic() - t0 if punched is not None else None
            direct_push = first_push(a, b, f"{nat}-{i}-direct") if punched is not None else None
            after = relay.ask("usage")
            rows.append({
                "dialed": True, "first_trace_s": first, "punched": punched is not None,
                "to_direct_s": to_direct, "direct_push_s": direct_push,
                "relay_cpu_s": after["cpu"] - before["cpu"],
                "relay_bytes": after["bytes"] - before["bytes"],
            })  # fmt: skip
            b.stop()
            until(lambda b=b: b.peer_id not in a.ask("peers")["peers"], 15)
            print(f"  {nat} attempt {i + 1}: {rows[-1]}", file=sys.stderr)
        return summarise(nat, rows)
    finally:
        for peer in peers:
            peer.stop()
        bed.close()


def settle(peers: dict[str, Peer], t0: float, within: float) -> dict[str, dict[str, Any]]:
    """Each peer's first reach that is not "unknown", with its seconds since ``t0``."""
    known: dict[str, dict[str, Any]] = {}
    while len(known) < len(peers) and time.monotonic() - t0 < within:
        for name, peer in peers.items():
            if name not in known:
                reach = peer.ask("reach")
                if reach["state"] != "unknown":
                    known[name] = {**reach, "s": time.monotonic() - t0}
        time.sleep(0.05)
    return known


def verdicts(nat: str, runs: int) -> dict[str, Any]:
    """R and A on ``auto``, fresh each run: seconds until each knows (module docstring)."""
    bed = Bed().open()
    peers: list[Peer] = []
    rows: list[dict[str, Any]] = []
    try:
        one = bed.home(1, nat)
        for i in range(runs):
            relay = Peer(
                bed.inside_public, 100 + i, f"/ip4/{bed.public_address}/tcp/{PORT}", "relay", "auto"
            )
            a = Peer(one.inside, 150 + i, f"/ip4/{one.address}/tcp/{PORT}", "node", "auto")
            peers += [relay, a]
            t0 = time.monotonic()
            a.ask("dial", address=relay.address)
            known = settle({"r": relay, "a": a}, t0, 60)
            r, own = known.get("r", {}), known.get("a", {})
            rows.append({
                "r_s": r.get("s"), "r_right": r.get("state") == "public",
                "a_s": own.get("s"), "a_right": own.get("state") == "behind NAT",
                "r_why": r.get("why"), "a_why": own.get("why"),
            })  # fmt: skip
            print(f"  {nat} verdicts {i + 1}: {rows[-1]}", file=sys.stderr)
            a.stop()
            relay.stop()
        return {
            "nat": nat,
            "runs": runs,
            "r_right": sum(r["r_right"] for r in rows),
            "a_right": sum(r["a_right"] for r in rows),
            "r_public_s": spread([r["r_s"] for r in rows if r["r_s"] is not None]),
            "a_behind_nat_s": spread([r["a_s"] for r in rows if r["a_s"] is not None]),
        }
    finally:
        for peer in peers:
            peer.stop()
        bed.close()


def spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def summarise(nat: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    dialed = [r for r in rows if r["dialed"]]
    punched = [r for r in dialed if r["punched"]]
    relayed_first = [r["first_trace_s"] for r in dialed if r["first_trace_s"] is not None]
    return {
        "nat": nat,
        "attempts": len(rows),
        "circuits": len(dialed),
        "punched": len(punched),
        "first_trace_s": spread(relayed_first),
        "to_direct_s": spread([r["to_direct_s"] for r in punched]),
        "direct_push_s": spread([r["direct_push_s"] for r in punched if r["direct_push_s"]]),
        "relay_cpu_ms_per_circuit": spread([1000 * r["relay_cpu_s"] for r in dialed]),
        "relay_kib_per_circuit": spread([r["relay_bytes"] / 1024 for r in dialed]),
    }


def show(value: dict[str, float] | None, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value['min']:.2f} / {value['median']:.2f} / {value['max']:.2f}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attempts", type=int, default=20)
    parser.add_argument("--punch-within", type=float, default=25.0)
    parser.add_argument("--nat", choices=[KEEP, RANDOM], action="append")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--verdicts", type=int, default=0, metavar="N")
    args = parser.parse_args()
    reason = why_not()
    if reason is not None:
        raise SystemExit(f"cannot run: {reason}")
    if args.verdicts:
        from stig.net.reachability import DIAL_BACK_WITHIN

        found = [verdicts(nat, args.verdicts) for nat in args.nat or [KEEP, RANDOM]]
        print("NAT      right (R, A)   R public (s)         A behind NAT (s)     "
              "A / DIAL_BACK_WITHIN")  # fmt: skip
        print("                        min / median / max")
        for v in found:
            ratio = (
                v["a_behind_nat_s"]["median"] / DIAL_BACK_WITHIN if v["a_behind_nat_s"] else None
            )
            print(
                f"{v['nat']:<8} {v['r_right']}/{v['runs']}, {v['a_right']}/{v['runs']}"
                f"{'':<6} {show(v['r_public_s']):<20} {show(v['a_behind_nat_s']):<20} "
                f"{'-' if ratio is None else f'{ratio:.2f}'}"
            )
        if args.json:
            print(json.dumps(found))
        if not args.attempts:
            return
    results = [one_nat(nat, args.attempts, args.punch_within) for nat in args.nat or [KEEP, RANDOM]]
    print("NAT      punched        first trace (s)      to direct (s)      direct push (s)"
          "      relay CPU ms/circuit   relay KiB/circuit")  # fmt: skip
    print("                        min / median / max")
    for r in results:
        print(
            f"{r['nat']:<8} {r['punched']:>2}/{r['circuits']:<2} of {r['attempts']:<3} "
            f"{show(r['first_trace_s']):<20} {show(r['to_direct_s']):<18} "
            f"{show(r['direct_push_s']):<20} {show(r['relay_cpu_ms_per_circuit']):<22} "
            f"{show(r['relay_kib_per_circuit'])}"
        )
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
