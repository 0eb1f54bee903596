"""Real ``stig`` processes on 127.0.0.1 for the mesh tests: started, waited for, and always
ended by PID (SIGINT, then SIGKILL), whatever the test does."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stig.child_process import stop_by_pid

STIG = str(Path(sys.executable).parent / "stig")
START_WITHIN = 30.0
LOCAL = "/ip4/127.0.0.1/tcp/0"


def stig(
    home: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [STIG, "--home", str(home), *args],
        check=False,
        input=stdin.decode() if stdin else None,
        capture_output=True,
        text=True,
        timeout=60,
        env={**_env(), **(env or {})},
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def stig_json(home: Path, *args: str) -> Any:
    return json.loads(stig(home, *args, "--json").stdout)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "STIG_HOME"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Node:
    """One ``stig node`` (or ``relay``) process."""

    def __init__(
        self,
        home: Path,
        *args: str,
        command: str = "node",
        env: dict[str, str] | None = None,
        listen: str | None = LOCAL,
        inside: tuple[str, ...] = (),
        start_within: float = START_WITHIN,
    ) -> None:
        """``inside`` prefixes the command (``ip netns exec NAME``: tests/net/nat_bed.py);
        ``listen`` None: no --listen (a --tor-only node listens as an onion only)."""
        self.listen = listen
        self.start_within = start_within
        self.inside = inside
        self.home = home
        self.env = env or {}
        self.args = args
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None
        self.addresses: list[str] = []
        self._out = b""
        self._launched = 0.0

    def start(self) -> Node:
        """Start the process and wait for its first line (its addresses)."""
        return self.launch().started()

    def launch(self) -> Node:
        """Start the process without waiting (``started`` waits): several nodes can start at
        once."""
        self.home.mkdir(parents=True, exist_ok=True)
        log = (self.home / "node.log").open("ab")
        self.process = subprocess.Popen(
            [
                *self.inside,
                *(STIG, "--home", str(self.home), self.command),
                *(("--listen", self.listen) if self.listen else ()),
                *("-v", *self.args),
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            env={**_env(), **self.env},
        )
        log.close()
        self._launched = time.monotonic()
        return self

    def started(self) -> Node:
        """Wait (``start_within`` from the launch) for the first line: the node's addresses."""
        assert self.process is not None and self.process.stdout is not None
        deadline = self._launched + self.start_within
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(left, 0))
            if not ready:
                raise AssertionError(f"{self.home} did not start: {self.log()[-2000:]}")
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                raise AssertionError(f"{self.home} exited: {self.log()[-2000:]}")
            line += chunk
        self.addresses = [a for a in line.decode().splitlines() if a.startswith("/")]
        self._out = line
        return self

    def output(self) -> list[str]:
        """Every complete line the process wrote on stdout so far (without waiting)."""
        assert self.process is not None and self.process.stdout is not None
        pipe = self.process.stdout
        while select.select([pipe], [], [], 0)[0]:
            chunk = os.read(pipe.fileno(), 65536)
            if not chunk:
                break
            self._out += chunk
        return self._out.decode().splitlines()[: self._out.count(b"\n")]

    @property
    def address(self) -> str:
        return self.addresses[0]

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        stop_by_pid(process, within=15)
        if process.stdout is not None:
            process.stdout.close()

    def log(self) -> str:
        path = self.home / "node.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def digest(self) -> tuple[int, str]:
        found = stig_json(self.home, "digest")
        return found["count"], found["digest"]

    def peers(self) -> dict[str, Any]:
        result: dict[str, Any] = stig_json(self.home, "peers")
        return result


ROOT = Path(__file__).resolve().parents[2]


class Script:
    """A Python script of the test suite in its own OS process (a hostile peer, an attacker),
    its output to a file; ended by PID (SIGINT, then SIGKILL) by ``stop``."""

    def __init__(self, script: Path, log: Path, *args: str) -> None:
        self.log_path = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(script), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_by_pid(self.process, within=10)


@contextmanager
def cluster() -> Iterator[list[Node]]:
    """Every node added to the list is ended by PID when the block ends."""
    nodes: list[Node] = []
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()
        for node in nodes:
            if node.process is not None and node.process.poll() is None:
                os.kill(node.process.pid, signal.SIGKILL)


def wait_for(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {within} s: {what}")
