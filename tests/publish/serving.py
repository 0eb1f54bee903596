"""A real ``stig serve`` process for the tests: started on a free port, ended by PID."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path

from tests.cli.running import STIG


@contextmanager
def served(directory: Path) -> Iterator[str]:
    """``stig serve DIRECTORY`` on 127.0.0.1; yields its base URL (ending with "/")."""
    assert STIG is not None
    process = subprocess.Popen(
        [STIG, "serve", str(directory), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "stig serve did not start"
        line = process.stdout.readline().decode().strip()
        assert line.startswith("http://127.0.0.1:") and line.endswith("/"), line
        yield line
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def fetch(url: str, method: str = "GET") -> tuple[int, Message, bytes]:
    """Status, headers (names in any case) and body; an HTTP error is an answer too."""
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        body = error.read()
        error.close()
        return error.code, error.headers, body
