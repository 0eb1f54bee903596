"""Affinity groups: a forward-secure key schedule, sealing and opening, invite codes (pure).

A group is a 32-byte secret and nothing else: having it is membership. The secret is a *chain
key* for one day (an epoch, ``unix seconds // 86400``); the next day's is derived from it, one
way::

    chain[d + 1]  = BLAKE2b-256(key=chain[d], data="stig/group/v1/next")

and from each day's chain key three keys that are never used for anything else::

    seal_key[d]   = BLAKE2b-256(key=chain[d], data="stig/group/v1/seal")      SecretBox key
    tag[d]        = BLAKE2b-128(key=chain[d], data="stig/group/v1/tag")       envelope tag
    anon_seed[d]  = BLAKE2b-256(key=chain[d], data="stig/group/v1/anonymous") Ed25519 seed

A trace is sealed under the keys of the day in which it expires. A node keeps only today's
chain key and derives the days ahead; yesterday's cannot be computed from today's, so once a
day has passed, every envelope sealed for it is unreadable to everyone — including a member
whose device is seized later. A newcomer gets today's chain key: it reads what is alive,
nothing that has expired. The tag is that of the day the trace expires: envelopes of one group
that expire on different days cannot be linked by their tags; those that expire on the same day
share one (a relay can count them).

The sealed payload is the inner trace's canonical bytes, padded to a size bucket (so the length
tells little): ``u16-BE length || inner || zero bytes`` up to the bucket, then SecretBox
(XSalsa20-Poly1305) with a random 24-byte nonce: ``nonce || ciphertext``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from dataclasses import dataclass

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from stig.crypto.persona import Persona
from stig.errors import StigError

EPOCH_SECONDS = 86400
"""One epoch is one UTC day (the same as stig.crdt.bounds.DAY)."""
KEY_BYTES = 32
TAG_BYTES = 16
_NEXT = b"stig/group/v1/next"
_SEAL = b"stig/group/v1/seal"
_TAG = b"stig/group/v1/tag"
_ANONYMOUS = b"stig/group/v1/anonymous"

BUCKETS = (256, 512, 1024, 2048, 3032)
"""Padded sizes of the sealed payload (length prefix included). The largest is what fits in an
envelope's body once sealed and base64-encoded (4 * (3032 + 40) / 3 = 4096 bytes)."""
MAX_SEALED_INNER = BUCKETS[-1] - 2
NONCE_BYTES = SecretBox.NONCE_SIZE
SEALED_OVERHEAD = NONCE_BYTES + SecretBox.MACBYTES


class GroupError(StigError):
    """A sealed payload or an invite code that is not what it should be."""


def day_of(seconds: int) -> int:
    return seconds // EPOCH_SECONDS


def _keyed(key: bytes, label: bytes, size: int = KEY_BYTES) -> bytes:
    return hashlib.blake2b(label, key=key, digest_size=size).digest()


def advance(chain: bytes, days: int) -> bytes:
    """The chain key ``days`` days later (0: the same key)."""
    if days < 0:
        raise GroupError("a chain key cannot go back in time: that is the point of it")
    for _ in range(days):
        chain = _keyed(chain, _NEXT)
    return chain


@dataclass(frozen=True)
class Epoch:
    """The keys of one day of one group."""

    day: int
    seal_key: bytes
    tag: bytes
    anonymous: Persona

    @classmethod
    def of(cls, chain: bytes, day: int) -> Epoch:
        return cls(
            day=day,
            seal_key=_keyed(chain, _SEAL),
            tag=_keyed(chain, _TAG, TAG_BYTES),
            anonymous=Persona("anonymous", _keyed(chain, _ANONYMOUS)),
        )

    @property
    def tag_text(self) -> str:
        """The tag as it travels in the envelope's tag field: 32 lower-case hex characters."""
        return self.tag.hex()


def epochs(chain: bytes, today: int, count: int) -> list[Epoch]:
    """The epochs of ``today`` (the day of ``chain``) and the ``count - 1`` days after it."""
    found = []
    for offset in range(count):
        found.append(Epoch.of(chain, today + offset))
        chain = _keyed(chain, _NEXT)
    return found


def bucket_for(size: int) -> int:
    for bucket in BUCKETS:
        if size + 2 <= bucket:
            return bucket
    raise GroupError(
        f"a sealed trace holds at most {MAX_SEALED_INNER} bytes; this one has {size} "
        "(shorten the text)"
    )


def seal(epoch: Epoch, inner: bytes, nonce: bytes | None = None) -> bytes:
    """``nonce || SecretBox(padded inner)`` under the epoch's seal key."""
    bucket = bucket_for(len(inner))
    padded = struct.pack(">H", len(inner)) + inner + bytes(bucket - 2 - len(inner))
    box = SecretBox(epoch.seal_key)
    sealed = box.encrypt(padded, nonce or os.urandom(NONCE_BYTES))
    return bytes(sealed)


def open_sealed(epoch: Epoch, sealed: bytes) -> bytes:
    """The inner bytes; GroupError if the payload was not sealed under this epoch's key, was
    tampered with, or is not padded as it must be."""
    if len(sealed) < SEALED_OVERHEAD + 2:
        raise GroupError(f"sealed payload of {len(sealed)} bytes is too short")
    try:
        padded = SecretBox(epoch.seal_key).decrypt(sealed)
    except CryptoError as exc:
        raise GroupError("the sealed payload does not open with this group's key") from exc
    if len(padded) not in BUCKETS:
        raise GroupError(f"padded payload of {len(padded)} bytes is not a size bucket")
    (length,) = struct.unpack(">H", padded[:2])
    if length > len(padded) - 2 or any(padded[2 + length :]):
        raise GroupError("the padding of the sealed payload is malformed")
    return padded[2 : 2 + length]


# -- invite codes ------------------------------------------------------------------------------

INVITE_PREFIX = "stig-group1-"
_BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_INVITE_VERSION = 1
_INVITE_LAYOUT = ">BI32s"  # version, day, chain key
_CHECK_BYTES = 4


def invite_code(chain: bytes, day: int) -> str:
    """A short text code carrying the chain key of ``day``: anyone holding it is in the group.

    ``stig-group1-`` then base32 (lower case, no padding) of ``version || day (u32-BE) ||
    chain key || first 4 bytes of BLAKE2b-256 of the former`` — the check catches typing
    errors, not forgeries (there is nothing to forge: the code *is* the secret).
    """
    body = struct.pack(_INVITE_LAYOUT, _INVITE_VERSION, day, chain)
    check = hashlib.blake2b(body, digest_size=32).digest()[:_CHECK_BYTES]
    text = base64.b32encode(body + check).decode("ascii").rstrip("=").lower()
    return INVITE_PREFIX + text


def read_invite(code: str) -> tuple[bytes, int]:
    """(chain key, day) from an invite code; GroupError saying what is wrong with it."""
    text = "".join(code.split()).lower()
    if not text.startswith(INVITE_PREFIX):
        raise GroupError(f"an invite code starts with {INVITE_PREFIX!r}; this one does not")
    data = text.removeprefix(INVITE_PREFIX).upper()
    if any(c not in _BASE32 for c in data):
        raise GroupError("the invite code has characters that cannot be in one")
    size = struct.calcsize(_INVITE_LAYOUT)
    # Checked before decoding: a code cut at most lengths is not base32 at all, and saying
    # "cut short" is what helps the person who copied half of it.
    whole = -(-(size + _CHECK_BYTES) * 8 // 5)  # base32 characters, no padding
    if len(data) < whole:
        raise GroupError(
            f"the invite code is cut short ({len(data)} of its {whole} characters after "
            f"{INVITE_PREFIX!r}); copy it again, whole"
        )
    if len(data) > whole:
        raise GroupError(
            f"the invite code is too long ({len(data)} characters after {INVITE_PREFIX!r}, "
            f"not {whole}); copy it again, alone"
        )
    try:
        raw = base64.b32decode(data + "=" * (-len(data) % 8))
    except ValueError as exc:
        raise GroupError("the invite code has characters that cannot be in one") from exc
    body, check = raw[:size], raw[size:]
    if hashlib.blake2b(body, digest_size=32).digest()[:_CHECK_BYTES] != check:
        raise GroupError("the invite code is damaged (its check does not match); copy it again")
    version, day, chain = struct.unpack(_INVITE_LAYOUT, body)
    if version != _INVITE_VERSION:
        raise GroupError(f"invite code version {version} is not known to this stig")
    return chain, day
