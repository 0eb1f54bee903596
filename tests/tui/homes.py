"""Homes for TUI tests: a fixed clock and personas with fixed keys, so screens (and their
snapshots) are the same on every run."""

from __future__ import annotations

import os
from pathlib import Path

from stig.crdt import kinds
from stig.crdt.compose import compose
from stig.crdt.trace import Trace
from stig.crypto.keyfile import MEMLIMIT_MIN, OPSLIMIT_MIN, encode_keyfile
from stig.crypto.persona import Persona
from stig.node.home import Home
from stig.node.keyring import KEY_SUFFIX, Keyring
from stig.node.local import create_store
from stig.store.sqlite import SqliteStore

NOW = 1_795_000_000  # 2026-11-18, a Wednesday
ME = Persona("me", bytes([7]) * 32)
ANA = Persona("ana", bytes([1]) * 32)
BEN = Persona("ben", bytes([2]) * 32)


def clock() -> int:
    return NOW


def make_home(root: Path, *personas: Persona, passphrase: str | None = None) -> Home:
    """An initialised home holding ``personas`` (the first is the default), each locked with
    ``passphrase`` if one is given (at libsodium's minimum cost, for speed)."""
    home = Home.choose(root)
    home.create()
    home.personas.mkdir(parents=True, exist_ok=True)
    for persona in personas or (ME,):
        path = home.personas / f"{persona.name}{KEY_SUFFIX}"
        path.write_bytes(
            encode_keyfile(persona, passphrase, opslimit=OPSLIMIT_MIN, memlimit=MEMLIMIT_MIN)
        )
        os.chmod(path, 0o600)
    Keyring(home.personas).set_default((personas or (ME,))[0].name)
    return home


async def fill(home: Home, traces: list[Trace]) -> None:
    await create_store(home)
    store = await SqliteStore.open(home.store)
    try:
        await store.add(traces, NOW)
    finally:
        await store.close()


def story() -> list[Trace]:
    """A small, fixed world: call-outs, a report, an answer, echoes."""
    eviction = compose(
        ANA,
        kinds.CALLOUT,
        "Eviction at 12 rue des Lilas tomorrow 7:00 — bring people, bring coffee",
        now=NOW - 3 * 3600,
        tags=("housing", "eviction"),
        place="u09t",
    )
    march = compose(
        BEN,
        kinds.REPORT,
        "The march reached the square; police left at 18:40",
        now=NOW - 26 * 3600,
        tags=("j20",),
        place="u09w",
    )
    kitchen = compose(
        ME,
        kinds.NOTE,
        "Soup kitchen needs onions and a van on Thursday",
        now=NOW - 5 * 3600,
        tags=("food",),
    )
    going = compose(
        BEN,
        kinds.ACTION,
        "Four of us will be there at 6:45",
        now=NOW - 2 * 3600,
        tags=("housing",),
        refs=(eviction.id,),
    )
    echo = compose(ME, kinds.ECHO, now=NOW - 3600, refs=(eviction.id,))
    return [eviction, march, kitchen, going, echo]
