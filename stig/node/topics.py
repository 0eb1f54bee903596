"""Gossip topic names (docs/protocol.md §8).

One topic carries every public trace. Each affinity group gets its own topic, named from the
group tag (a keyed hash of the group secret, never the group's name), so a relay can carry a
group's envelopes without knowing which group it is.
"""

from __future__ import annotations

PUBLIC_TOPIC = "/stig/traces/1"
GROUP_TOPIC_PREFIX = "/stig/group/1/"


def group_topic(group_tag: bytes) -> str:
    """The topic of the group whose tag is ``group_tag`` (lower-case hex in the name)."""
    return GROUP_TOPIC_PREFIX + group_tag.hex()
