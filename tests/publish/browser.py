"""A real headless Chromium (Debian's ``chromium``) driven over its DevTools pipe: no
WebDriver, no extra package. Used to check what a reader actually sees.

Started with the background-networking switches off (on a closed network it would otherwise
hang trying to reach Google), ended by PID. ``STIG_REQUIRE_BROWSER=1`` (set by .ci/run) turns
a missing browser from a skip into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
REQUIRE_ENV = "STIG_REQUIRE_BROWSER"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
]
TIMEOUT = 30.0


def require_chromium() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{CHROMIUM} is missing and {REQUIRE_ENV}=1 (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


class Browser:
    def __init__(self, process: subprocess.Popen[bytes], write_fd: int, read_fd: int) -> None:
        self.process = process
        self.write_fd = write_fd
        self.read_fd = read_fd
        self.buffer = b""
        self.last = 0

    def call(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> Any:
        self.last += 1
        message: dict[str, Any] = {"id": self.last, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.buffer:
                chunk = os.read(self.read_fd, 65536)
                assert chunk, f"chromium closed its pipe (exit {self.process.poll()})"
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self.last:
                assert "error" not in answer, answer
                return answer["result"]

    def open(self, url: str) -> str:
        """Open ``url`` in a new tab, wait until it has loaded; the tab's session id."""
        target = self.call("Target.createTarget", {"url": url})["targetId"]
        session: str = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        deadline = time.monotonic() + TIMEOUT
        loaded = f"location.href === {json.dumps(url)} && document.readyState"
        while self.evaluate(session, loaded) != "complete":
            assert time.monotonic() < deadline, f"{url} did not load"
            time.sleep(0.1)
        return session

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session
        )["result"]
        return result.get("value")


@contextmanager
def chromium(profile: Path, width: int = 390, height: int = 844) -> Iterator[Browser]:
    """A headless browser with a phone-sized window (390 x 844 CSS pixels)."""
    binary = require_chromium()
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()

    def wire_pipes() -> None:  # chromium reads commands on fd 3, answers on fd 4
        os.dup2(to_browser_r, 3)
        os.dup2(from_browser_w, 4)

    process = subprocess.Popen(
        [
            binary,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "--remote-debugging-pipe",
            "about:blank",
        ],
        pass_fds=(3, 4),
        preexec_fn=wire_pipes,  # noqa: PLW1509 - only dup2, before exec
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(to_browser_r)
    os.close(from_browser_w)
    browser = Browser(process, to_browser_w, from_browser_r)
    try:
        yield browser
    finally:
        try:
            if process.poll() is None:
                os.write(
                    to_browser_w, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0"
                )
                process.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(5)
        finally:
            os.close(to_browser_w)
            os.close(from_browser_r)
            shutil.rmtree(profile, ignore_errors=True)
