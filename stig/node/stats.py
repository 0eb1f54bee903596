"""What a running node tells its operator: its running totals, and how they read.

One place holds the numbers, and three outputs read them — the stats line a relay prints every
``stats_interval`` (``Reporter``), the ``stats`` of the control socket's status (``stig status``),
and the Prometheus endpoint (``stig.node.metrics``) — so the three always agree.

* **Counters** (``Tally``, read as ``Counts``) only grow while the process runs: traces accepted
  from peers (stored, not already held), messages rejected by reason (every reason the ledger
  counts against a peer or drops without blame: docs/protocol.md §8.2 — a new reason shows up
  here by itself, keyed by its string), and traces evicted above ``relay.max_traces``.
* **Gauges** (``Snapshot``) are measured when asked: connected peers, traces in the store (rows:
  expired ones not collected yet included), live ones among them (not expired; the husk of a
  retracted trace counts until its expiry: ``Store.live_count`` reads an index, not the rows),
  and the store's bytes on disk.
* An ``Interval`` is the difference between two snapshots: what the stats line shows ("since the
  last line"), and what the status keeps as ``last_interval``.

The formatting here is pure (``stats_line``, ``snapshot_json``): tests check it directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stig.errors import StigError

log = logging.getLogger(__name__)

DEFAULT_STATS_INTERVAL = 60.0
"""Seconds between two stats lines of a running node (config ``relay.stats_interval``)."""


@dataclass(frozen=True)
class Counts:
    """Counters: since the process started (totals), or over an interval (``since``)."""

    accepted: int = 0
    rejected: Mapping[str, int] = field(default_factory=dict)
    evicted: int = 0

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def since(self, earlier: Counts) -> Counts:
        """What was counted after ``earlier`` (reasons that did not move are left out)."""
        rejected = {
            reason: n - earlier.rejected.get(reason, 0)
            for reason, n in self.rejected.items()
            if n != earlier.rejected.get(reason, 0)
        }
        return Counts(self.accepted - earlier.accepted, rejected, self.evicted - earlier.evicted)

    def as_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": dict(sorted(self.rejected.items())),
            "evicted": self.evicted,
        }


class Tally:
    """The node's counters. Thread-safe: the gossip validator rejects on the network thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accepted = 0
        self._rejected: Counter[str] = Counter()
        self._evicted = 0

    def accept(self, n: int) -> None:
        with self._lock:
            self._accepted += n

    def reject(self, reason: str) -> None:
        with self._lock:
            self._rejected[reason] += 1

    def evict(self, n: int) -> None:
        with self._lock:
            self._evicted += n

    def counts(self) -> Counts:
        with self._lock:
            return Counts(self._accepted, dict(self._rejected), self._evicted)


@dataclass(frozen=True)
class Snapshot:
    """The node at one moment: counters since start, and gauges."""

    at: float
    totals: Counts
    peers: int
    traces: int
    live: int
    disk_bytes: int


@dataclass(frozen=True)
class Interval:
    """Between two snapshots: the counters' difference, and the gauges at its end."""

    start: float
    end: Snapshot
    counts: Counts

    @classmethod
    def between(cls, earlier: Snapshot, later: Snapshot) -> Interval:
        return cls(earlier.at, later, later.totals.since(earlier.totals))


def disk_use(files: Iterable[Path]) -> int:
    """Bytes of those files that exist (a store is its database, its WAL and its shared memory)."""
    total = 0
    for path in files:
        with contextlib.suppress(FileNotFoundError):
            total += path.stat().st_size
    return total


def timestamp(at: float) -> str:
    """ISO 8601 in UTC, to the second: how the stats line and the logs say when."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def mebibytes(n: int) -> str:
    return f"{n / (1 << 20):.1f}MiB"


def stats_line(interval: Interval) -> str:
    """One line for an operator (docs/relay.md, "Reading the stats line"), e.g.::

        2026-12-07T10:00:00Z stats 60s: peers=3 accepted=12 rejected=4 (refused_tag=3
        bad_signature=1) evicted=0 traces=1204 live=1190 disk=3.2MiB

    Counters are since the previous line; gauges are now."""
    end, counts = interval.end, interval.counts
    rejected = f"rejected={counts.rejected_total}"
    if counts.rejected:
        rejected += " (" + " ".join(f"{r}={n}" for r, n in sorted(counts.rejected.items())) + ")"
    seconds = round(end.at - interval.start)
    return (
        f"{timestamp(end.at)} stats {seconds}s: peers={end.peers} accepted={counts.accepted} "
        f"{rejected} evicted={counts.evicted} traces={end.traces} live={end.live} "
        f"disk={mebibytes(end.disk_bytes)}"
    )


def snapshot_json(snapshot: Snapshot, last: Interval | None) -> dict[str, Any]:
    """The ``stats`` of the control socket's status (``stig status --json``): totals and gauges
    now, and the interval of the last stats line (None before the first one)."""
    return {
        "at": snapshot.at,
        "peers": snapshot.peers,
        "traces": snapshot.traces,
        "live": snapshot.live,
        "disk_bytes": snapshot.disk_bytes,
        "totals": snapshot.totals.as_json(),
        "last_interval": None
        if last is None
        else {
            "start": last.start,
            "end": last.end.at,
            **last.counts.as_json(),
            "peers": last.end.peers,
            "traces": last.end.traces,
            "live": last.end.live,
            "disk_bytes": last.end.disk_bytes,
            "line": stats_line(last),
        },
    }


class Reporter:
    """Every ``interval`` seconds, measures the node and hands the interval since the last
    measure to ``emit`` (the stats line); remembers it as ``last``."""

    def __init__(
        self,
        measure: Callable[[], Awaitable[Snapshot]],
        interval: float,
        emit: Callable[[Interval], None],
    ) -> None:
        self._measure = measure
        self._interval = interval
        self._emit = emit
        self.last: Interval | None = None

    async def run(self) -> None:
        previous: Snapshot | None = None
        while True:
            try:
                current = await self._measure()
            except StigError as exc:  # a store that cannot be read now: the next line tells
                log.warning("stats: cannot measure the node: %s", exc)
            else:
                if previous is not None:
                    self.last = Interval.between(previous, current)
                    self._emit(self.last)
                previous = current
            await asyncio.sleep(self._interval)
