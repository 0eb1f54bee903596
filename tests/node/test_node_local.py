"""LocalNode: posting and responding, resolving ids, and carrying traces by bundle file.

Every node runs on a real SQLite file with a clock the test moves by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from stig.crdt import kinds
from stig.crdt.bounds import DAY, HOUR
from stig.crdt.bundle import read_records
from stig.crdt.codec import decode
from stig.crdt.compose import compose
from stig.crdt.trace import Trace
from stig.crdt.views import FeedFilter, Ranked
from stig.crypto.persona import Persona
from stig.errors import StoreError, UsageError
from stig.node.home import Home
from stig.node.local import Draft, LocalNode, create_store
from stig.store.port import ExportFilter, Hidden

T0 = 1_700_000_000
ANA = Persona("ana", bytes([1]) * 32)
BEN = Persona("ben", bytes([2]) * 32)
CY = Persona("cy", bytes([3]) * 32)

ALL_KINDS = FeedFilter(kinds=frozenset(kinds.KNOWN_KINDS))


class Clock:
    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@asynccontextmanager
async def open_home(root: Path, clock: Clock) -> AsyncIterator[LocalNode]:
    """A node on a fresh (or existing) home at ``root``."""
    home = Home(root)
    home.create()
    await create_store(home)
    async with LocalNode.open(home, clock=clock) as node:
        yield node


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def node(tmp_path: Path, clock: Clock) -> AsyncIterator[LocalNode]:
    async with open_home(tmp_path / "home", clock) as opened:
        yield opened


def view(items: list[Ranked]) -> list[tuple[str, str, float, int, tuple[int, int, int, int]]]:
    """What a feed shows, as plain values to compare across nodes."""
    return [
        (
            i.trace.hex_id,
            i.trace.body,
            i.intensity,
            i.effective_expiry,
            (i.counts.answers, i.counts.echoes, i.counts.confirms, i.counts.disputes),
        )
        for i in items
    ]


def bundle_ids(path: Path) -> list[bytes]:
    with path.open("rb") as stream:
        return [decode(record.raw).id for record in read_records(stream)]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".stig-"))


# -- export and import ----------------------------------------------------------------------


async def test_export_then_import_gives_the_same_feed(clock: Clock, tmp_path: Path) -> None:
    async with open_home(tmp_path / "a", clock) as a:
        callout = await a.post(Draft(kinds.CALLOUT, "eviction at 7", ("housing",), "u09t"), ANA)
        fading = await a.post(Draft(kinds.REPORT, "short lived", ttl=DAY), ANA)
        clock.now += HOUR
        await a.respond(callout.id, Draft(kinds.ACTION, "on our way"), BEN)
        await a.respond(callout.id, Draft(kinds.ECHO), CY)
        await a.respond(callout.id, Draft(kinds.DISPUTE), BEN)
        clock.now += 12 * HOUR
        await a.respond(fading.id, Draft(kinds.ECHO, ttl=7 * DAY), CY)
        gone = await a.post(Draft(kinds.NOTE, "posted in error"), CY)
        await a.respond(gone.id, Draft(kinds.RETRACT), CY)
        burned = await a.post(Draft(kinds.NOTE, "to burn"), BEN)
        await a.post(Draft(kinds.NOTE, "by a burned author, after the burn"), BEN)
        clock.now += 1
        await a.burn(BEN)
        clock.now += 2 * DAY  # ``fading`` has passed its own expiry: only Ben's echo keeps it
        sent = await a.export(tmp_path / "carry.stig", ExportFilter())
        shown_a = view(await a.feed(ALL_KINDS, limit=1000))
        fading_a = view([(await a.thread(fading.id)).ranked])  # type: ignore[union-attr]

    async with open_home(tmp_path / "b", clock) as b:
        report = await b.import_bundle(tmp_path / "carry.stig")
        assert (report.accepted, report.duplicates, report.rejections) == (sent, 0, [])
        assert view(await b.feed(ALL_KINDS, limit=1000)) == shown_a
        assert view([(await b.thread(fading.id)).ranked]) == fading_a  # type: ignore[union-attr]
        assert await b.store.get(burned.id) is None  # purged at the source, never exported
        # The retract travelled; when the retracted trace turns up later, it is hidden at once.
        late = await b.ingest([("late peer", gone.encoded)])
        assert late.rejections == []
        assert isinstance(await b.thread(gone.id), Hidden)
        again = await b.import_bundle(tmp_path / "carry.stig")
        assert (again.accepted, again.duplicates) == (0, sent)

    bodies = {body for _, body, *_ in shown_a}
    assert "short lived" in bodies and "posted in error" not in bodies
    assert "to burn" not in bodies and "by a burned author, after the burn" not in bodies


async def test_export_filters(node: LocalNode, clock: Clock, tmp_path: Path) -> None:
    note = await node.post(Draft(kinds.NOTE, "a", ("housing",)), ANA)
    clock.now += HOUR
    callout = await node.post(Draft(kinds.CALLOUT, "b", ("housing", "j20")), ANA)
    clock.now += HOUR
    report = await node.post(Draft(kinds.REPORT, "c"), BEN)
    echo = await node.respond(callout.id, Draft(kinds.ECHO), BEN)

    async def exported(**where: object) -> list[bytes]:
        path = tmp_path / "out.stig"
        seen: list[int] = []
        count = await node.export(path, ExportFilter(**where), seen.append)  # type: ignore[arg-type]
        ids = bundle_ids(path)
        assert count == len(ids) == sum(seen)
        return ids

    everything = [note.id, callout.id, *sorted([report.id, echo.id])]
    assert await exported() == everything  # oldest first, then by id
    assert await exported(tags=frozenset({"housing"})) == [note.id, callout.id]
    assert await exported(tags=frozenset({"housing", "j20"})) == [callout.id]
    assert await exported(kinds=frozenset({kinds.CALLOUT, kinds.ECHO})) == [callout.id, echo.id]
    assert await exported(since=T0 + HOUR) == everything[1:]
    assert await exported(since=T0 + 2 * HOUR, kinds=frozenset({kinds.REPORT})) == [report.id]
    assert await exported(tags=frozenset({"nothing"})) == []
    clock.now += 8 * DAY  # everything has expired: nothing is exported
    assert await exported() == []


async def test_export_is_atomic(
    node: LocalNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await node.post(Draft(kinds.NOTE, "one"), ANA)
    await node.post(Draft(kinds.NOTE, "two"), BEN)
    target = tmp_path / "out" / "bundle.stig"
    target.parent.mkdir()

    assert await node.export(target, ExportFilter()) == 2
    assert sorted(p.name for p in target.parent.iterdir()) == ["bundle.stig"]
    good = target.read_bytes()

    def failing(error: BaseException) -> Callable[..., AsyncIterator[bytes]]:
        async def export(now: int, where: ExportFilter) -> AsyncIterator[bytes]:
            yield b"\x90"
            raise error

        return export

    monkeypatch.setattr(node.store, "export", failing(StoreError("the disk went away")))
    with pytest.raises(StoreError, match="went away"):
        await node.export(target, ExportFilter())
    assert target.read_bytes() == good
    assert leftovers(target.parent) == []

    monkeypatch.setattr(node.store, "export", failing(OSError(28, "No space left on device")))
    with pytest.raises(UsageError, match=r"cannot write .*No space left on device"):
        await node.export(target, ExportFilter())
    assert target.read_bytes() == good
    assert leftovers(target.parent) == []

    monkeypatch.undo()
    with pytest.raises(UsageError, match="cannot write"):
        await node.export(tmp_path / "missing-dir" / "bundle.stig", ExportFilter())
    assert not (tmp_path / "missing-dir").exists()


# -- responding ------------------------------------------------------------------------------


async def test_respond_refers_to_the_target(node: LocalNode, clock: Clock) -> None:
    callout = await node.post(Draft(kinds.CALLOUT, "help"), ANA)
    clock.now += 60
    echo = await node.respond(callout.id, Draft(kinds.ECHO, refs=(b"\x01" * 32,)), BEN)
    assert (echo.kind, echo.refs, echo.author) == (kinds.ECHO, (callout.id,), BEN.public_key)
    [shown] = await node.feed()
    assert shown.counts.echoes == 1
    assert shown.intensity > 1.0


async def test_respond_refuses_what_makes_no_sense(node: LocalNode) -> None:
    callout = await node.post(Draft(kinds.CALLOUT, "help"), ANA)
    before = await node.store.count()

    with pytest.raises(UsageError, match="only the author of a trace can retract it"):
        await node.respond(callout.id, Draft(kinds.RETRACT), BEN)
    with pytest.raises(UsageError, match="is not here"):
        await node.respond(bytes(32), Draft(kinds.ECHO), BEN)
    assert await node.store.count() == before

    await node.respond(callout.id, Draft(kinds.RETRACT), ANA)
    assert isinstance(await node.thread(callout.id), Hidden)
    assert await node.feed() == []
    for kind in (kinds.ECHO, kinds.ACTION, kinds.RETRACT):
        with pytest.raises(UsageError, match="retracted by its author"):
            await node.respond(callout.id, Draft(kind, "late"), BEN)


async def test_an_expired_trace_is_gone_before_gc_removes_it(node: LocalNode, clock: Clock) -> None:
    fades = await node.post(Draft(kinds.NOTE, "fades", ttl=HOUR), ANA)
    assert (await node.thread(fades.id)).ranked.trace == fades  # type: ignore[union-attr]
    clock.now += HOUR
    assert await node.store.get(fades.id) == fades  # still stored: gc has not run
    for collected in (1, 0):
        with pytest.raises(UsageError, match="is not here"):
            await node.thread(fades.id)
        with pytest.raises(UsageError, match="is not here"):  # an echo cannot revive it
            await node.respond(fades.id, Draft(kinds.ECHO), BEN)
        assert await node.feed() == []
        assert (await node.collect()).expired == collected
    assert await node.store.get(fades.id) is None


async def test_burn_hides_everything_the_persona_posted(node: LocalNode, clock: Clock) -> None:
    await node.post(Draft(kinds.NOTE, "one"), ANA)
    await node.post(Draft(kinds.NOTE, "two", ttl=HOUR), ANA)
    kept = await node.post(Draft(kinds.NOTE, "three"), BEN)
    clock.now += 1
    burn = await node.burn(ANA)
    assert (burn.kind, burn.refs) == (kinds.BURN, ())
    assert [item.trace.id for item in await node.feed()] == [kept.id]


# -- resolving ids ---------------------------------------------------------------------------


def colliding_pair() -> tuple[Trace, Trace]:
    """Two traces whose ids share their first 6 hex digits. Signatures are deterministic, so
    this always finds the same pair (after about 4 000 tries, a fraction of a second)."""
    seen: dict[str, Trace] = {}
    for n in range(60_000):
        trace = compose(ANA, kinds.NOTE, f"n{n}", now=T0)
        other = seen.setdefault(trace.hex_id[:6], trace)
        if other is not trace:
            return other, trace
    pytest.fail("no 6-hex-digit id collision in 60 000 traces")


async def test_resolve(node: LocalNode) -> None:
    first, second = colliding_pair()
    report = await node.ingest([("test", first.encoded), ("test", second.encoded)])
    assert report.accepted == 2
    common = next(
        i for i, (x, y) in enumerate(zip(first.hex_id, second.hex_id, strict=True)) if x != y
    )
    assert common >= 6

    with pytest.raises(UsageError, match="matches 2 traces; give more characters"):
        await node.resolve(first.hex_id[:common])
    assert await node.resolve(first.hex_id[: common + 1]) == first.id
    assert await node.resolve(second.hex_id[: common + 1]) == second.id

    unique = await node.post(Draft(kinds.NOTE, "unique"), BEN)
    assert await node.resolve(unique.hex_id) == unique.id
    assert await node.resolve(f"  {unique.hex_id[:6].upper()} ") == unique.id
    assert await node.resolve(unique.hex_id[:7]) == unique.id  # an odd length is fine

    for typed in ("", "abc12", unique.hex_id[:5], "zzzzzz", "12345g", "3fa9-c1"):
        with pytest.raises(UsageError, match="is not a trace id"):
            await node.resolve(typed)
    with pytest.raises(UsageError, match="longer than a trace id"):
        await node.resolve(unique.hex_id + "0")
    ids = (first.hex_id, second.hex_id, unique.hex_id)
    absent = next(p for p in ("000000", "ffffff", "777777") if not any(map(p.startswith, ids)))
    with pytest.raises(UsageError, match=f"no trace here starts with {absent}"):
        await node.resolve(absent)
