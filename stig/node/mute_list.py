"""This device's mutes, kept in the home and nowhere else (docs/threat-model.md).

Three sets, in ``<home>/mutes.json`` (mode 0600, written atomically): authors muted here, tags
muted here, and the personas whose *published* mutes this device follows (stig.crdt.mutes).
Nothing of it is ever sent, synced or published; ``stig wipe`` erases it. What the node hides is
then ``views.Mutes``: the authors muted here, plus those the followed personas muted (worked out
from the store at each read, so a followed persona's new mute applies at once and an expired one
stops applying), never one of this device's own personas.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from stig.crdt.mutes import targets
from stig.crdt.views import Mutes
from stig.errors import StigError
from stig.node.private_file import write_json
from stig.store.port import Store

_T = TypeVar("_T")


@dataclass(frozen=True)
class MuteList:
    authors: frozenset[bytes] = field(default_factory=frozenset)
    tags: frozenset[str] = field(default_factory=frozenset)
    follows: frozenset[bytes] = field(default_factory=frozenset)

    def __bool__(self) -> bool:
        return bool(self.authors or self.tags or self.follows)

    def with_author(self, key: bytes, muted: bool = True) -> MuteList:
        return replace(self, authors=_toggle(self.authors, key, muted))

    def with_tag(self, tag: str, muted: bool = True) -> MuteList:
        return replace(self, tags=_toggle(self.tags, tag, muted))

    def with_follow(self, key: bytes, followed: bool = True) -> MuteList:
        return replace(self, follows=_toggle(self.follows, key, followed))

    async def mutes(self, store: Store, now: int, own: Collection[bytes] = ()) -> Mutes:
        """What to hide at ``now``: this list's authors and tags, and the targets of the
        visible mutes published by the followed personas; never an author in ``own``."""
        followed = targets(await store.mutes_by(self.follows, now), self.follows)
        authors = (self.authors | followed) - frozenset(own)
        return Mutes(authors=authors, tags=self.tags)


def _toggle(values: frozenset[_T], value: _T, present: bool) -> frozenset[_T]:
    return values | {value} if present else values - {value}


def load(path: Path) -> MuteList:
    """The list in ``path``; an empty one if there is no file. A damaged file is an error that
    says how to fix it (it is never silently taken as empty: that would un-mute)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return MuteList(
            authors=frozenset(bytes.fromhex(k) for k in raw.get("authors", [])),
            tags=frozenset(str(t) for t in raw.get("tags", [])),
            follows=frozenset(bytes.fromhex(k) for k in raw.get("follows", [])),
        )
    except FileNotFoundError:
        return MuteList()
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise StigError(
            f"{path} is damaged ({exc}); fix it or delete it (that un-mutes everything)"
        ) from exc


def save(path: Path, mutes: MuteList) -> None:
    """Write the list atomically, mode 0600."""
    data = {
        "authors": sorted(k.hex() for k in mutes.authors),
        "tags": sorted(mutes.tags),
        "follows": sorted(k.hex() for k in mutes.follows),
    }
    write_json(path, data)


def update(path: Path, change: Callable[[MuteList], MuteList]) -> MuteList:
    """Load, change and save the list; the new list."""
    changed = change(load(path))
    save(path, changed)
    return changed
