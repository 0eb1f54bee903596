"""Addresses this node keeps dialing (its bootstrap list), and what became of each: the last
error in plain words, since when, and when the next try is — so a status never says "online"
about a node that reaches no one.

A failing address is tried again every 5 s for its first STEADY_TRIES failures (a peer that is
restarting, or a machine under load, is back soon), then twice as long each time, up to 5
minutes, so that an address that stays down costs little; it is said once in the log (a changed
error is said again).
"""

from __future__ import annotations

from dataclasses import dataclass

from stig.net.network import NetworkError

FIRST_RETRY = 5.0
STEADY_TRIES = 6
LAST_RETRY = 300.0


@dataclass
class Dialing:
    """One address: tried how often in a row without success, why the last try failed."""

    address: str
    failures: int = 0
    error: str = ""
    failing_since: float = 0.0
    next_try: float = 0.0

    def failed(self, exc: NetworkError, now: float) -> bool:
        """Record a failed try; True if the reason is new (worth a log line)."""
        words = plain_words(exc)
        new = words != self.error
        if not self.failures:
            self.failing_since = now
        self.failures += 1
        self.error = words
        backoff = 2 ** max(0, self.failures - STEADY_TRIES)
        self.next_try = now + min(LAST_RETRY, FIRST_RETRY * backoff)
        return new

    def reached(self) -> None:
        self.failures = 0
        self.error = ""
        self.failing_since = 0.0
        self.next_try = 0.0

    def due(self, now: float) -> bool:
        return now >= self.next_try

    def report(self) -> dict[str, object]:
        return {
            "address": self.address,
            "error": self.error,
            "failures": self.failures,
            "failing_since": self.failing_since or None,
            "next_try": self.next_try or None,
        }


def plain_words(exc: NetworkError) -> str:
    """What a failed dial means, for a person rather than for a library."""
    text = f"{exc.reason} {exc.detail}".lower()
    if exc.reason == "timeout":
        return (
            "no answer within the dial's time: the machine may be off or asleep, or a firewall "
            "or NAT drops the connection"
        )
    if exc.reason == "bad_address":
        return f"not a usable address ({exc.detail})"
    if exc.reason == "self":
        return "that address is this node itself"
    if "refused" in text and ("errno 111" in text or "connection refused" in text):
        return "connection refused: nothing listens on that port (is the node running there?)"
    if "unreachable" in text or "no route" in text:
        return "no route to that address from here (another network, or no network at all)"
    if "peer id" in text or "mismatch" in text or "noise" in text or "handshake" in text:
        return (
            "reached the address, but not that peer: another node answers there, or the "
            "private-network keys differ"
        )
    if "connect call failed" in text or "errno" in text:
        return "the connection failed: " + exc.detail.rsplit(":", 1)[-1].strip()
    return "could not connect: " + exc.detail[:200]
