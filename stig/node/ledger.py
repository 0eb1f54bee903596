"""What the node knows about each peer: traffic, rejects by reason, penalties; and the rate
limits that keep one peer or one author from flooding it. The same accepts and rejects are
summed over all peers in ``tally`` (stig.node.stats), which never forgets a peer: what a relay
reports to its operator.

"Peer sent garbage" is counted here, never raised: a peer that keeps sending invalid input is cut
off for a while (``PENALTY_THRESHOLD`` rejects within ``PENALTY_WINDOW``) and the node carries on.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field

from stig.net.network import PeerId
from stig.node.stats import Tally

PENALTY_THRESHOLD = 20
"""Rejected messages within PENALTY_WINDOW that get a peer cut off."""

PENALTY_WINDOW = 60.0
BAN_SECONDS = 600.0
"""How long a cut-off peer is refused (its pushes dropped, its dials not returned)."""

PEER_RATE = 200.0
PEER_BURST = 2000.0
"""Pushes per second a peer may send us on average, and in a burst."""

MAX_RECORDS = 4096
"""Peers remembered at most. A fresh peer id is free, so records of peers that are gone are
forgotten oldest first beyond this (a forgotten ban starts over: docs/threat-model.md)."""

AUTHOR_RATE = 20.0
AUTHOR_BURST = 2000.0
MAX_AUTHORS = 65536
"""Author buckets kept at most; beyond, the oldest tenth is forgotten (keys are free, too)."""
"""Pushed traces per second one author may get stored through us, on average and in a burst.
It bounds gossip only: what is refused here is counted and comes later by pull (sync), which
has no author limit — the node asked for those traces."""


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = 0.0

    def take(self, now: float, amount: float = 1.0) -> bool:
        if self.tokens < 0:
            self.tokens, self.stamp = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= amount:
            self.tokens -= amount
            return True
        return False


@dataclass
class PeerRecord:
    peer: PeerId
    connected: bool = False
    address: str = ""
    bytes_in: int = 0
    bytes_out: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    last_sync: float = 0.0
    last_sync_result: str = ""
    banned_until: float = 0.0
    ban_reason: str = ""
    recent_rejects: deque[float] = field(default_factory=deque)
    bucket: TokenBucket = field(default_factory=lambda: TokenBucket(PEER_RATE, PEER_BURST))


class Ledger:
    """Thread-safe: the libp2p validator calls ``reject`` from the network thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._peers: dict[PeerId, PeerRecord] = {}
        self._authors: dict[bytes, TokenBucket] = {}
        self.tally = Tally()

    def record(self, peer: PeerId) -> PeerRecord:
        with self._lock:
            return self._record(peer)

    def _record(self, peer: PeerId) -> PeerRecord:
        found = self._peers.get(peer)
        if found is None:
            if len(self._peers) >= MAX_RECORDS:
                self._forget_gone()
            found = self._peers[peer] = PeerRecord(peer)
        return found

    def _forget_gone(self) -> None:
        """Forget the oldest tenth of the records of peers not connected (in the order they
        were first seen)."""
        gone = [p for p, r in self._peers.items() if not r.connected]
        for peer in gone[: max(1, MAX_RECORDS // 10)]:
            del self._peers[peer]

    def records(self) -> list[PeerRecord]:
        with self._lock:
            return sorted(self._peers.values(), key=lambda r: (not r.connected, r.peer))

    def accept(self, peer: PeerId, n: int) -> None:
        """Count traces from ``peer`` that were stored."""
        with self._lock:
            self._record(peer).accepted += n
        self.tally.accept(n)

    def count(self, peer: PeerId, reason: str) -> None:
        """Count a refused message that is not the peer's fault (no penalty)."""
        with self._lock:
            self._record(peer).rejected[reason] += 1
        self.tally.reject(reason)

    def reject(self, peer: PeerId, reason: str, now: float) -> bool:
        """Count a rejected message; True if the peer just crossed the penalty threshold."""
        self.tally.reject(reason)
        with self._lock:
            record = self._record(peer)
            record.rejected[reason] += 1
            record.recent_rejects.append(now)
            recent = record.recent_rejects
            while recent and (recent[0] < now - PENALTY_WINDOW or len(recent) > PENALTY_THRESHOLD):
                recent.popleft()
            if len(record.recent_rejects) >= PENALTY_THRESHOLD and not self._banned(record, now):
                self._ban(record, now, f"{len(record.recent_rejects)} invalid messages")
                return True
            return False

    def ban(self, peer: PeerId, now: float, reason: str) -> None:
        with self._lock:
            self._ban(self._record(peer), now, reason)

    @staticmethod
    def _ban(record: PeerRecord, now: float, reason: str) -> None:
        record.banned_until = now + BAN_SECONDS
        record.ban_reason = reason

    def is_banned(self, peer: PeerId, now: float) -> bool:
        with self._lock:
            record = self._peers.get(peer)
            return record is not None and self._banned(record, now)

    @staticmethod
    def _banned(record: PeerRecord, now: float) -> bool:
        return record.banned_until > now

    def admit_push(self, peer: PeerId, size: int, now: float) -> bool:
        """Rate limit per peer; counts bytes received either way."""
        with self._lock:
            record = self._record(peer)
            record.bytes_in += size
            return not self._banned(record, now) and record.bucket.take(now)

    def tracked_authors(self) -> int:
        """How many authors' rates are remembered (bounded by MAX_AUTHORS)."""
        with self._lock:
            return len(self._authors)

    def admit_author(self, author: bytes, now: float) -> bool:
        with self._lock:
            bucket = self._authors.get(author)
            if bucket is None:
                if len(self._authors) >= MAX_AUTHORS:
                    for old in list(self._authors)[: MAX_AUTHORS // 10]:
                        del self._authors[old]
                bucket = self._authors[author] = TokenBucket(AUTHOR_RATE, AUTHOR_BURST)
            return bucket.take(now)
