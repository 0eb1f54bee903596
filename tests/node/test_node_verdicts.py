"""The gossip validator's verdicts (stig/node/verdicts.py): a pushed trace is checked once.

Real Admission, real SQLite store in tmp_path; the push path is driven as MeshNode drives it
(``judge_push`` on arrival, then a pushed ``Session``), without a network.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import weakref
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stig.crdt import kinds
from stig.crdt.compose import compose
from stig.crdt.trace import Trace
from stig.crypto.persona import Persona
from stig.node.admission import Admission, Session, Taken
from stig.node.config import RelayPolicy
from stig.node.ledger import Ledger
from stig.node.verdicts import Verdicts
from stig.store.sqlite import SqliteStore

NOW = 1_700_000_000
ANA = Persona("ana", bytes([1]) * 32)
PEER = "12D3KooWpeer"


def note(body: str, *, tags: tuple[str, ...] = ()) -> Trace:
    return compose(ANA, kinds.NOTE, body, now=NOW, tags=tags)


def badly_signed(trace: Trace) -> Trace:
    flipped = trace.signature[:10] + bytes([trace.signature[10] ^ 1]) + trace.signature[11:]
    return dataclasses.replace(trace, signature=flipped)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "store.db")
    try:
        yield opened
    finally:
        await opened.close()


def admission(store: SqliteStore, policy: RelayPolicy | None = None) -> Admission:
    return Admission(policy or RelayPolicy(), store, Ledger(), lambda: float(NOW), lambda _: None)


async def ingest_pushed(judge: Admission, store: SqliteStore, raws: list[bytes]) -> None:
    session = Session(judge, store, Taken(), asyncio.Lock(), PEER, pushed=True, now=NOW)
    await session.add(raws)
    await session.finish()


def test_a_verdict_is_taken_once_for_exactly_its_bytes() -> None:
    verdicts = Verdicts()
    trace = note("checked once")
    verdicts.keep(trace.encoded, trace)
    assert verdicts.take(badly_signed(trace).encoded) is None  # other bytes: nothing
    assert verdicts.take(bytes(trace.encoded)) is trace  # equal bytes, not the same object
    assert verdicts.take(trace.encoded) is None  # once
    assert len(verdicts) == 0


def test_verdicts_are_bounded_and_the_oldest_go_first() -> None:
    verdicts = Verdicts(kept=3)
    traces = [note(f"push {i}") for i in range(5)]
    for trace in traces:
        verdicts.keep(trace.encoded, trace)
    assert len(verdicts) == 3
    assert [verdicts.take(t.encoded) for t in traces] == [None, None, *traces[2:]]


async def test_the_validator_s_verdict_is_what_ingest_stores(store: SqliteStore) -> None:
    judge = admission(store)
    trace = note("validated on arrival")
    assert judge.judge_push(PEER, trace.encoded)
    assert len(judge.verdicts) == 1
    await ingest_pushed(judge, store, [trace.encoded])
    assert len(judge.verdicts) == 0  # taken by ingest, not checked a second time
    assert await store.get(trace.id) == trace
    assert judge.ledger.record(PEER).accepted == 1


async def test_a_kept_verdict_is_not_checked_again(store: SqliteStore) -> None:
    """What makes the second check go away, shown with a verdict no validator would give: the
    kept trace is used as it is. (Only ``judge_push`` keeps verdicts, after ``validate``.)"""
    judge = admission(store)
    forged = badly_signed(note("kept as if it had been validated"))
    judge.verdicts.keep(forged.encoded, forged)
    await ingest_pushed(judge, store, [forged.encoded])
    assert await store.get(forged.id) is not None


async def test_bytes_without_a_verdict_are_checked_in_full(store: SqliteStore) -> None:
    judge = admission(store)
    honest = note("honest")
    assert judge.judge_push(PEER, honest.encoded)
    forged = badly_signed(honest)
    assert not judge.judge_push(PEER, forged.encoded)  # refused: no verdict is kept for it
    # The forged bytes reach ingest all the same (as sync or a buggy network could bring them).
    await ingest_pushed(judge, store, [forged.encoded])
    assert await store.get(forged.id) is None
    assert judge.ledger.record(PEER).rejected == {"bad_signature": 2}
    assert len(judge.verdicts) == 1  # the honest verdict is still there, untouched


async def test_a_sync_session_takes_no_verdict(store: SqliteStore) -> None:
    judge = admission(store)
    trace = note("pushed, then also synced")
    assert judge.judge_push(PEER, trace.encoded)
    session = Session(judge, store, Taken(), asyncio.Lock(), PEER, pushed=False, now=NOW)
    await session.add([trace.encoded])
    await session.finish()
    assert await store.get(trace.id) == trace
    assert len(judge.verdicts) == 1  # sync checks in full; the push's verdict waits for it


async def test_the_policy_still_applies_to_a_vouched_push(store: SqliteStore) -> None:
    """The verdict saves the decode and the signature, not the node's own rules: a policy
    changed between validation and ingest (SIGHUP) is applied to the push."""
    judge = admission(store)
    trace = note("about gardens", tags=("garden",))
    assert judge.judge_push(PEER, trace.encoded)
    judge.policy = RelayPolicy(refuse_tags=frozenset({"garden"}))
    await ingest_pushed(judge, store, [trace.encoded])
    assert await store.get(trace.id) is None
    assert judge.ledger.record(PEER).rejected == {"refused_tag": 1}


async def test_a_finished_session_is_freed_without_the_cyclic_collector(store: SqliteStore) -> None:
    """A session and its ingest do not refer to each other: a simulation of thousands of nodes
    runs with the cyclic collector off, and each session left behind was garbage it kept."""
    judge = admission(store)
    session = Session(judge, store, Taken(), asyncio.Lock(), PEER, pushed=False, now=NOW)
    await session.add([note("kept").encoded, badly_signed(note("charged")).encoded])
    await session.finish()
    assert judge.ledger.record(PEER).rejected == {"bad_signature": 1}  # charged as before
    gone = weakref.ref(session)
    gc.disable()
    try:
        del session
        assert gone() is None
    finally:
        gc.enable()
