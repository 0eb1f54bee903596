"""The queued count (stig.node.outbox): posts of this home until a completed sync covers them."""

from __future__ import annotations

from pathlib import Path

from stig.node import outbox


def test_posts_are_queued_until_a_sync_that_began_after_them_completes(tmp_path: Path) -> None:
    box, synced = tmp_path / "outbox", tmp_path / "synced"
    assert outbox.queued(box, synced) == 0
    for at in (100.0, 200.0, 300.0):
        outbox.record(box, at)
    assert outbox.queued(box, synced) == 3
    outbox.acknowledge(box, synced, 250.0)  # a session that began at 250 completed
    assert outbox.queued(box, synced) == 1
    assert outbox.synced_since(synced) == 250.0
    outbox.acknowledge(box, synced, 150.0)  # an older session finishing late changes nothing
    assert outbox.queued(box, synced) == 1
    outbox.record(box, 400.0)
    outbox.acknowledge(box, synced, 500.0)
    assert outbox.queued(box, synced) == 0
    assert box.read_bytes() == b""  # pruned, not grown forever


def test_a_sync_with_nothing_queued_touches_no_file(tmp_path: Path) -> None:
    box, synced = tmp_path / "outbox", tmp_path / "synced"
    outbox.acknowledge(box, synced, 100.0)
    assert not box.exists() and not synced.exists()
    outbox.record(box, 200.0)  # a post after that session is queued all the same
    assert outbox.queued(box, synced) == 1
    outbox.acknowledge(box, synced, 300.0)
    assert outbox.queued(box, synced) == 0
    assert outbox.synced_since(synced) == 300.0
