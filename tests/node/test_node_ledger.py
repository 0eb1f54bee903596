"""The ledger holds bounded memory whatever the number of peer ids and author keys (both free
to make), and keeps what matters: connected peers."""

from __future__ import annotations

from stig.node import ledger
from stig.node.ledger import MAX_AUTHORS, MAX_RECORDS, PENALTY_THRESHOLD, Ledger


def test_records_of_gone_peers_are_forgotten_beyond_the_bound() -> None:
    book = Ledger()
    book.record("connected").connected = True
    for i in range(3 * MAX_RECORDS):
        book.reject(f"fresh-{i}", "bad_encoding", 0.0)
    assert len(book.records()) <= MAX_RECORDS
    assert book.record("connected").connected  # never forgotten while connected


def test_author_buckets_are_bounded() -> None:
    book = Ledger()
    for i in range(MAX_AUTHORS + 100):
        book.admit_author(i.to_bytes(32, "big"), 0.0)
    assert len(book._authors) <= MAX_AUTHORS


def test_recent_rejects_are_bounded_by_the_threshold() -> None:
    book = Ledger()
    for _ in range(10_000):
        book.reject("junk", "bad_encoding", 1.0)
    record = book.record("junk")
    assert len(record.recent_rejects) <= PENALTY_THRESHOLD
    assert record.rejected["bad_encoding"] == 10_000
    assert book.is_banned("junk", 1.0 + ledger.BAN_SECONDS - 1)
