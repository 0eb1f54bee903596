"""Ending a child process by its PID: SIGINT, a bounded wait, then SIGKILL.

The one sequence stig uses for the processes it starts (its own tor: ``stig.net.tor.daemon``)
and the test suite for the processes it starts (stig nodes, scripts, the tors of its private
Tor network). SIGINT first, so that the process can close what it holds (a stig node leaves
the mesh and closes its store; tor closes its circuits); SIGKILL if it has not exited within
``within`` seconds, and then a wait of ``after_kill`` seconds so that it is reaped, not left a
zombie. The PID is the one we started (never a name): nothing else can be hit.
"""

from __future__ import annotations

import signal
import subprocess

AFTER_KILL = 5.0
"""Seconds to wait for a process to be reaped after SIGKILL."""


def stop_by_pid(
    process: subprocess.Popen[bytes], *, within: float, after_kill: float = AFTER_KILL
) -> None:
    """End ``process`` (see the module docstring); nothing happens if it has already exited.
    Raises ``subprocess.TimeoutExpired`` only if it outlives SIGKILL by ``after_kill``."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(within)
    except subprocess.TimeoutExpired:
        process.kill()  # SIGKILL, to this PID
        process.wait(after_kill)
