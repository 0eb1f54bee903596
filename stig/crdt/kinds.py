"""Trace kinds and the roles they play in the derived views (DESIGN.md §2).

Kinds are open: any 1..MAX_KIND_CHARS characters of ``[a-z0-9_-]`` starting with a letter is a
valid kind, so traces
from newer versions are kept, relayed and shown plainly. Only the kinds below have a meaning in
the views.
"""

from __future__ import annotations

import difflib

CALLOUT = "callout"
ACTION = "action"
REPORT = "report"
NOTE = "note"
ECHO = "echo"
CONFIRM = "confirm"
DISPUTE = "dispute"
RETRACT = "retract"
BURN = "burn"
SEALED = "sealed"
MUTE = "mute"

KNOWN_KINDS = (CALLOUT, ACTION, REPORT, NOTE, ECHO, CONFIRM, DISPUTE, RETRACT, BURN, SEALED, MUTE)

SUPPORT_KINDS = frozenset({ECHO, ACTION, CONFIRM})
"""A trace of these kinds by another author supports each trace it references: it adds to its
intensity and extends its life (up to LIFE_CAP)."""

VERDICT_KINDS = frozenset({CONFIRM, DISPUTE})
"""A person's word on whether a trace is true: for each author only the latest of these that is
still visible counts (views.TraceSet.counts; docs/protocol.md §6.6), so one persona never
counts as both confirming and disputing a trace."""

REF_REQUIRED_KINDS = frozenset({ECHO, CONFIRM, DISPUTE, RETRACT})
"""These kinds only make sense about another trace: at least one ref is required."""

PINNED_LIFE_KINDS = frozenset({RETRACT, BURN})
"""These must live exactly LIFE_CAP, so they outlive every trace they hide (see views.py)."""

META_KINDS = frozenset({ECHO, CONFIRM, DISPUTE, RETRACT, BURN, SEALED, MUTE})
"""Traces about traces: counted in threads, not listed in the feed unless asked for by kind.
A sealed trace (an affinity group's envelope, stig.crdt.sealed) is listed among them: it is
carried like any trace but has nothing to show to someone outside the group. A mute (a person's
published judgement that an author abuses the network, stig.crdt.mutes) is about an author: it
matters only to those who follow its author's mutes, and it never supports what it refs."""


def nearest_known(kind: str) -> str | None:
    """The known kind ``kind`` is most likely a typo of (``calout`` -> ``callout``), or None.
    For a person typing a kind: traces of unknown kinds from the network are valid as they are
    (see the module docstring)."""
    found = difflib.get_close_matches(kind.lower(), KNOWN_KINDS, n=1, cutoff=0.6)
    return found[0] if found else None
