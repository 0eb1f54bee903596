"""Posts of this home that no peer has acknowledged by sync: the "queued" count, true across
processes and restarts.

Every post made through LocalNode (the CLI's, the terminal UI's) appends its time to
``<home>/outbox``. A node that completes a sync session with a peer — as initiator or responder;
either way the peer then holds every live trace this home had when the session began — records
the session's start in ``<home>/synced`` and drops the times up to it from the outbox. A post is
queued while its time is after the last such start. Both files are tiny, written under an
advisory lock (fcntl) so that a post appended while a node prunes is never lost.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _times(fd: int) -> list[float]:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    out = []
    for line in b"".join(chunks).split():
        with contextlib.suppress(ValueError):
            out.append(float(line))
    return out


def record(outbox: Path, at: float) -> None:
    """A post was made at ``at`` (the node's clock)."""
    with _locked(outbox) as fd:
        os.write(fd, f"{at!r}\n".encode("ascii"))


def synced_since(synced: Path) -> float:
    """When the last completed sync began (0 if never)."""
    try:
        return float(synced.read_text(encoding="ascii").strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0.0


def acknowledge(outbox: Path, synced: Path, began: float) -> None:
    """A sync that began at ``began`` completed: every post made before it is acknowledged.

    With nothing queued it touches no file: a node syncs on every connection and every few
    seconds to minutes, and the files only matter while a post waits. A post recorded after
    this look has a time after ``began`` and would stay queued anyway."""
    if _empty(outbox) or began <= synced_since(synced):
        return
    tmp = synced.with_name(synced.name + ".tmp")
    tmp.write_text(f"{began!r}\n", encoding="ascii")
    os.replace(tmp, synced)
    with _locked(outbox) as fd:
        left = [t for t in _times(fd) if t > began]
        os.ftruncate(fd, 0)
        if left:
            os.write(fd, "".join(f"{t!r}\n" for t in left).encode("ascii"))


def _empty(outbox: Path) -> bool:
    try:
        return os.stat(outbox).st_size == 0
    except FileNotFoundError:
        return True


def queued(outbox: Path, synced: Path) -> int:
    """How many posts of this home no completed sync has covered yet."""
    if not outbox.exists():
        return 0
    since = synced_since(synced)
    with _locked(outbox) as fd:
        return sum(1 for t in _times(fd) if t > since)
