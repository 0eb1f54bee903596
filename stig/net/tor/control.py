"""``TorControl``: one control connection to a tor, through stem 1.8.2.

It attaches to a tor that is already running (its ControlPort on the loopback, or its
ControlSocket), authenticates the way that tor asks (cookie, password, or none; stem reads
PROTOCOLINFO and picks), and then: reports status (bootstrap progress, version, SOCKS port),
publishes an onion service for a local port under a key we hold, and withdraws it.

Blocking, and thread-safe (stem's ``Controller`` is): the node's asyncio side and the libp2p
trio side each call it through a worker thread (``asyncio.to_thread``, ``trio.to_thread``).

Why these choices:

* **Ephemeral services** (ADD_ONION), never a ``HiddenServiceDir``: nothing is written into
  tor's data directory, so a system tor needs no configuration change and no write access.
  They are not detached: tor removes them when this control connection closes, so a node that
  crashes is no longer reachable at once, and leaves nothing behind.
* **Our key, not tor's** (``Flags=DiscardPK``): the seed lives in the node's home
  (``stig.net.tor.onion_key``), so the node knows its address before tor does, and tor keeps no
  copy. Tor answers with the service id it derived from the key; a mismatch is refused.
* **Loopback only.** The control port can make tor do anything, and a password crosses it in
  clear: a host that is not 127.0.0.1, ::1 or ``localhost`` is refused.
* trap (stem 1.8.2): a controller that authenticates from the process named in tor's
  ``__OwningControllerProcess`` sends TAKEOWNERSHIP by itself; when that controller closes, tor
  exits. ``stig.net.tor.daemon`` relies on it (the tor it starts dies with the node); anyone
  else opening a second controller from that process must know that the first one owns tor.

Every failure is a ``TorError`` whose message says what to do.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import stem
import stem.connection
from stem.control import Controller, Listener

from stig.errors import TorError
from stig.net.tor.onion_key import OnionKey

log = logging.getLogger(__name__)

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})

PUBLISH_WITHIN = 120.0
"""Seconds to wait for an onion's descriptor to reach a directory when the caller waits for
publication. ≈ 1–10 s on the private network here; the real network can take tens of
seconds."""

PROBE_WITHIN = 5.0
"""Seconds to connect to a control port on the loopback."""

BOOTSTRAP_POLL = 0.5
"""Seconds between looks at the bootstrap progress."""


@dataclass(frozen=True)
class TorStatus:
    """What ``stig status`` / the Peers screen can say about tor."""

    version: str
    progress: int
    """Bootstrap progress, 0–100; 100 means tor can build circuits."""
    summary: str
    socks: tuple[str, int] | None
    """The first SOCKS port on the loopback, or None if tor has none."""
    onions: tuple[str, ...]
    """Addresses of the onion services this connection published."""
    own_tor: bool
    """True if stig started this tor (``stig.net.tor.daemon``), False if it attached to one."""

    @property
    def bootstrapped(self) -> bool:
        return self.progress >= 100


def _auth_error(exc: Exception, where: str) -> TorError:
    if isinstance(exc, stem.connection.UnreadableCookieFile):
        return TorError(
            "auth",
            f"tor at {where} wants its cookie file, which this user cannot read "
            f"({exc.cookie_path}): add the user to tor's group (Debian: debian-tor) "
            "or let stig start its own tor",
        )
    if isinstance(exc, stem.connection.MissingPassword):
        return TorError("auth", f"tor at {where} wants a control password: set tor_password")
    if isinstance(exc, stem.connection.PasswordAuthFailed):
        return TorError("auth", f"tor at {where} refused the control password: check it")
    return TorError("auth", f"tor at {where} refused us: {exc}")


def _probe(host: str, port: int) -> None:
    """Raise OSError if nothing listens at host:port. trap (stem 1.8.2): when the connection is
    refused, stem raises without closing its socket (a ResourceWarning, an error under
    ``-W error``); probing with a socket we close first keeps the common case clean."""
    with socket.create_connection((host, port), timeout=PROBE_WITHIN):
        pass


def _parse_progress(phase: str) -> tuple[int, str]:
    """``NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"`` → (100, "Done")."""
    progress, summary = 0, ""
    for part in phase.split(" "):
        if part.startswith("PROGRESS="):
            progress = int(part.removeprefix("PROGRESS="))
    if 'SUMMARY="' in phase:
        summary = phase.split('SUMMARY="', 1)[1].split('"', 1)[0]
    return progress, summary


class TorControl:
    """An authenticated control connection (module docstring). Close it when done: the onion
    services it published end with it."""

    def __init__(self, controller: Controller, where: str, *, own_tor: bool = False) -> None:
        self._controller = controller
        self.where = where
        self.own_tor = own_tor
        self._onions: dict[str, Any] = {}

    @classmethod
    def attach(
        cls,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        socket_path: Path | None = None,
        password: str | None = None,
        own_tor: bool = False,
    ) -> TorControl:
        """Attach to the tor whose control port is ``host:port`` (or whose control socket is
        ``socket_path``)."""
        if socket_path is not None:
            where = str(socket_path)
        else:
            if host not in LOOPBACK:
                raise TorError(
                    "not_loopback",
                    f"a tor control port is only used on this machine, not at {host}: run "
                    "tor here, or let stig start its own",
                )
            if port is None:
                raise TorError("usage", "a tor control port or socket is needed")
            where = f"{host}:{port}"
        try:
            if port is None:
                controller = Controller.from_socket_file(str(socket_path))
            else:
                _probe(host, port)
                controller = Controller.from_port(address=host, port=port)
        except (stem.SocketError, OSError) as exc:
            raise TorError(
                "not_running",
                f"no tor control port at {where} ({exc}): start tor with 'ControlPort {where}' "
                "(and CookieAuthentication 1), or let stig start its own tor",
            ) from exc
        try:
            controller.authenticate(password=password)
        except stem.connection.AuthenticationFailure as exc:
            controller.close()
            raise _auth_error(exc, where) from exc
        except stem.SocketError as exc:
            controller.close()
            raise TorError("not_running", f"tor at {where} closed the connection") from exc
        return cls(controller, where, own_tor=own_tor)

    def close(self) -> None:
        self._controller.close()

    def __enter__(self) -> TorControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # status

    def status(self) -> TorStatus:
        try:
            progress, summary = _parse_progress(self._controller.get_info("status/bootstrap-phase"))
            version = str(self._controller.get_version()).split(" ")[0]
        except stem.ControllerError as exc:
            raise TorError("not_running", f"tor at {self.where} stopped answering") from exc
        return TorStatus(
            version=version,
            progress=progress,
            summary=summary,
            socks=self.socks_address(),
            onions=tuple(self._onions),
            own_tor=self.own_tor,
        )

    def socks_address(self) -> tuple[str, int] | None:
        """tor's first SOCKS port on the loopback (``GETINFO net/listeners/socks``)."""
        try:
            listeners = self._controller.get_listeners(Listener.SOCKS, [])
        except stem.ControllerError as exc:
            raise TorError("not_running", f"tor at {self.where} stopped answering") from exc
        for host, port in listeners:
            if host in LOOPBACK:
                return str(host), int(port)
        return None

    def wait_bootstrapped(self, within: float, cancel: threading.Event | None = None) -> TorStatus:
        """Block until tor has bootstrapped (100 %), at most ``within`` seconds, or until
        ``cancel`` is set (a node stopped while it waits: ``TorError`` "cancelled"). Logs each
        new step of the progress (INFO), so that a person waiting sees what tor is doing."""
        deadline = time.monotonic() + within
        said = ""
        while True:
            status = self.status()
            if status.bootstrapped:
                return status
            step = f"{status.progress} % ({status.summary})"
            if step != said:
                log.info("waiting for tor at %s to bootstrap: %s", self.where, step)
                said = step
            if cancel is not None and cancel.is_set():
                raise TorError("cancelled", "stopped while waiting for tor to bootstrap")
            if time.monotonic() > deadline:
                raise TorError(
                    "bootstrap",
                    f"tor at {self.where} is at {status.progress} % ({status.summary}) after "
                    f"{within:.0f} s: check that this machine reaches the Tor network (or its "
                    "bridges), and tor's log",
                )
            if cancel is not None:
                cancel.wait(BOOTSTRAP_POLL)
            else:
                time.sleep(BOOTSTRAP_POLL)

    # onion services

    def publish(
        self,
        key: OnionKey,
        virtual_port: int,
        local_port: int,
        *,
        await_publication: bool = True,
        within: float = PUBLISH_WITHIN,
    ) -> str:
        """Make ``<key.address>.onion:virtual_port`` lead to ``127.0.0.1:local_port``, for as
        long as this connection lives. With ``await_publication`` it returns once one onion
        directory holds the descriptor (peers can find it). Returns the address."""
        key_type, key_blob = key.tor_key()
        try:
            response = self._controller.create_ephemeral_hidden_service(
                {virtual_port: f"127.0.0.1:{local_port}"},
                key_type=key_type,
                key_content=key_blob,
                discard_key=True,
                detached=False,
                await_publication=await_publication,
                timeout=within,
            )
        except stem.Timeout as exc:
            raise TorError(
                "publish",
                f"the onion {key.address} was not published within {within:.0f} s: is tor "
                "bootstrapped?",
            ) from exc
        except stem.ControllerError as exc:
            raise TorError("publish", f"tor at {self.where} refused the onion: {exc}") from exc
        if response.service_id != key.address:
            # Tor derived another address from our key: ours would be advertised and lead
            # nowhere. A bug in onion_key, never expected.
            self._controller.remove_ephemeral_hidden_service(response.service_id)
            raise TorError(
                "key_mismatch", f"tor made {response.service_id}, we expected {key.address}"
            )
        self._onions[key.address] = response
        return key.address

    def withdraw(self, address: str) -> None:
        """End the onion service ``address`` (idempotent)."""
        if self._onions.pop(address, None) is None:
            return
        try:
            self._controller.remove_ephemeral_hidden_service(address)
        except stem.ControllerError as exc:
            # The connection is gone, and the service with it.
            raise TorError("not_running", f"tor at {self.where} stopped answering") from exc
