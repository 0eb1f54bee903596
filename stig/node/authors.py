"""How an author reads wherever one is shown — the terminal UI (feed, search, thread, mutes,
notices) and the CLI's moderation commands: one answer, from what this device knows.

In order: a petname given here (stig.node.petnames), else one of this device's personas by its
name ("you (NAME)"), else — for a trace signed with an affinity group's anonymous key — "a
member of GROUP", else the key's first hex digits. Nothing here is sent: the names stay on
this device.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from stig.node.petnames import Petnames
from stig.readable import SHORT_ID


def member_of(group: str) -> str:
    """How a trace signed with the group's anonymous key shows its author."""
    return f"a member of {group}"


@dataclass(frozen=True)
class Authors:
    """The names this device has for authors, read once (for one screen, one output)."""

    names: Petnames = field(default_factory=Petnames)
    own: Mapping[bytes, str] = field(default_factory=dict, hash=False)
    """This device's personas by key."""

    def describe(self, key: bytes, *, anonymous_in: str | None = None) -> str:
        """Author ``key`` as it reads here; ``anonymous_in``: the group whose anonymous key it
        is (the author is then a member of it, no one in particular)."""
        named = self.names.name_of(key)
        if named:
            return named
        persona = self.own.get(key)
        if persona:
            return f"you ({persona})"
        if anonymous_in is not None:
            return member_of(anonymous_in)
        return key.hex()[:SHORT_ID]
