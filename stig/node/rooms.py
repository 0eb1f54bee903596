"""What a member does in its affinity groups: post sealed, open what arrives, read.

Each group's traces, once opened, live in that group's own store (``groups/<name>/store.db``),
never in the public store: the public store holds only the envelopes, which it syncs and
gossips like any trace, so nothing readable leaves the device by the mesh. Envelopes that
reached the public store (from the mesh, an import, another process) are opened lazily — before
each read of a group, and when the TUI sees the store move — following the public store's
insertion cursor, one cursor per group.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from stig.crdt import kinds
from stig.crdt.bounds import DEFAULT_TTL, MAX_TTL
from stig.crdt.codec import decode_trusted
from stig.crdt.compose import compose
from stig.crdt.sealed import MAX_GROUP_TTL, open_envelope, seal_trace
from stig.crdt.trace import Trace
from stig.crypto.group import Epoch, day_of
from stig.crypto.persona import Persona
from stig.errors import InvalidTrace, UsageError
from stig.node.groups import Groups
from stig.store.port import Store
from stig.store.sqlite import SqliteStore

log = logging.getLogger(__name__)

CATCH_UP_BATCH = 2000


@dataclass
class Opened:
    """What one catch-up did: traces opened per group, envelopes of ours that were damaged."""

    opened: dict[str, int] = field(default_factory=dict)
    damaged: dict[str, int] = field(default_factory=dict)


class Rooms:
    def __init__(self, public: Store, groups: Groups, clock: Callable[[], int]) -> None:
        self.public = public
        self.groups = groups
        self.clock = clock
        self._stores: dict[str, Store] = {}

    async def store(self, name: str) -> Store:
        if name not in self._stores:
            self._stores[name] = await SqliteStore.open(self.groups.store_path(name))
        return self._stores[name]

    async def forget(self, name: str) -> None:
        """Close the group's store (before leaving it)."""
        store = self._stores.pop(name, None)
        if store is not None:
            await store.close()

    async def close(self) -> None:
        for name in list(self._stores):
            await self.forget(name)

    # -- posting ------------------------------------------------------------------------------

    async def post(
        self,
        name: str,
        signer: Persona | None,
        *,
        kind: str,
        body: str,
        tags: tuple[str, ...],
        place: str,
        ttl: int | None,
        refs: tuple[bytes, ...],
        pow_bits: int,
    ) -> Trace:
        """Compose the inner trace (signed by ``signer``, or by the group's anonymous key if
        None), seal it, store the inner trace in the group and the envelope in the public
        store (from where the mesh spreads it)."""
        now = self.clock()
        life = DEFAULT_TTL if ttl is None else ttl
        if kind in kinds.PINNED_LIFE_KINDS:
            raise UsageError(f"a {kind} inside a group is not supported yet: leave the group")
        if life > MAX_GROUP_TTL:
            raise UsageError(
                f"a group trace lives at most {MAX_GROUP_TTL // 86400} days (public ones "
                f"{MAX_TTL // 86400}): its envelope lives to the end of its last day"
            )
        epoch = self.groups.epoch(name, day_of(now + life), day_of(now))
        inner = compose(
            signer or epoch.anonymous,
            kind,
            body,
            now=now,
            ttl=life,
            tags=tags,
            place=place,
            refs=refs,
        )
        # The proof of work goes on the envelope: relays can check it, not the inner trace.
        envelope = seal_trace(inner, epoch, now, pow_bits=pow_bits)
        await (await self.store(name)).add_durable(inner, now)
        await self.public.add_durable(envelope, now)
        return inner

    def is_anonymous(self, name: str, trace: Trace) -> bool:
        """Whether ``trace`` was signed with the group's anonymous key of its day."""
        today = day_of(self.clock())
        day = day_of(trace.expires)
        try:
            epoch = self.groups.epoch(name, day, today)
        except UsageError:
            return False
        return trace.author == epoch.anonymous.public_key

    # -- opening ------------------------------------------------------------------------------

    async def catch_up(self, only: str | None = None) -> Opened:
        """Open the envelopes stored since the last catch-up, for every group (or ``only``)."""
        done = Opened()
        now = self.clock()
        today = day_of(now)
        names = [only] if only else self.groups.names()
        for name in names:
            mine: dict[str, Epoch] = self.groups.epochs_of(name, today)
            store = await self.store(name)
            cursor = self.groups.cursor(name)
            while True:
                cursor, raws = await self.public.stored_after(cursor, CATCH_UP_BATCH)
                if not raws:
                    break
                inner = []
                for raw in raws:
                    envelope = decode_trusted(raw)
                    if envelope.kind != kinds.SEALED:
                        continue
                    try:
                        opened = open_envelope(envelope, mine, now)
                    except InvalidTrace as exc:
                        log.info("group %s: envelope %s refused: %s", name, envelope.hex_id, exc)
                        done.damaged[name] = done.damaged.get(name, 0) + 1
                        continue
                    if opened is not None:
                        inner.append(opened)
                if inner:
                    added = await store.add(inner, now)
                    done.opened[name] = done.opened.get(name, 0) + len(added.accepted)
                self.groups.set_cursor(name, cursor)
        return done


async def collect_groups(groups: Groups, now: int) -> None:
    """What a running node does for its groups from time to time, even if nobody reads them:
    move every key forward to today (erasing the old one) and drop expired group traces."""
    today = day_of(now)
    for name in groups.names():
        groups.chain(name, today)
        store = await SqliteStore.open(groups.store_path(name))
        try:
            await store.collect(now)
        finally:
            await store.close()
