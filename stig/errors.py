"""The one error tree of stig.

Everything stig raises on purpose is a ``StigError``. Foreign errors (sqlite, msgpack, nacl,
libp2p) are mapped to these at the edge where they happen, with ``raise ... from exc``, so
callers never see them::

    StigError
    ├── InvalidTrace        bytes that are not a valid trace; ``.reason`` is machine-readable
    ├── InvalidBundle       a bundle file whose header cannot be read (records fail one by one
    │                       as InvalidTrace and never stop an import)
    ├── PersonaError        no such persona, a key file that is damaged or locked
    │   └── WrongPassphrase the passphrase does not open the key file
    ├── StoreError          the local store cannot be opened or used (damaged file, disk full)
    ├── UsageError          a request that makes no sense (unknown id, bad duration, ...)
    ├── SyncError           a peer's sync frame that cannot be accepted (stig.crdt.reconcile);
    │                       ``.reason``: bad_frame, bad_version, protocol, ...
    └── NetworkError        a dial, stream or publish that failed (stig.node.network);
                            ``.reason``: timeout, refused, closed, down, frame_too_large, ...

"Peer sent garbage" is an ``InvalidTrace`` that the ingest path counts and moves past; "our bug"
is any other exception and is allowed to surface.
"""

from __future__ import annotations

from enum import StrEnum


class StigError(Exception):
    """Root of every error stig raises on purpose."""


class Reason(StrEnum):
    """Why a trace was rejected. Stable strings: they appear in ``--json`` output and counters."""

    TOO_LARGE = "too_large"  # encoded size over MAX_TRACE_BYTES
    BAD_ENCODING = "bad_encoding"  # not msgpack, invalid UTF-8, trailing bytes
    BAD_SHAPE = "bad_shape"  # not an array of the right length, or a field of the wrong type
    NON_CANONICAL = "non_canonical"  # decodes, but re-encoding gives other bytes
    UNSUPPORTED_VERSION = "unsupported_version"
    BAD_KIND = "bad_kind"
    BAD_TAG = "bad_tag"
    TOO_MANY_TAGS = "too_many_tags"
    BAD_PLACE = "bad_place"
    TOO_MANY_REFS = "too_many_refs"
    MISSING_REF = "missing_ref"  # echo/confirm/dispute/retract need at least one ref
    BODY_TOO_LARGE = "body_too_large"
    BAD_TIMES = "bad_times"  # expires not after created, or out of range
    TTL_TOO_LONG = "ttl_too_long"
    BAD_TTL = "bad_ttl"  # retract and burn must live exactly LIFE_CAP
    BAD_SIGNATURE = "bad_signature"
    FROM_FUTURE = "from_future"
    EXPIRED = "expired"
    TRUNCATED = "truncated"  # a bundle record cut short
    TOO_SMALL = "too_small"  # a bundle record shorter than the smallest trace
    BAD_ENVELOPE = "bad_envelope"  # a sealed trace not shaped as an envelope (protocol.md §10)


class InvalidTrace(StigError):
    """Bytes (or fields) that do not make a valid trace."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class InvalidBundle(StigError):
    """A bundle file that is not a stig bundle at all (bad magic or unknown version)."""


class PersonaError(StigError):
    """A persona that does not exist, or a key file that cannot be used."""


class WrongPassphrase(PersonaError):
    """The passphrase does not open this key file."""


class StoreError(StigError):
    """The local store cannot be opened or used."""


class UsageError(StigError):
    """A request that makes no sense as given; the message says what to do instead."""
