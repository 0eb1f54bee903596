"""The control socket: how ``stig peers`` asks a running node for its state.

A Unix socket at ``<home>/control.sock`` (mode 0600: only this user). One request per
connection: a JSON line ``{"ask": "status"}``; one JSON line back. Nothing on it can change the
node: posting from the CLI goes through the store, which the node watches (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stig.errors import UsageError

MAX_REQUEST = 4096


async def serve(path: Path, status: Callable[[], dict[str, Any]]) -> asyncio.AbstractServer:
    """Serve ``status()`` on ``path`` (a socket left there by a node that died is replaced)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            request = json.loads(line[:MAX_REQUEST] or b"{}")
            reply = status() if request.get("ask") == "status" else {"error": "unknown request"}
        except (ValueError, AttributeError):
            reply = {"error": "not a JSON request"}
        writer.write(json.dumps(reply).encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

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
