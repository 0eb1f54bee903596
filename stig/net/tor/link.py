"""A node's link to tor: what it asks of tor (``TorPlan``), and the tor it got (``TorLink``).

``open_link(plan)`` attaches to a tor that runs already (a control port on the loopback, or a
control socket; cookie or password) or starts stig's own (``TorDaemon`` with its data under the
home), waits until that tor has bootstrapped, and loads the onion key (kept in a 0600 file for a
stable address, or fresh per run). It blocks: callers on an event loop run it in a thread. The
libp2p adapter opens the link when its network starts and closes it when it stops; closing the
control connection ends the onion service, and stig's own tor with it.

Two modes (docs/protocol.md §8.10): ``tor`` — reachable as an onion as well as on clearnet;
``tor-only`` — an onion only, and nothing leaves the process except through tor.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from stig.errors import TorError
from stig.net.tor.control import TorControl, TorStatus
from stig.net.tor.daemon import TorDaemon
from stig.net.tor.modes import DEFAULT_ONION_PORT, OWN, TOR, TOR_ONLY
from stig.net.tor.onion_key import OnionKey

BOOTSTRAP_WITHIN = 180.0
"""Seconds tor gets to bootstrap before the node gives up with a message that says so. A tor
that ran before bootstraps in seconds; a first run on the real network can take a minute."""


@dataclass(frozen=True)
class TorPlan:
    """What the node asks of tor. ``control`` is ``own``, ``host:port`` (loopback only) or the
    path of a control socket; ``key_file`` None means a fresh onion key (and address) per run;
    ``data_dir`` is where stig's own tor keeps its state; ``extra_torrc`` is appended to its
    torrc (bridges, e.g.)."""

    only: bool
    control: str = OWN
    password: str | None = None
    key_file: Path | None = None
    port: int = DEFAULT_ONION_PORT
    data_dir: Path | None = None
    extra_torrc: str = ""
    bootstrap_within: float = BOOTSTRAP_WITHIN

    @property
    def mode(self) -> str:
        return TOR_ONLY if self.only else TOR


@dataclass
class TorLink:
    """A bootstrapped tor this node uses: its control connection (which holds the onion
    service), its SOCKS port, the onion key, and the daemon if it is stig's own."""

    plan: TorPlan
    control: TorControl
    socks: tuple[str, int]
    key: OnionKey
    daemon: TorDaemon | None = None

    @property
    def onion_address(self) -> str:
        """``/onion3/<address>:<port>``: what the node listens on and hands out."""
        return self.key.multiaddr(self.plan.port)

    def status(self) -> TorStatus:
        return self.control.status()

    def close(self) -> None:
        """Close the control connection (tor removes the onion service), and stop our own tor
        by its PID."""
        if self.daemon is not None:
            self.daemon.stop()
        else:
            self.control.close()


def open_link(plan: TorPlan, cancel: threading.Event | None = None) -> TorLink:
    """Attach to (or start) tor, wait for its bootstrap, load the onion key (module docstring).
    Raises TorError with a message that says what to do; setting ``cancel`` (from another
    thread: the caller was stopped) ends the wait at once, and stig's own tor with it."""
    key = OnionKey.load_or_create(plan.key_file) if plan.key_file else OnionKey.generate()
    daemon: TorDaemon | None = None
    if plan.control == OWN:
        if plan.data_dir is None:
            raise TorError("usage", "stig's own tor needs a data directory")
        daemon = TorDaemon(plan.data_dir, extra_torrc=plan.extra_torrc)
        control = daemon.start()
    elif plan.control.startswith("/"):
        control = TorControl.attach(socket_path=Path(plan.control), password=plan.password)
    else:
        host, _, port = plan.control.rpartition(":")
        if not port.isdigit():
            raise TorError(
                "usage",
                f"tor control {plan.control!r} is neither 'own', host:port nor a socket path",
            )
        control = TorControl.attach(int(port), host=host or "127.0.0.1", password=plan.password)
    try:
        control.wait_bootstrapped(plan.bootstrap_within, cancel)
        socks = control.socks_address()
        if socks is None:
            raise TorError(
                "socks",
                f"tor at {control.where} has no SOCKS port on the loopback: add "
                "'SocksPort 127.0.0.1:9050' to its torrc, or let stig start its own tor",
            )
    except BaseException:
        if daemon is not None:
            daemon.stop()
        else:
            control.close()
        raise
    return TorLink(plan, control, socks, key, daemon)
