"""Checked from outside a process: does it hold any socket to anything but this machine?"""

from __future__ import annotations

import psutil


def loopback_only(pid: int) -> list[str]:
    """Every inet socket of the process that is not 127.0.0.1 at both ends (empty if none)."""
    wrong = []
    for conn in psutil.Process(pid).net_connections(kind="inet"):
        ends = [conn.laddr, *([conn.raddr] if conn.raddr else [])]
        if any(end.ip != "127.0.0.1" for end in ends):
            wrong.append(f"{conn.laddr} -> {conn.raddr} ({conn.status})")
    return wrong
