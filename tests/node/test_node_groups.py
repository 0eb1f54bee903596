"""Groups on a device (stig.node.groups) and group traffic through LocalNode (stig.node.rooms),
over real SQLite files: membership by key, forward-secure erasure, sealed posting and reading,
and what the public store may and may not hold."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from stig.crdt import kinds
from stig.crdt.bounds import DAY
from stig.crdt.envelope import payload
from stig.crdt.views import FeedFilter
from stig.crypto.group import GroupError, advance, day_of, epochs, invite_code, open_sealed
from stig.crypto.persona import Persona
from stig.errors import UsageError
from stig.node.groups import KEY_FILE, Groups
from stig.node.home import Home
from stig.node.local import Draft, LocalNode, create_store, initialise, wipe
from stig.store.port import ExportFilter

NOW = 1_795_000_000
TODAY = day_of(NOW)
ANA = Persona("ana", bytes([1]) * 32)
BEN = Persona("ben", bytes([2]) * 32)
EVERY_KIND = FeedFilter(kinds=frozenset(kinds.KNOWN_KINDS))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        return self.now


@asynccontextmanager
async def node(root: Path, clock: Callable[[], int]) -> AsyncIterator[LocalNode]:
    home = Home(root)
    initialise(home)
    await create_store(home)
    async with LocalNode.open(home, clock=clock) as opened:
        yield opened


async def carry(src: LocalNode, dst: LocalNode, tmp: Path) -> None:
    """Move everything src holds to dst, as a relay or a USB stick would."""
    bundle = tmp / "carry.stig"
    await src.export(bundle, ExportFilter())
    report = await dst.import_bundle(bundle)
    assert not report.rejected, report.rejected


def files_under(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file())


# -- groups on disk ---------------------------------------------------------------------------


def test_a_group_is_a_key_file_nobody_else_can_read(tmp_path: Path) -> None:
    groups = Groups(tmp_path / "groups")
    groups.new("crew", TODAY)
    assert groups.names() == ["crew"]
    mode = stat.S_IMODE(os.stat(tmp_path / "groups" / "crew" / KEY_FILE).st_mode)
    assert mode == 0o600
    with pytest.raises(UsageError, match="exists already"):
        groups.new("crew", TODAY)
    with pytest.raises(UsageError, match="not a valid group name"):
        groups.new("Crew!", TODAY)
    with pytest.raises(UsageError, match="no group named 'nope'"):
        groups.invite("nope", TODAY)


def test_invite_and_join_share_the_key_of_today(tmp_path: Path) -> None:
    a = Groups(tmp_path / "a")
    b = Groups(tmp_path / "b")
    a.new("crew", TODAY)
    code = a.invite("crew", TODAY)
    b.join("friends", code, TODAY + 2)  # the code waited two days in a drawer
    assert b.chain("friends", TODAY + 2) == a.chain("crew", TODAY + 2)
    with pytest.raises(UsageError, match="in that group already"):
        b.join("again", code, TODAY + 2)
    with pytest.raises(GroupError, match="damaged"):
        b.join("x", code[:-3] + ("a" if code[-3] != "a" else "b") + code[-2:], TODAY)
    with pytest.raises(UsageError, match="check this device's clock"):
        b.join("future", invite_code(bytes(32), TODAY + 5), TODAY)


def test_the_key_moves_forward_and_the_old_one_is_gone(tmp_path: Path) -> None:
    groups = Groups(tmp_path / "groups")
    groups.new("crew", TODAY)
    first, _ = groups.chain("crew", TODAY)
    later, day = groups.chain("crew", TODAY + 3)
    assert (later, day) == (advance(first, 3), TODAY + 3)
    held = files_under(tmp_path / "groups")
    assert first not in held and first.hex().encode() not in held
    assert later.hex().encode() in held
    with pytest.raises(UsageError, match="has passed"):
        groups.epoch("crew", TODAY + 2, TODAY + 3)


def test_leave_and_erase_remove_everything(tmp_path: Path) -> None:
    groups = Groups(tmp_path / "groups")
    groups.new("crew", TODAY)
    groups.new("other", TODAY)
    groups.leave("crew")
    assert groups.names() == ["other"] and not (tmp_path / "groups" / "crew").exists()
    groups.erase()
    assert not (tmp_path / "groups").exists()


# -- sealed traffic ---------------------------------------------------------------------------


async def test_a_group_post_is_read_by_members_only(tmp_path: Path) -> None:
    clock = Clock()
    async with (
        node(tmp_path / "a", clock) as a,
        node(tmp_path / "b", clock) as b,
        node(tmp_path / "c", clock) as c,
    ):
        a.groups.new("crew", TODAY)
        b.groups.join("friends", a.groups.invite("crew", TODAY), TODAY)
        c.groups.new("elsewhere", TODAY)
        inner = await a.post(Draft(kind="callout", body="van at 6, back gate"), ANA, group="crew")
        anonymous = await a.post(
            Draft(kind="note", body="someone is watching the gate"), ANA, group="crew",
            anonymous=True,
        )  # fmt: skip
        assert anonymous.author != ANA.public_key
        assert [r.trace.kind for r in await a.feed(EVERY_KIND)] == ["sealed", "sealed"]
        await carry(a, b, tmp_path)
        await carry(a, c, tmp_path)

        read = {r.trace.body for r in await b.feed(group="friends")}
        assert read == {"van at 6, back gate", "someone is watching the gate"}
        assert b.rooms.is_anonymous("friends", anonymous)
        assert not b.rooms.is_anonymous("friends", inner)
        assert await c.feed(group="elsewhere") == []  # another group's envelopes: quietly not ours
        assert await b.feed() == [] and await c.feed() == []  # nothing public to show
        assert b"back gate" not in files_under(tmp_path / "c")

        await b.respond(inner.id, Draft(kind=kinds.ECHO), BEN, group="friends")
        await carry(b, a, tmp_path)
        thread = await a.thread(inner.id, group="crew")
        assert thread.ranked.counts.echoes == 1  # type: ignore[union-attr]
        found = await a.search("gate", group="crew")
        assert {r.trace.id for r in found} == {inner.id, anonymous.id}


async def test_what_a_group_cannot_do(tmp_path: Path) -> None:
    clock = Clock()
    async with node(tmp_path / "a", clock) as a:
        a.groups.new("crew", TODAY)
        inner = await a.post(Draft(kind="note", body="x"), ANA, group="crew")
        with pytest.raises(UsageError, match="cannot be retracted"):
            await a.respond(inner.id, Draft(kind=kinds.RETRACT), ANA, group="crew")
        with pytest.raises(UsageError, match="at most 29 days"):
            await a.post(Draft(kind="note", body="x", ttl=30 * DAY), ANA, group="crew")
        with pytest.raises(UsageError, match="inside a group"):
            await a.post(Draft(kind="note", body="x"), ANA, anonymous=True)
        with pytest.raises(UsageError, match="no group named"):
            await a.feed(group="nope")


async def test_after_its_day_nothing_the_node_holds_opens_the_envelope(tmp_path: Path) -> None:
    clock = Clock()
    async with node(tmp_path / "a", clock) as a:
        a.groups.new("crew", TODAY)
        inner = await a.post(Draft(kind="note", body="gone tomorrow", ttl=3600), ANA, group="crew")
        (envelope,) = [r.trace for r in await a.feed(EVERY_KIND)]
        assert await a.feed(group="crew") != []

        clock.now = (day_of(inner.expires) + 1) * DAY + 60  # the day of its expiry has passed
        assert await a.feed(group="crew") == []
        chain, day = a.groups.chain("crew", day_of(clock.now))
        for epoch in epochs(chain, day, 40):  # every key the node can still make
            with pytest.raises(GroupError):
                open_sealed(epoch, payload(envelope))
        assert envelope.tags[0] not in a.groups.epochs_of("crew", day_of(clock.now))


async def test_wipe_erases_group_keys(tmp_path: Path) -> None:
    clock = Clock()
    async with node(tmp_path / "a", clock) as a:
        a.groups.new("crew", TODAY)
        await a.post(Draft(kind="note", body="x"), ANA, group="crew")
    wipe(Home(tmp_path / "a"))
    assert not (tmp_path / "a" / "groups").exists()
