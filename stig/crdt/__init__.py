"""The pure core: traces, their canonical codec, validation, merge rules and derived views.

Nothing here reads a clock, opens a socket or touches a database; time comes in as ``now``.
"""

from stig.crdt.codec import decode, encode
from stig.crdt.compose import compose
from stig.crdt.trace import Trace, trace_id
from stig.crdt.validate import validate
from stig.crdt.views import Counts, FeedFilter, Ranked, TraceSet

__all__ = [
    "Counts",
    "FeedFilter",
    "Ranked",
    "Trace",
    "TraceSet",
    "compose",
    "decode",
    "encode",
    "trace_id",
    "validate",
]
