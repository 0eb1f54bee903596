"""What a relayed circuit carries, and what copying it costs the relay: stig's hop service
(``stig.net.libp2p_relay.CircuitService``, which copies each circuit's bytes itself: trap 8)
against py-libp2p 0.8.1's own (``CircuitV2Protocol``), measured in the same run.

    python benchmarks/circuit.py [--mib 32] [--runs 5] [--json]

Each run, for each service in turn: a relay R in its own process (a bare py-libp2p host, Noise
and Yamux as stig uses them, on 127.0.0.1, running only that service, default limits); A and B
in this process as the network port on libp2p (``Libp2pNetwork``) listening on nothing, as
behind NATs, so their only link is the circuit. A reserves on R, B dials A's circuit address,
opens a stream and sends ``--mib`` MiB in 64 KiB frames; A answers once it has them all.
*MiB/s* is that size over the time from the first frame to the answer; *relay CPU per MiB* is
R's user + system CPU over the same span (``/proc/<pid>/stat``) per MiB carried. Figures are
min / median / max over the runs, and the ratio stig / library of the medians. For reference,
each run also sends the same through a direct connection (A listening on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import print_json, print_machine, print_table  # noqa: E402

SINK = "/stig/bench-circuit/1"
FRAME = 64 * 1024
SERVICES = ("library", "stig")
DIRECT = "direct (no relay)"


def relay_process(service: str) -> None:
    """Run R: a bare host with one circuit relay service; print its address; run until killed."""
    import trio
    from libp2p import new_host
    from libp2p.crypto.ed25519 import create_new_key_pair
    from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
    from libp2p.custom_types import TProtocol
    from libp2p.relay.circuit_v2.protocol import CircuitV2Protocol
    from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
    from libp2p.security.noise.transport import Transport as NoiseTransport
    from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
    from libp2p.stream_muxer.yamux.yamux import Yamux
    from libp2p.tools.anyio_service import background_trio_service
    from multiaddr import Multiaddr  # type: ignore[import-untyped]

    from stig.net.circuit import HopLimits
    from stig.net.libp2p_relay import CircuitService, relay_limits

    async def serve() -> None:
        key_pair = create_new_key_pair(bytes([77]) * 32)
        host = new_host(
            key_pair=key_pair,
            sec_opt={
                NOISE_PROTOCOL_ID: NoiseTransport(
                    key_pair, noise_privkey=create_x25519_key_pair().private_key
                )
            },
            muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
        )
        limits = relay_limits(HopLimits())
        kind = CircuitService if service == "stig" else CircuitV2Protocol
        relay = kind(host, limits=limits, allow_hop=True)
        listen = [Multiaddr("/ip4/127.0.0.1/tcp/0")]
        async with background_trio_service(relay), host.run(listen):
            address = host.get_addrs()[0]
            print(f"{address}", flush=True)
            await trio.sleep_forever()

    trio.run(serve)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_run(service: str, mib: int) -> tuple[float, float]:
    """(MiB/s, relay CPU ms per MiB) of one transfer through a fresh relay running ``service``
    (or DIRECT: (MiB/s, 0) over a direct connection)."""
    from stig.net.libp2p_net import Libp2pNetwork
    from stig.net.network import Stream

    direct = service == DIRECT
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--relay-process",
        "stig" if direct else service,
        stdout=asyncio.subprocess.PIPE,
    )
    a = Libp2pNetwork(
        bytes([78]) * 32, listen=("/ip4/127.0.0.1/tcp/0",) if direct else (), reachability="private"
    )
    b = Libp2pNetwork(bytes([79]) * 32, listen=(), reachability="private")

    async def sink(peer: str, stream: Stream) -> None:
        got = 0
        while got < mib * 1024 * 1024:
            frame = await stream.receive()
            if frame is None:
                break
            got += len(frame)
        await stream.send(b"%d" % got)
        await stream.close()

    try:
        assert proc.stdout is not None
        relay = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        relay_id = relay.rsplit("/p2p/", 1)[1] if "/p2p/" in relay else None
        a.set_stream_handler(SINK, sink)
        await a.start()
        await b.start()
        if relay_id is None:  # a bare host prints its address without the peer id
            raise SystemExit(f"relay printed {relay!r}")
        if direct:
            await b.dial(a.addresses()[0], within=10)
        else:
            await a.dial(relay, within=10)
            for _ in range(500):
                if a.reach().advertised:
                    break
                await asyncio.sleep(0.02)
            (circuit,) = a.reach().advertised
            await b.dial(circuit, within=15)
        frame = bytes(FRAME)
        async with await b.open_stream(a.peer_id, SINK, within=10) as stream:
            cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
            for _ in range(mib * 1024 * 1024 // FRAME):
                await stream.send(frame)
            answer = await stream.receive()
            elapsed, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid) - cpu0
        if answer != b"%d" % (mib * 1024 * 1024):
            raise SystemExit(f"{service}: A got {answer!r}, not {mib} MiB")
        return mib / elapsed, 0.0 if direct else cpu * 1000 / mib
    finally:
        await b.stop()
        await a.stop()
        proc.kill()
        await proc.wait()


def spread(values: list[float]) -> str:
    return f"{min(values):.1f} / {statistics.median(values):.1f} / {max(values):.1f}"


async def main(args: argparse.Namespace) -> dict[str, Any]:
    kinds = (*SERVICES, DIRECT)
    rates: dict[str, list[float]] = {s: [] for s in kinds}
    cpus: dict[str, list[float]] = {s: [] for s in kinds}
    for run in range(args.runs):
        for service in kinds if run % 2 == 0 else reversed(kinds):
            rate, cpu = await one_run(service, args.mib)
            rates[service].append(rate)
            cpus[service].append(cpu)
            print(f"run {run + 1} {service}: {rate:.1f} MiB/s, relay {cpu:.1f} ms CPU/MiB")
    rows = [[s, spread(rates[s]), spread(cpus[s])] for s in SERVICES]
    ratio_rate = statistics.median(rates["stig"]) / statistics.median(rates["library"])
    ratio_cpu = statistics.median(cpus["stig"]) / statistics.median(cpus["library"])
    rows.append(["stig / library (medians)", f"{ratio_rate:.2f}", f"{ratio_cpu:.2f}"])
    rows.append([DIRECT, spread(rates[DIRECT]), "—"])
    print_machine()
    print_table(
        f"A circuit through R: {args.mib} MiB from B to A, {args.runs} runs (min / median / max)",
        ["relay's hop service", "MiB/s", "relay CPU ms per MiB"],
        rows,
    )
    return {"mib": args.mib, "runs": args.runs, "rates": rates, "relay_cpu_ms_per_mib": cpus}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--relay-process":
        relay_process(sys.argv[2])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    arguments = parser.parse_args()
    result = asyncio.run(main(arguments))
    if arguments.json:
        print_json(result)
