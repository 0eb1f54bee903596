"""Gossip topic names (docs/protocol.md §8.2).

One topic carries every trace, public traces and groups' envelopes alike: a topic per group
would let every peer see who is in which group from the subscriptions GossipSub announces.
"""

from __future__ import annotations

PUBLIC_TOPIC = "/stig/traces/1"
