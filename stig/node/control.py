"""The control socket: how ``stig peers`` asks a running node for its state, and how ``stig
wipe`` tells it to stop.

A Unix socket at ``<home>/control.sock`` (mode 0600: only this user). One request per
connection: a JSON line, one JSON line back.

* ``{"ask": "status"}`` — the node's state (``stig peers``, ``stig status``).
* ``{"ask": "connect", "address": "<full multiaddr>"}`` — dial that peer now and keep dialing
  it like a bootstrap peer (``stig connect``); answered ``{"peer": "<peer id>"}`` or
  ``{"error": "<what went wrong, in plain words>"}``. It is the one request that changes
  anything, and all it can do is make the node dial out.
* ``{"ask": "stop"}`` — answered ``{"stopping": true}``, then the process stops as if
  interrupted (a node returns from ``MeshNode.run``, the terminal UI exits). ``stig wipe``
  sends it first: a process left running on a wiped home would go on showing, and writing,
  what was just erased.

Nothing else on it can change the node (the socket is 0600: only this user reaches it): posting
from the CLI goes through the store, which the node watches (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from stig.errors import UsageError

MAX_REQUEST = 4096
STOP_WITHIN = 10.0
"""How long ``request_stop`` waits for the process to take its socket away (a node stops its
network first, which takes a second or two)."""


Connect = Callable[[str], Awaitable[dict[str, Any]]]


async def serve(
    path: Path,
    status: Callable[[], Awaitable[dict[str, Any]]],
    stop: Callable[[], None] | None = None,
    connect: Connect | None = None,
) -> asyncio.AbstractServer:
    """Serve ``status()`` on ``path`` (a socket left there by a node that died is replaced);
    a stop request calls ``stop()`` once the answer is sent (refused if ``stop`` is None)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stopping = False
        try:
            line = await reader.readline()
            request = json.loads(line[:MAX_REQUEST] or b"{}")
            ask = request.get("ask")
            if ask == "status":
                reply = await status()
            elif ask == "connect" and connect is not None:
                address = request.get("address")
                if not isinstance(address, str):
                    reply = {"error": "connect needs an address"}
                else:
                    reply = await connect(address)
            elif ask == "stop" and stop is not None:
                reply, stopping = {"stopping": True}, True
            else:
                reply = {"error": "unknown request"}
        except (ValueError, AttributeError, RecursionError):
            # RecursionError: JSON nested deeper than the parser's stack ("[[[[...").
            reply = {"error": "not a JSON request"}
        writer.write(json.dumps(reply).encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()
        if stopping and stop is not None:
            stop()

    server = await asyncio.start_unix_server(answer, path=str(path))
    os.chmod(path, 0o600)
    return server


async def ask_status(path: Path) -> dict[str, Any]:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), 5)
    except (FileNotFoundError, ConnectionRefusedError, TimeoutError) as exc:
        raise UsageError(
            "no node is running for this home; start one with `stig node` (or `stig relay`)"
        ) from exc
    writer.write(b'{"ask": "status"}\n')
    line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    reply: dict[str, Any] = json.loads(line)
    return reply


async def ask_connect(path: Path, address: str, within: float = 30.0) -> dict[str, Any]:
    """Ask the running node at ``path`` to dial ``address`` now (and keep it); its answer."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), 5)
    except (FileNotFoundError, ConnectionRefusedError, TimeoutError) as exc:
        raise UsageError("no node is running for this home") from exc
    writer.write(json.dumps({"ask": "connect", "address": address}).encode() + b"\n")
    line = await asyncio.wait_for(reader.readline(), within)
    writer.close()
    reply: dict[str, Any] = json.loads(line or b"{}")
    return reply


def request_stop(path: Path, within: float = STOP_WITHIN) -> bool:
    """Ask the process serving ``path`` to stop, and wait (at most ``within`` seconds) until
    it has taken its socket away. False if no process answered there (none is running, or a
    dead one left its socket). Blocking: for the CLI, or a thread."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(5)
            client.connect(str(path))
            client.sendall(b'{"ask": "stop"}\n')
            reply = json.loads(client.makefile("rb").readline() or b"{}")
    except (OSError, ValueError):
        return False
    if not isinstance(reply, dict) or not reply.get("stopping"):
        return False
    deadline = time.monotonic() + within
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return True
