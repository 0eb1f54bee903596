"""The node's public API for one home, offline: what the CLI (and later the TUI) calls.

It owns the store and the keyring and reads the clock — the only place above the pure core that
does, so tests pass a fixed ``clock``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from stig.crdt import kinds
from stig.crdt.bundle import read_records, write_header, write_record
from stig.crdt.compose import compose
from stig.crdt.contour import DAYS, TOP_PLACES, TOP_TAGS, Contour
from stig.crdt.mutes import mute_body
from stig.crdt.trace import Trace
from stig.crdt.views import NO_MUTES, FeedFilter, Mutes, Ranked
from stig.crypto.group import day_of
from stig.crypto.persona import Persona
from stig.errors import PersonaError, StigError, UsageError
from stig.node import control, mute_list, outbox, petnames, watch_list
from stig.node.authors import Authors
from stig.node.checking import RecordChecker
from stig.node.clock import wall_clock
from stig.node.groups import Groups
from stig.node.home import Home
from stig.node.ingest import Ingest, IngestReport
from stig.node.keyring import Keyring, shred
from stig.node.mute_list import MuteList
from stig.node.petnames import AUTHOR_PREFIX_MIN, Petnames
from stig.node.rooms import Rooms
from stig.node.watch_list import Watch
from stig.store.port import Collected, ExportFilter, Hidden, Store, Thread
from stig.store.sqlite import SqliteStore

INGEST_BATCH = 2000
"""Traces per store transaction on import: big enough to amortise a commit, small enough to
show progress and bound memory."""

ID_PREFIX_MIN = 6


@dataclass(frozen=True)
class Draft:
    """What a person asks to post, before it is signed."""

    kind: str
    body: str = ""
    tags: tuple[str, ...] = ()
    place: str = ""
    ttl: int | None = None
    refs: tuple[bytes, ...] = ()
    pow_bits: int = 0


class LocalNode:
    def __init__(
        self, home: Home, store: Store, keyring: Keyring, clock: Callable[[], int] = wall_clock
    ) -> None:
        self.home = home
        self.store = store
        self.keyring = keyring
        self.clock = clock
        self.groups = Groups(home.groups)
        self.rooms = Rooms(store, self.groups, clock)

    @classmethod
    @asynccontextmanager
    async def open(
        cls, home: Home, *, clock: Callable[[], int] = wall_clock, keyring: Keyring | None = None
    ) -> AsyncIterator[LocalNode]:
        """Open an initialised home (``stig init`` makes one)."""
        if not home.exists():
            raise UsageError(f"no stig home at {home.root}; run `stig init` first")
        store = await SqliteStore.open(home.store)
        try:
            node = cls(home, store, keyring or Keyring(home.personas), clock)
            try:
                yield node
            finally:
                await node.rooms.close()
        finally:
            await store.close()

    # -- posting ---------------------------------------------------------------------------

    async def post(
        self,
        draft: Draft,
        persona: Persona,
        *,
        group: str | None = None,
        anonymous: bool = False,
    ) -> Trace:
        """Sign and store a new trace; with ``group``, sealed for that group (signed by the
        group's anonymous key instead of ``persona`` if ``anonymous``)."""
        if group is not None:
            inner = await self.rooms.post(
                group,
                None if anonymous else persona,
                kind=draft.kind,
                body=draft.body,
                tags=draft.tags,
                place=draft.place,
                ttl=draft.ttl,
                refs=draft.refs,
                pow_bits=draft.pow_bits,
            )
            outbox.record(self.home.outbox, self.clock())  # its envelope waits like any post
            return inner
        if anonymous:
            raise UsageError("--anonymous only means something inside a group (--group NAME)")
        now = self.clock()
        options = {} if draft.ttl is None else {"ttl": draft.ttl}
        trace = compose(
            persona,
            draft.kind,
            draft.body,
            now=now,
            tags=draft.tags,
            place=draft.place,
            refs=draft.refs,
            pow_bits=draft.pow_bits,
            **options,
        )
        await self.store.add_durable(trace, now)
        outbox.record(self.home.outbox, now)
        return trace

    async def respond(
        self,
        target: bytes,
        draft: Draft,
        persona: Persona,
        *,
        group: str | None = None,
        anonymous: bool = False,
    ) -> Trace:
        """Answer, echo, confirm, dispute or retract a trace that reached this node (in
        ``group``, the answer is sealed for the group too)."""
        found = await (await self._scope(group)).thread(target, self.clock())
        if found is None:
            raise UsageError(f"trace {target.hex()[:12]} is not here (or has expired)")
        if isinstance(found, Hidden):
            raise UsageError(f"trace {target.hex()[:12]} was retracted by its author")
        if draft.kind == kinds.RETRACT and found.ranked.trace.author != persona.public_key:
            raise UsageError(
                "only the author of a trace can retract it; this one was posted by "
                f"{found.ranked.trace.author.hex()[:12]}, not by persona {persona.name!r}"
            )
        if group is not None and draft.kind == kinds.RETRACT:
            raise UsageError(
                "a trace inside a group cannot be retracted (a retraction must outlive 90 days; "
                "group traces fade within 29): to stop sharing, fork the group"
            )
        return await self.post(
            replace(draft, refs=(target,)), persona, group=group, anonymous=anonymous
        )

    async def burn(self, persona: Persona) -> Trace:
        """Retract everything this persona posted so far, everywhere the burn reaches."""
        return await self.post(Draft(kind=kinds.BURN), persona)

    # -- what this person wants to notice (stig.node.watch_list) ----------------------------

    def author_named(self, text: str) -> bytes | None:
        """A persona's key by its name, or a whole 64-hex key; None otherwise (for ``by:``)."""
        if text in self.keyring.names():
            return self.keyring.public_key(text)
        try:
            key = bytes.fromhex(text)
        except ValueError:
            return None
        return key if len(key) == 32 else None

    def queued(self) -> int:
        """Posts of this home that no peer has acknowledged by sync yet (stig.node.outbox)."""
        return outbox.queued(self.home.outbox, self.home.synced_file)

    def watches(self) -> list[Watch]:
        return watch_list.watches(self.home.watches_file, self.author_named)

    # -- reading ---------------------------------------------------------------------------

    async def _scope(self, group: str | None) -> Store:
        """The public store, or a group's store brought up to date with what arrived."""
        if group is None:
            return self.store
        await self.rooms.catch_up(group)
        return await self.rooms.store(group)

    # -- what this device chose not to see (stig.node.mute_list) --------------------------

    def mute_list(self) -> MuteList:
        return mute_list.load(self.home.mutes_file)

    def change_mutes(self, change: Callable[[MuteList], MuteList]) -> MuteList:
        return mute_list.update(self.home.mutes_file, change)

    async def mutes(self) -> Mutes:
        """What this node hides now: its own mutes and those of the personas it follows,
        never one of its own personas."""
        listed = self.mute_list()
        if not listed:
            return NO_MUTES
        return await listed.mutes(self.store, self.clock(), self.keyring.owners())

    # -- what this device calls authors (stig.node.petnames) ------------------------------

    def petnames(self) -> Petnames:
        return petnames.load(self.home.names_file)

    def change_petnames(self, change: Callable[[Petnames], Petnames]) -> Petnames:
        return petnames.update(self.home.names_file, change)

    def authors(self) -> Authors:
        """How authors read here (stig.node.authors); read once, for one output."""
        return Authors(self.petnames(), self.keyring.owners())

    def author_names(self) -> Callable[[bytes], str | None]:
        """The name an author key has here — a persona's of this home, else a petname — or
        None; read once, for one output."""
        names, own = self.petnames(), self.keyring.owners()
        return lambda key: names.known(key, own)

    async def resolve_author(self, text: str) -> bytes:
        """An author key from what a person typed: a persona's name here, a petname, a 64-hex
        key, or a unique prefix (at least 8 hex characters, as the feed shows them) of an
        author whose traces reached this node."""
        if text in self.keyring.names():
            return self.keyring.public_key(text)
        named = self.petnames().key_of(text)
        if named is not None:
            return named
        prefix = text.strip().lower()
        if len(prefix) < AUTHOR_PREFIX_MIN or any(c not in "0123456789abcdef" for c in prefix):
            raise UsageError(
                f"{text!r} is neither a persona, a name given here nor an author key: give "
                "the key's hex "
                f"(at least its first {AUTHOR_PREFIX_MIN} characters, as the feed shows them)"
            )
        if len(prefix) == 64:
            return bytes.fromhex(prefix)
        if len(prefix) > 64:
            raise UsageError(f"{text!r} is longer than an author key (64 hex characters)")
        matches = await self.store.authors_starting(prefix)
        if not matches:
            raise UsageError(
                f"no author of a trace here starts with {prefix}; give the whole key (64 hex)"
            )
        if len(matches) > 1:
            raise UsageError(f"{prefix} starts {len(matches)} authors' keys; give more characters")
        return matches[0]

    async def publish_mute(
        self, target: bytes, persona: Persona, reason: str = "", refs: tuple[bytes, ...] = ()
    ) -> Trace:
        """Publish a mute of ``target`` (stig.crdt.mutes): signed, expiring, for those who
        follow this persona's mutes."""
        if target == persona.public_key:
            raise UsageError("a persona cannot mute itself")
        return await self.post(
            Draft(kind=kinds.MUTE, body=mute_body(target, reason), refs=refs), persona
        )

    # -- reading ---------------------------------------------------------------------------

    async def feed(
        self, where: FeedFilter | None = None, limit: int = 50, *, group: str | None = None
    ) -> list[Ranked]:
        store = await self._scope(group)
        return await store.feed(self.clock(), where or FeedFilter(), limit, await self.mutes())

    async def thread(self, trace_id: bytes, *, group: str | None = None) -> Thread | Hidden:
        mutes = await self.mutes()
        found = await (await self._scope(group)).thread(trace_id, self.clock(), mutes)
        if found is None:
            raise UsageError(f"trace {trace_id.hex()[:12]} is not here (or has expired)")
        if isinstance(found, Thread) and mutes.hides(found.ranked.trace):
            trace = found.ranked.trace
            what = (
                f"by {trace.author.hex()[:12]}, an author you muted"
                if trace.author in mutes.authors
                else "tagged with a tag you muted"
            )
            raise UsageError(
                f"trace {trace_id.hex()[:12]} is {what} (`stig mute --list` shows your mutes)"
            )
        return found

    async def author_of(self, trace_id: bytes, *, group: str | None = None) -> bytes | None:
        """The author of trace ``trace_id`` if it is visible here (in ``group``), else None."""
        found = await (await self._scope(group)).thread(trace_id, self.clock())
        return found.ranked.trace.author if isinstance(found, Thread) else None

    async def search(
        self, query: str, limit: int = 50, *, group: str | None = None
    ) -> list[Ranked]:
        if not query.strip():
            raise UsageError("search for what? give some words, e.g. `stig search eviction`")
        return await (await self._scope(group)).search(
            query, self.clock(), limit, await self.mutes()
        )

    async def contour(self, days: int = DAYS) -> Contour:
        """Activity by tag x day over ``days`` UTC days ending today, and by place, from what
        reached this node (stig.crdt.contour): what is alive, never who."""
        return await self.store.contour(
            self.clock(), days, TOP_TAGS, TOP_PLACES, await self.mutes()
        )

    async def resolve(self, text: str, *, group: str | None = None) -> bytes:
        """A full id from what a person typed: 64 hex characters, or a unique prefix."""
        prefix = text.strip().lower()
        if len(prefix) < ID_PREFIX_MIN or any(c not in "0123456789abcdef" for c in prefix):
            raise UsageError(
                f"{text!r} is not a trace id: give its hex id, or at least its first "
                f"{ID_PREFIX_MIN} characters (as `stig feed` shows them)"
            )
        if len(prefix) > 64:
            raise UsageError(f"{text!r} is longer than a trace id (64 hex characters)")
        matches = await (await self._scope(group)).resolve(prefix)
        if not matches:
            raise UsageError(await self._not_found(prefix, group))
        if len(matches) > 1:
            raise UsageError(f"{prefix} matches {len(matches)} traces; give more characters")
        return matches[0]

    async def _not_found(self, prefix: str, group: str | None) -> str:
        """What to say when no trace of ``group`` (or the public space) starts with
        ``prefix``: where else on this node it is, if it is somewhere else (a group trace is
        never in the public store, so ``stig show ID`` of one finds nothing without --group)."""
        elsewhere = [
            name
            for name in [None, *self.groups.names()]
            if name != group and await (await self._scope(name)).resolve(prefix)
        ]
        if not elsewhere:
            if group is None:
                return f"no trace here starts with {prefix}; `stig feed` lists them"
            return (
                f"no trace in group {group} here starts with {prefix}; "
                f"`stig feed --group {group}` lists them"
            )
        found = " and ".join(
            "a public one" if name is None else f"one in group {name}" for name in elsewhere
        )
        hint = " or ".join(
            "drop --group" if name is None else f"--group {name}" for name in elsewhere
        )
        asked = f"trace in group {group}" if group else "public trace"
        does = "does" if len(elsewhere) == 1 else "do"
        return f"no {asked} here starts with {prefix}, but {found} {does}: {hint}"

    # -- carrying traces by hand -----------------------------------------------------------

    async def export(
        self, path: Path, where: ExportFilter, progress: Callable[[int], None] = lambda _: None
    ) -> int:
        """Write a bundle atomically (a temporary file renamed into place)."""
        count = 0
        try:
            with _atomic_file(path) as out:
                write_header(out)
                async for raw in self.store.export(self.clock(), where):
                    write_record(out, raw)
                    count += 1
                    progress(1)
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
        return count

    async def export_thread(self, trace_id: bytes, path: Path) -> int:
        """Write one thread as a bundle: the trace, the traces it answers that are here, and
        its answers — what someone needs to read it elsewhere (``stig import``)."""
        found = await self.thread(trace_id)
        if isinstance(found, Hidden):
            raise UsageError(
                f"trace {trace_id.hex()[:12]} was retracted; there is nothing to export"
            )
        traces = [found.ranked.trace]
        traces += [item.trace for _, item in found.answers_to if item is not None]
        traces += [item.trace for item in found.answers]
        try:
            with _atomic_file(path) as out:
                write_header(out)
                for trace in traces:
                    write_record(out, trace.encoded)
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
        return len(traces)

    async def import_bundle(
        self, path: Path, progress: Callable[[int], None] = lambda _: None
    ) -> IngestReport:
        """Validate every record as if it came from the network; store the valid ones."""
        checker = RecordChecker()  # a worker process, started by the first large batch
        ingest = Ingest(self.store, self.clock(), checker=checker)

        def batches(stream: BinaryIO) -> Iterator[list[tuple[str, bytes]]]:
            batch: list[tuple[str, bytes]] = []
            for record in read_records(stream):
                progress(record.size)
                at = f"byte {record.offset}"
                if record.error is not None:
                    ingest.report.reject(at, record.error, record.count)
                    continue
                batch.append((at, record.raw))
                if len(batch) >= INGEST_BATCH:
                    yield batch
                    batch = []
            yield batch

        try:
            with checker, path.open("rb") as stream:
                # Checks of each batch overlap the store of the one before (Ingest.add_all).
                await ingest.add_all(batches(stream))
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
        return await ingest.finish()

    async def ingest(self, records: Iterable[tuple[str, bytes]]) -> IngestReport:
        ingest = Ingest(self.store, self.clock())
        await ingest.add(records)
        return await ingest.finish()

    async def digest(self) -> tuple[int, bytes]:
        """How many live traces this node holds and a digest of their ids (BLAKE2b-256 of
        the sorted ids): two nodes with the same digest hold the same set."""
        ids = sorted(tid for _, tid in await self.store.live_items(self.clock()))
        return len(ids), hashlib.blake2b(b"".join(ids), digest_size=32).digest()

    async def collect(self) -> Collected:
        """Drop what has expired, here and in every group's store."""
        now = self.clock()
        for name in self.groups.names():
            self.groups.chain(name, day_of(now))  # moves the key forward, erasing the old one
            await (await self.rooms.store(name)).collect(now)
        return await self.store.collect(now)


def initialise(home: Home, persona_name: str = "me", passphrase: str | None = None) -> bool:
    """Create the home and a first persona if there is none; True if anything was created."""
    home.create()
    keyring = Keyring(home.personas)
    created = False
    if not keyring.names():
        keyring.create(persona_name, passphrase)
        created = True
    if not home.exists():
        created = True
    return created


async def create_store(home: Home) -> None:
    store = await SqliteStore.open(home.store)
    await store.close()


def wipe(home: Home) -> bool:
    """Erase keys — personas, groups, the transport key and the onion key (overwritten first)
    — stig's own tor's state, and the stores. A node or terminal UI running on the home is told
    to stop first (over its control socket), so that it neither goes on showing what is erased
    nor writes it again; True if one was."""
    stopped = control.request_stop(home.control_socket)
    errors: list[str] = []
    try:
        Keyring(home.personas).erase()
    except PersonaError as exc:
        errors.append(str(exc))
    try:
        Groups(home.groups).erase()
    except OSError as exc:
        errors.append(f"cannot erase the groups in {home.groups}: {exc.strerror}")
    try:
        # The libp2p identity: kept, it would bring the wiped device back as the same peer.
        shred(home.transport_key)
    except OSError as exc:
        errors.append(f"cannot erase {home.transport_key}: {exc.strerror}")
    try:
        # The onion key: kept, the device would come back as the same onion address.
        shred(home.onion_key)
    except OSError as exc:
        errors.append(f"cannot erase {home.onion_key}: {exc.strerror}")
    try:
        # stig's own tor's state: its guards are as good as a fingerprint of this device.
        shutil.rmtree(home.tor_dir)
    except FileNotFoundError:
        pass
    except OSError as exc:
        errors.append(f"cannot delete {home.tor_dir}: {exc.strerror}")
    own_files = [
        home.addresses_file,
        home.mutes_file,
        home.watches_file,
        home.names_file,
        home.outbox,
        home.synced_file,
        home.seen_file,
    ]
    for path in [*home.store_files, *own_files]:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            errors.append(f"cannot delete {path}: {exc.strerror}")
    if errors:
        raise StigError("; ".join(errors))
    return stopped


@contextmanager
def _atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A file written beside its destination and renamed into place on success, so a reader
    never sees half a bundle."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".stig-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(name)
        raise
