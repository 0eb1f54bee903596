"""Range-based set reconciliation: the pull (anti-entropy) state machine (docs/sync.md).

Two peers each hold a set of items, an item being a trace's ``(timestamp, id)``. They find out
which ids one holds and the other lacks by exchanging *frames*. As in Meyer's range-based set
reconciliation and the Negentropy protocol, both sides sort their items by ``(timestamp, id)``,
compare fingerprints of ranges of that order, and recurse only into the ranges that differ, so
the bytes grow with the number of differences, not with the size of the sets.

What stig adds (docs/sync.md §6 explains each choice with measured figures):

- **Digests.** The fingerprint hashes the *sum* of the ids in a range. A digest sends, with the
  fingerprint, the count and the low 64 bits of that sum. If the two sides' counts differ by one
  and the difference is a single item, the difference of the sums *is* the first 8 bytes of that
  item's id: the receiver names it without any further splitting, and checks it with the
  fingerprint (the range without that item must have the peer's fingerprint).
- **Density-driven splits.** A differing range is split into as many sub-ranges as a small cost
  model says (1 to 512), from an estimate of how dense the differences are: a sparse difference
  is isolated in a few large sub-ranges, dense ones in many small ones.
- **Short id lists with a check.** Where differences are dense, the initiator lists the range as
  4-byte id prefixes; the responder answers with a bitmap of the listed items it lacks, unique
  prefixes of its own items the initiator lacks, and the fingerprint of the items it believes
  both hold. If the initiator's fingerprint of those differs, two ids shared a prefix (an
  adversary can grind 32-bit collisions) and the initiator lists the range again with full ids:
  a collision costs a round trip, never an item.

This module is pure, like aioquic's connection: no sockets, no clock, no randomness, no
asyncio. The node feeds it frames and sends what it returns.

Expired traces are never reconciled: the caller passes only live items, so the two peers
compare what both would still show. (An item that expires during a session may still be
reported in ``have`` or ``need``; the fetch phase validates every trace anyway.)

The package: `wire` (the frame format), `items` (the set a session reads: `ReconcileSet`, kept
current item by item between sessions, and the `Snapshot` of it that one session reads),
`writer` (a frame being written within its limits), `cost` (how finely to split), `session`
(the state machine, `Reconciler`).
"""

from stig.crdt.reconcile.cost import MAX_BRANCHES
from stig.crdt.reconcile.items import ReconcileSet, Snapshot
from stig.crdt.reconcile.session import (
    FIRST_LIST_MAX_ITEMS,
    MAX_COLLIDED_RANGES,
    Reconciler,
)
from stig.crdt.reconcile.wire import (
    FINGERPRINT_BYTES,
    ID_BYTES,
    INFINITY,
    LOWEST,
    MAX_FRAME_BYTES,
    MAX_FRAME_RANGES,
    MAX_ROUNDS,
    MIN_FRAME_BYTES,
    PREFIX_BYTES,
    PROTOCOL_VERSION,
    SUM_BYTES,
    Bound,
    Claim,
    Digest,
    Fingerprint,
    Found,
    IdList,
    IdReply,
    Item,
    Mode,
    Payload,
    Range,
    Skip,
    SyncError,
    SyncReason,
    decode_frame,
    encode_frame,
    encode_varint,
    fingerprint,
)
from stig.crdt.reconcile.writer import FRAME_RESERVE

__all__ = [
    "FINGERPRINT_BYTES",
    "FIRST_LIST_MAX_ITEMS",
    "FRAME_RESERVE",
    "ID_BYTES",
    "INFINITY",
    "LOWEST",
    "MAX_BRANCHES",
    "MAX_COLLIDED_RANGES",
    "MAX_FRAME_BYTES",
    "MAX_FRAME_RANGES",
    "MAX_ROUNDS",
    "MIN_FRAME_BYTES",
    "PREFIX_BYTES",
    "PROTOCOL_VERSION",
    "SUM_BYTES",
    "Bound",
    "Claim",
    "Digest",
    "Fingerprint",
    "Found",
    "IdList",
    "IdReply",
    "Item",
    "Mode",
    "Payload",
    "Range",
    "ReconcileSet",
    "Reconciler",
    "Skip",
    "Snapshot",
    "SyncError",
    "SyncReason",
    "decode_frame",
    "encode_frame",
    "encode_varint",
    "fingerprint",
]
