"""``OnionPeer``: ``tests/tor/onion_peer.py`` in its own OS process, for the tests and
benchmarks/onion.py."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from stig.child_process import stop_by_pid

ROOT = Path(__file__).resolve().parents[2]
PEER = Path(__file__).with_name("onion_peer.py")


class OnionPeer:
    """``tests/tor/onion_peer.py`` in its own process, its JSON events read from stdout, its
    stderr to a file; ended by PID (SIGINT, then SIGKILL) by ``stop``."""

    def __init__(self, log: Path, *args: str) -> None:
        self.log_path = log
        self.events: list[dict[str, Any]] = []
        self._buffer = b""
        with log.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, str(PEER), *args],
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_for(self, event: str, within: float) -> dict[str, Any]:
        """The first event named ``event``, waiting for it at most ``within`` seconds."""
        deadline = time.monotonic() + within
        assert self.process.stdout is not None
        while True:
            for found in self.events:
                if found["event"] == event:
                    return found
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None:
                raise AssertionError(f"no {event!r} from the onion peer: {self.log()[-3000:]}")
            self._read(min(left, 1.0))

    def _read(self, within: float) -> None:
        """Take in the complete lines the peer wrote, waiting at most ``within`` for some."""
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], within)
        if ready:
            chunk = os.read(self.process.stdout.fileno(), 65536)
            self._buffer += chunk
            *lines, self._buffer = self._buffer.split(b"\n")
            self.events += [json.loads(line) for line in lines if line.strip()]

    def wait_for_match(self, event: str, prefix: str, within: float) -> dict[str, Any]:
        """The first event named ``event`` whose ``data`` starts with ``prefix``."""
        deadline = time.monotonic() + within
        while True:
            for found in self.events:
                if found["event"] == event and str(found.get("data", "")).startswith(prefix):
                    return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {event!r} {prefix!r} from the peer: {self.log()[-3000:]}")
            self._read(min(left, 1.0))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_by_pid(self.process, within=15)
        if self.process.stdout is not None:
            self.process.stdout.close()
