"""Personas: the Ed25519 identities that sign traces.

A persona is a 32-byte Ed25519 seed plus a local name. The name only helps the person at the
keyboard pick an identity; it is never encoded into a trace or sent to a peer, so two nodes can
call the same key by different names.
"""

from __future__ import annotations

import hmac
import re
from typing import Final

from nacl.exceptions import CryptoError
from nacl.signing import SigningKey, VerifyKey

from stig.errors import UsageError

SEED_BYTES: Final = 32
PUBLIC_KEY_BYTES: Final = 32
SIGNATURE_BYTES: Final = 64
MAX_PERSONA_NAME: Final = 32

# Names become file names (<name>.key), so the alphabet excludes path separators, dots and
# upper case (case-insensitive file systems would merge "Ana" and "ana").
_NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def valid_persona_name(name: str) -> bool:
    """True if ``name`` is 1..32 characters of ``[a-z0-9_-]`` starting with a letter or digit."""
    return _NAME_RE.fullmatch(name) is not None


def check_persona_name(name: str) -> None:
    """A UsageError saying what a persona name must be, unless ``name`` is one."""
    if not valid_persona_name(name):
        raise UsageError(
            f"{name!r} is not a valid persona name: use 1 to 32 characters of a-z, 0-9, _ "
            "and -, starting with a letter or digit"
        )


class Persona:
    """An Ed25519 signing identity with a local-only name."""

    __slots__ = ("_name", "_public_key", "_signing_key")

    def __init__(self, name: str, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
            raise ValueError(f"a persona seed is exactly {SEED_BYTES} bytes")
        self._name = name
        self._signing_key = SigningKey(seed)
        public_key: bytes = self._signing_key.verify_key.encode()
        self._public_key = public_key

    @classmethod
    def generate(cls, name: str) -> Persona:
        """A new persona from a fresh random seed (the OS CSPRNG, via libsodium)."""
        seed: bytes = SigningKey.generate().encode()
        return cls(name, seed)

    @property
    def name(self) -> str:
        return self._name

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key that appears as the author of traces."""
        return self._public_key

    @property
    def seed(self) -> bytes:
        """The 32-byte secret seed; whoever holds it can sign as this persona."""
        seed: bytes = self._signing_key.encode()
        return seed

    def sign(self, message: bytes) -> bytes:
        """A 64-byte detached Ed25519 signature of ``message``.

        Callers prepend their own context string: this signs exactly the bytes it is given.
        """
        signature: bytes = self._signing_key.sign(message).signature
        return signature

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Persona):
            return NotImplemented
        # Constant time, since a persona equal to a known one except in a seed byte leaks the seed.
        return self._name == other._name and hmac.compare_digest(self.seed, other.seed)

    def __hash__(self) -> int:
        return hash((self._name, self._public_key))

    def __repr__(self) -> str:
        # The seed must never reach logs or tracebacks, so only public parts are shown.
        return f"Persona(name={self._name!r}, public_key={self._public_key.hex()!r})"


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True if ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``.

    Never raises: keys and signatures come from peers, so a wrong length, a key that is not a
    curve point, a small-order key or a forged signature are all just ``False``.
    """
    try:
        if len(public_key) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
            return False
        VerifyKey(bytes(public_key)).verify(bytes(message), bytes(signature))
    except (CryptoError, ValueError, TypeError):
        return False
    return True
