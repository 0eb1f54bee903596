"""``TorDaemon``: a tor of stig's own, started from the system's ``tor`` binary.

For a person who has tor installed but not running (or not reachable: a system tor whose
cookie this user cannot read). Its data directory is one the caller gives (the node's home,
``tor/``, mode 0700), so its state (guards, consensus) survives restarts and is erased with the
home. What its torrc says, and why:

* ``SocksPort 127.0.0.1:auto ExtendedErrors`` and ``ControlPort 127.0.0.1:auto`` with
  ``ControlPortWriteToFile``: free ports picked by tor itself (no race with another program),
  on the loopback only; ``ExtendedErrors`` makes tor say why an onion cannot be reached
  (``stig.net.tor.socks``).
* ``CookieAuthentication 1`` with the cookie in the data directory: only this user can read it.
* ``__OwningControllerProcess <our pid>``: our first controller takes ownership of tor (stem
  does it by itself, ``stig.net.tor.control``), so tor exits as soon as that connection
  closes — a node that crashes or is killed leaves no tor behind. The PID is the backstop:
  ``stop()`` ends the process by its PID (SIGINT, then SIGKILL).
* ``ClientOnly 1``: never a relay. ``Sandbox 0``: a sandboxed tor dies when its settings change
  at runtime (seen with SETCONF on an onion host).
* ``extra_torrc``: more lines, appended (the test suite uses it to join a private network).

The process runs as a child (``RunAsDaemon 0``), never daemonised, so its PID is the one we
started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from stig.child_process import stop_by_pid
from stig.errors import TorError
from stig.net.tor.control import TorControl

START_WITHIN = 30.0
"""Seconds for tor to open its control port (it does so before bootstrapping)."""

STOP_WITHIN = 10.0
"""Seconds tor gets to exit after SIGINT before SIGKILL."""

POLL = 0.1

TORRC = """\
DataDirectory {data}
RunAsDaemon 0
ClientOnly 1
SocksPort 127.0.0.1:auto ExtendedErrors
ControlPort 127.0.0.1:auto
ControlPortWriteToFile {data}/control-port
CookieAuthentication 1
CookieAuthFile {data}/control_auth_cookie
__OwningControllerProcess {owner}
Sandbox 0
Log notice file {data}/notice.log
"""


class TorDaemon:
    """A tor process of ours, its data under ``data_dir`` (see the module docstring)."""

    def __init__(self, data_dir: Path, *, binary: str | None = None, extra_torrc: str = "") -> None:
        self.data_dir = data_dir
        self.binary = binary
        self.extra_torrc = extra_torrc
        self.process: subprocess.Popen[bytes] | None = None
        self.control: TorControl | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self, within: float = START_WITHIN) -> TorControl:
        """Start tor and attach to it; returns the owning control connection (it does not wait
        for bootstrap: ``wait_bootstrapped``)."""
        binary = self.binary or shutil.which("tor")
        if binary is None:
            raise TorError(
                "not_installed",
                "tor is not installed: install it (Debian/Ubuntu: apt-get install tor), or "
                "point stig at a running tor's control port",
            )
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)  # tor refuses a data directory others can read
        port_file = self.data_dir / "control-port"
        port_file.unlink(missing_ok=True)
        torrc = self.data_dir / "torrc"
        torrc.write_text(TORRC.format(data=self.data_dir, owner=os.getpid()) + self.extra_torrc)
        try:
            # The binary is the system's tor (or the one the user configured), the arguments
            # our own: nothing from a peer reaches this command line.
            self.process = subprocess.Popen(  # noqa: S603
                [binary, "-f", str(torrc)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C in the terminal reaches stig, not tor
            )
        except OSError as exc:
            raise TorError("not_installed", f"cannot run {binary}: {exc}") from exc
        try:
            port = self._control_port(port_file, time.monotonic() + within)
            self.control = TorControl.attach(port, own_tor=True)
        except BaseException:
            self.stop()
            raise
        return self.control

    def _control_port(self, port_file: Path, deadline: float) -> int:
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise TorError(
                    "start_failed",
                    f"tor exited with {self.process.returncode}: see {self.log_path()}",
                )
            if port_file.exists():
                # "PORT=127.0.0.1:41234\n", written whole once the port listens.
                text = port_file.read_text()
                if text.endswith("\n"):
                    return int(text.strip().rsplit(":", 1)[1])
            if time.monotonic() > deadline:
                raise TorError("start_failed", f"tor opened no control port: see {self.log_path()}")
            time.sleep(POLL)

    def log_path(self) -> Path:
        return self.data_dir / "notice.log"

    def stop(self) -> None:
        """Close our control connection (tor exits by itself), then make sure by PID."""
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.process is not None:
            stop_by_pid(self.process, within=STOP_WITHIN, after_kill=STOP_WITHIN)
