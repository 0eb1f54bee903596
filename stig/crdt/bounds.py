"""Every bound of the trace format, in one place (docs/protocol.md §4 lists them).

A bound is part of validity: two nodes with different bounds would disagree on which traces
exist, so changing one is a protocol change.
"""

from __future__ import annotations

FORMAT_VERSION = 1
"""Value of field 0 of every trace this code writes and accepts."""

SIGNATURE_CONTEXT = b"stig/trace/v1\x00"
"""Prepended to the unsigned encoding before signing: a trace signature can never be replayed
as a signature over anything else a persona signs (domain separation)."""

MAX_TRACE_BYTES = 8192
"""Largest encoded trace, signature included. Checked before any parsing."""

MAX_BODY_BYTES = 4096
"""Largest body, counted in UTF-8 bytes."""

MAX_TAGS = 8
MAX_TAG_CHARS = 32
"""Tags are few and short: they are for filtering, not for prose."""

MAX_REFS = 16
"""A trace answers or reinforces at most this many others."""

MAX_KIND_CHARS = 16
MAX_PLACE_CHARS = 4
"""A place is a geohash of at most 4 characters (a cell of about 39 km x 20 km): city-sized, no
finer, so that a trace never pins a person down (DESIGN.md principle 4)."""

GEOHASH_ALPHABET = "0123456789bcdefghjkmnpqrstuvwxyz"

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR

MIN_TTL = 1
"""Shortest life a trace may have: ``expires`` must come after ``created``."""

MAX_TTL = 30 * DAY
"""Longest life a trace may ask for on its own."""

LIFE_CAP = 90 * DAY
"""Hard cap on life after ``created``, whatever reinforcement it gets. Retract and burn traces
live exactly this long, so they outlive everything they hide."""

MAX_FUTURE_SKEW = 10 * MINUTE
"""How far in the future ``created`` may be, to absorb clocks that run fast."""

MAX_TIMESTAMP = 2**40 - 1
"""Upper bound of ``created`` and ``expires`` (year 36812): keeps every integer in 6 bytes."""

MAX_NONCE = 2**64 - 1

INTENSITY_HALF_LIFE = DAY
"""A supporter's contribution to intensity halves every this many seconds."""

DEFAULT_TTL = 7 * DAY
