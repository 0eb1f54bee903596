"""A private Tor network on 127.0.0.1 for the tests and benchmarks: 3 authorities, 3 relays and
2 client tors, none of which can reach anything but this machine.

What it does is what Tor's own *chutney* does (its torrc templates were read to write this; it
cannot be installed here), reduced to one shape: authority keys from ``tor-gencert``, their
fingerprints from ``tor --list-fingerprint``, one torrc per node with ``TestingTorNetwork 1``
and the same three ``DirAuthority`` lines, every port bound to 127.0.0.1 explicitly (chutney
listens on 0.0.0.0 and [::] by default), ``Address 127.0.0.1``. Then every tor is started at
once and the clients are watched over their control ports until they have bootstrapped and see
every relay of the network. The shape is the smallest that was measured to carry onion services
(../shared notes: an onion-service circuit needs at least 5 relays besides its two ends; the 3
authorities are relays too).

Facts that shaped it (each one was hit or measured):

* ``AssumeReachable 1`` on every relay: without it a run once never got relays into the
  consensus (the reachability self-test is half-hourly even in testing networks).
* ``Sandbox 0`` on every tor: a sandboxed tor whose settings change at runtime (SETCONF) dies;
  a client hosts onion services and may be reconfigured.
* No tor daemonises (``RunAsDaemon 0``): each is this process's child, stopped by its PID
  (SIGINT, then SIGKILL), also when bootstrap fails. ``__OwningControllerProcess`` names this
  process, and each tor's first controller (held open in ``TorNode.owner`` until ``stop``)
  takes ownership of it, so a tor left behind by a killed test run exits by itself. Best
  effort only: when the owning process was SIGKILLed once, 6 of 8 tors exited at once, and two
  relays logged "Owning controller connection has closed -- exiting now ... exiting cleanly"
  and kept running until SIGKILL. ``stop()`` never relies on it.
* trap (stem 1.8.2): a stem ``Controller`` that authenticates from the process named by
  ``__OwningControllerProcess`` sends ``TAKEOWNERSHIP`` on its own; closing that controller
  makes tor exit ("Owning controller connection has closed -- exiting now"). A short-lived
  controller opened to poll bootstrap killed every client this way. So the owner is opened
  once and kept; other processes' controllers are not affected.
* Bootstrap took 18–86 s here; one cold start in 18 failed before ``AssumeReachable``: the
  caller gets one retry on a fresh directory (``start_private_network``).
* Free ports are found by binding port 0 and closing; another process could take one before
  tor binds it, which shows as a failed start and is covered by the retry.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from stem import ProtocolError, SocketError
from stem.connection import AuthenticationFailure
from stem.control import Controller

from stig.child_process import stop_by_pid

AUTHORITIES = 3
RELAYS = 3
CLIENTS = 2

BOOTSTRAP_WITHIN = 150.0
"""Seconds for the whole network to bootstrap (measured 18–86 s on 2 busy cores)."""

STOP_WITHIN = 15.0
"""Seconds a tor gets to exit after SIGINT before SIGKILL."""

POLL = 0.5

AUTH_PASSPHRASE = b"stig-private-network\n"
CERT_MONTHS = "12"

COMMON = """\
TestingTorNetwork 1
# chutney's rapid-bootstrap options: a network of a few relays forms in tens of seconds.
PathsNeededToBuildCircuits 0.67
TestingDirAuthVoteExit *
TestingDirAuthVoteHSDir *
TestingDirAuthVoteGuard *
TestingMinExitFlagThreshold 0
V3AuthNIntervalsValid 2
DataDirectory {dir}
RunAsDaemon 0
Nickname {nick}
ShutdownWaitLength 0
ControlPort 127.0.0.1:{control}
CookieAuthentication 1
PidFile {dir}/pid
Log notice file {dir}/notice.log
SafeLogging 0
Sandbox 0
ClientUseIPv6 0
__OwningControllerProcess {owner}
"""

RELAY = """\
SocksPort 0
ORPort 127.0.0.1:{orport}
DirPort 127.0.0.1:{dirport}
Address 127.0.0.1
ExitRelay 0
AssumeReachable 1
"""

AUTHORITY = """\
AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
ContactInfo {nick}@test.invalid
TestingV3AuthInitialVotingInterval 20
TestingV3AuthInitialVoteDelay 4
TestingV3AuthInitialDistDelay 4
V3AuthVotingInterval 20
V3AuthVoteDelay 4
V3AuthDistDelay 4
"""

CLIENT = """\
SocksPort 127.0.0.1:{socks} ExtendedErrors
"""


class TorUnavailable(Exception):
    """``tor`` or ``tor-gencert`` is not installed: the caller skips (or fails, in CI)."""


class BootstrapFailed(Exception):
    """The network did not come up in time; the message carries the nodes' last log lines."""


def free_ports(n: int) -> list[int]:
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class TorNode:
    """One tor of the network."""

    nick: str
    kind: str  # "authority", "relay" or "client"
    dir: Path
    control: int
    orport: int = 0
    dirport: int = 0
    socks: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    owner: Controller | None = field(default=None, repr=False)

    @property
    def cookie(self) -> Path:
        return self.dir / "control_auth_cookie"

    def controller(self) -> Controller:
        controller = Controller.from_port(address="127.0.0.1", port=self.control)
        try:
            controller.authenticate()
        except BaseException:
            controller.close()
            raise
        return controller

    def log_tail(self, lines: int = 8) -> str:
        path = self.dir / "notice.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def take_ownership(self) -> bool:
        """Open the controller that owns this tor (see the module docstring); False while its
        control port is not listening yet."""
        if self.owner is None:
            try:
                # stem leaks its socket when the connection is refused: probe first.
                socket.create_connection(("127.0.0.1", self.control), timeout=1).close()
                self.owner = self.controller()
            except (SocketError, OSError, AuthenticationFailure, ProtocolError):
                # Refused (not listening yet), or another program took the port between
                # free_ports and tor's bind (seen with two test sessions at once: stem's
                # IncorrectSocketType): not this tor; the deadline and the retry cover it.
                return False
        return True

    def stop(self) -> None:
        if self.owner is not None:
            self.owner.close()  # tor exits on its own; the PID is the backstop
            self.owner = None
        if self.process is not None:
            stop_by_pid(self.process, within=STOP_WITHIN)


class PrivateTorNetwork:
    """The network under ``root`` (created). ``start()`` returns once both clients have
    bootstrapped and see every relay; ``stop()`` ends every tor by PID (idempotent)."""

    def __init__(self, root: Path, tor: str | None = None, gencert: str | None = None) -> None:
        tor = tor or shutil.which("tor")
        gencert = gencert or shutil.which("tor-gencert")
        if tor is None or gencert is None:
            raise TorUnavailable(
                "tor and tor-gencert are not installed (Debian: apt-get install tor)"
            )
        self.tor = tor
        self.gencert = gencert
        self.root = root
        self.nodes: list[TorNode] = []
        self.dir_authority_lines: list[str] = []
        self.started_at = 0.0
        self.bootstrapped_in = 0.0

    @property
    def clients(self) -> list[TorNode]:
        return [n for n in self.nodes if n.kind == "client"]

    @property
    def relay_count(self) -> int:
        return sum(1 for n in self.nodes if n.kind != "client")

    def client_torrc(self) -> str:
        """The lines a further client tor needs to join this network (a tor that stig starts
        itself, in the tests)."""
        return "TestingTorNetwork 1\nPathsNeededToBuildCircuits 0.67\n" + "\n".join(
            self.dir_authority_lines
        )

    # setup

    def _plan(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        ports = iter(free_ports(AUTHORITIES * 3 + RELAYS * 3 + CLIENTS * 2))
        for kind, count in (("authority", AUTHORITIES), ("relay", RELAYS), ("client", CLIENTS)):
            for i in range(count):
                nick = f"{kind[:4]}{i}"
                node = TorNode(nick, kind, self.root / nick, control=next(ports))
                if kind == "client":
                    node.socks = next(ports)
                else:
                    node.orport, node.dirport = next(ports), next(ports)
                node.dir.mkdir(mode=0o700)
                self.nodes.append(node)

    def _authority_line(self, node: TorNode) -> str:
        keys = node.dir / "keys"
        keys.mkdir(mode=0o700)
        subprocess.run(
            [
                self.gencert,
                "--create-identity-key",
                "--passphrase-fd",
                "0",
                "-i",
                str(keys / "authority_identity_key"),
                "-s",
                str(keys / "authority_signing_key"),
                "-c",
                str(keys / "authority_certificate"),
                "-m",
                CERT_MONTHS,
                "-a",
                f"127.0.0.1:{node.dirport}",
            ],
            input=AUTH_PASSPHRASE,
            capture_output=True,
            check=True,
            timeout=60,
        )
        certificate = (keys / "authority_certificate").read_text()
        v3ident = re.search(r"^fingerprint ([0-9A-F]{40})$", certificate, re.MULTILINE)
        assert v3ident is not None, certificate
        listed = subprocess.run(
            [
                self.tor,
                "--ignore-missing-torrc",
                "-f",
                str(node.dir / "none"),
                "--DataDirectory",
                str(node.dir),
                "--ORPort",
                "1",
                "--Nickname",
                node.nick,
                "--list-fingerprint",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        found = re.search(rf"^{node.nick} ((?:[0-9A-F]{{4}} ?){{10}})$", listed, re.MULTILINE)
        assert found is not None, listed
        fingerprint = found.group(1).replace(" ", "")
        return (
            f"DirAuthority {node.nick} orport={node.orport} no-v2 v3ident={v3ident.group(1)} "
            f"127.0.0.1:{node.dirport} {fingerprint}"
        )

    def _torrc(self, node: TorNode) -> str:
        text = COMMON.format(dir=node.dir, nick=node.nick, control=node.control, owner=os.getpid())
        if node.kind == "client":
            text += CLIENT.format(socks=node.socks)
        else:
            text += RELAY.format(orport=node.orport, dirport=node.dirport)
        if node.kind == "authority":
            text += AUTHORITY.format(nick=node.nick)
        return text + "\n".join(self.dir_authority_lines) + "\n"

    # lifecycle

    def start(self, within: float = BOOTSTRAP_WITHIN) -> None:
        self._plan()
        authorities = [n for n in self.nodes if n.kind == "authority"]
        self.dir_authority_lines = [self._authority_line(n) for n in authorities]
        self.started_at = time.monotonic()
        try:
            for node in self.nodes:
                torrc = node.dir / "torrc"
                torrc.write_text(self._torrc(node))
                node.process = subprocess.Popen(
                    [self.tor, "-f", str(torrc)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            self._wait_bootstrapped(self.started_at + within)
        except BaseException:
            self.stop()
            raise
        self.bootstrapped_in = time.monotonic() - self.started_at

    def _wait_bootstrapped(self, deadline: float) -> None:
        unowned = list(self.nodes)
        while unowned:
            unowned = [n for n in unowned if not n.take_ownership()]
            if unowned and time.monotonic() > deadline:
                raise BootstrapFailed(self._report("control ports not listening"))
            time.sleep(POLL / 5)
        waiting = list(self.clients)
        while waiting:
            for node in list(waiting):
                if node.process is not None and node.process.poll() is not None:
                    raise BootstrapFailed(self._report(f"{node.nick} exited"))
                if self._ready(node):
                    waiting.remove(node)
            if not waiting:
                return
            if time.monotonic() > deadline:
                names = ", ".join(n.nick for n in waiting)
                raise BootstrapFailed(self._report(f"not bootstrapped in time: {names}"))
            time.sleep(POLL)

    def _ready(self, node: TorNode) -> bool:
        """Bootstrapped, and the consensus this client holds lists every relay with the HSDir
        flag: an onion descriptor is stored on HSDirs, and a client that knows too few publishes
        or fetches into the void until the next consensus."""
        controller = node.owner
        assert controller is not None
        try:
            phase = controller.get_info("status/bootstrap-phase")
            if "PROGRESS=100" not in phase:
                return False
            hsdirs = [s for s in controller.get_network_statuses() if "HSDir" in s.flags]
            return len(hsdirs) >= self.relay_count
        except (SocketError, OSError, ValueError):
            return False
        except Exception as exc:  # stem raises its own tree for "not yet" answers
            if type(exc).__module__.startswith("stem"):
                return False
            raise

    def _report(self, what: str) -> str:
        tails = "\n".join(f"--- {n.nick}\n{n.log_tail()}" for n in self.nodes)
        return f"private Tor network: {what}\n{tails}"

    def stop(self) -> None:
        for node in self.nodes:
            if node.owner is not None:
                node.owner.close()
                node.owner = None
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGINT)
        for node in self.nodes:
            node.stop()

    def pids(self) -> list[int]:
        return [n.process.pid for n in self.nodes if n.process is not None]


def start_private_network(root: Path, tries: int = 2) -> PrivateTorNetwork:
    """A bootstrapped network under ``root``; one retry on a fresh directory if the first
    bootstrap fails."""
    failure: BootstrapFailed | None = None
    for attempt in range(tries):
        network = PrivateTorNetwork(root / f"try{attempt}")
        try:
            network.start()
        except BootstrapFailed as exc:
            failure = exc
            continue
        return network
    assert failure is not None
    raise failure


def main() -> None:
    """``python -m tests.tor.private_network [DIR]``: start a private network and keep it up
    until Ctrl-C, for trying stig over Tor by hand (docs/tor.md, "Trying it by hand"). Prints
    the client tors' control ports and the ``extra_torrc`` lines a tor of stig's own needs to
    join it; every tor is stopped by PID on the way out."""
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("dir", nargs="?", type=Path, help="where the tors keep their data")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="stig-tor-"))
    print(f"starting a private Tor network under {root} (18-90 s) ...", flush=True)
    network = start_private_network(root)
    try:
        extra = root / "extra_torrc"
        extra.write_text(network.client_torrc() + "\n")
        print(f"bootstrapped in {network.bootstrapped_in:.1f} s", flush=True)
        for client in network.clients:
            print(
                f"{client.nick}: control 127.0.0.1:{client.control} (cookie {client.cookie}), "
                f"socks 127.0.0.1:{client.socks}"
            )
        print(f"a tor of stig's own joins it with these lines as [tor] extra_torrc: {extra}")
        print("Ctrl-C stops every tor", flush=True)
        for sig in (signal.SIGINT, signal.SIGTERM):  # SIGINT may come ignored (a `&` job)
            signal.signal(sig, signal.default_int_handler)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    finally:
        network.stop()


if __name__ == "__main__":
    main()
