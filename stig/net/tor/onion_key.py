"""An onion service's key: a 32-byte ed25519 seed, and what follows from it.

The v3 onion address is computed here, not learned from tor (Tor's rend-spec-v3 §6, "Encoding
onion addresses"): ``base32(pubkey || checksum || version)``, lowercase, with ``version`` = 3
and ``checksum`` = the first two bytes of ``SHA3-256(".onion checksum" || pubkey || version)``.
So a node knows its own address before tor publishes it, and can listen on (and advertise)
``/onion3/<address>:<port>`` like any other multiaddr. Tor checks it: when we hand it the key,
it answers with the service id it derived, and ``stig.net.tor.control`` refuses a mismatch.

Tor takes the key as ``ED25519-V3:<base64 of the 64-byte expanded secret key>``: SHA-512 of the
seed with the scalar half clamped (tor's ``ed25519_secret_key_from_seed``). We keep the seed,
not the expanded form: 32 bytes, like the transport key (``transport.key``), in a 0600 file.

The seed is the onion's identity. Keeping it keeps the address across restarts (peers and
invites can find the node again); a fresh one per run gives an address that links nothing
between runs (docs/threat-model.md). It is never the transport key and never a persona key:
the three identities are unrelated by construction.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from nacl.signing import SigningKey

from stig.errors import TorError

SEED_BYTES = 32
ADDRESS_CHARS = 56
"""A v3 onion address without ``.onion``: 35 bytes in base32."""

VERSION = b"\x03"
CHECKSUM_PREFIX = b".onion checksum"
ADDRESS_PATTERN = re.compile(r"^[a-z2-7]{56}$")


def address_of(public_key: bytes) -> str:
    """The v3 onion address (without ``.onion``) of an ed25519 public key."""
    if len(public_key) != 32:
        raise ValueError("an ed25519 public key is 32 bytes")
    checksum = hashlib.sha3_256(CHECKSUM_PREFIX + public_key + VERSION).digest()[:2]
    return base64.b32encode(public_key + checksum + VERSION).decode().lower()


def is_onion_address(text: str) -> bool:
    """True for a well-formed v3 address (56 base32 characters, right checksum and version)."""
    if not ADDRESS_PATTERN.match(text):
        return False
    raw = base64.b32decode(text.upper())
    return raw[34:] == VERSION and address_of(raw[:32]) == text


@dataclass(frozen=True)
class OnionKey:
    """The key of one onion service (see the module docstring). ``repr`` hides the seed."""

    seed: bytes

    def __post_init__(self) -> None:
        if len(self.seed) != SEED_BYTES:
            raise ValueError(f"an onion key seed is {SEED_BYTES} bytes")

    def __repr__(self) -> str:
        return f"OnionKey({self.address}.onion)"

    @classmethod
    def generate(cls) -> OnionKey:
        return cls(os.urandom(SEED_BYTES))

    @classmethod
    def load_or_create(cls, path: Path) -> OnionKey:
        """The key kept in ``path`` (created, mode 0600, if absent): a stable address."""
        try:
            seed = path.read_bytes()
        except FileNotFoundError:
            key = cls.generate()
            # O_EXCL: two processes starting on one home must not both write a key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(key.seed)
            return key
        if len(seed) != SEED_BYTES:
            raise TorError(
                "bad_key",
                f"{path} holds {len(seed)} bytes, not an onion key of {SEED_BYTES}: move it "
                "away to get a new key (and a new onion address)",
            )
        return cls(seed)

    @property
    def public_key(self) -> bytes:
        return bytes(SigningKey(self.seed).verify_key)

    @property
    def address(self) -> str:
        """The onion address, 56 characters, without ``.onion``."""
        return address_of(self.public_key)

    def tor_key(self) -> tuple[str, str]:
        """(key type, key blob) as tor's ADD_ONION takes them."""
        expanded = bytearray(hashlib.sha512(self.seed).digest())
        expanded[0] &= 248
        expanded[31] &= 127
        expanded[31] |= 64
        return "ED25519-V3", base64.b64encode(bytes(expanded)).decode()

    def multiaddr(self, port: int) -> str:
        """``/onion3/<address>:<port>``: what a host listens on and advertises."""
        return f"/onion3/{self.address}:{port}"
