"""Proof of work: a cost a sender can pay to make a trace harder to flood.

The work of some bytes is the number of leading zero bits of
``BLAKE2b-256(POW_CONTEXT || bytes)`` read as a big-endian number. The context string keeps this
hash apart from every other BLAKE2b use in stig (trace ids are also BLAKE2b-256), so a trace id
with many leading zeros says nothing about its work and vice versa.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Final

POW_CONTEXT: Final = b"stig/pow/v1"
MAX_POW_BITS: Final = 32
_DIGEST_BYTES: Final = 32
_DIGEST_BITS: Final = 8 * _DIGEST_BYTES

# Hashing the context once and copying the state skips re-absorbing it for every nonce.
_CONTEXT_STATE: Final = hashlib.blake2b(POW_CONTEXT, digest_size=_DIGEST_BYTES)


def work_bits(data: bytes) -> int:
    """Leading zero bits of ``BLAKE2b-256(POW_CONTEXT + data)``, 0..256."""
    state = _CONTEXT_STATE.copy()
    state.update(data)
    return _DIGEST_BITS - int.from_bytes(state.digest(), "big").bit_length()


def mint(payload: Callable[[int], bytes], bits: int, start: int = 0) -> int:
    """The smallest nonce ``>= start`` for which ``work_bits(payload(nonce)) >= bits``.

    ``payload`` builds the bytes the work is measured over for a candidate nonce (typically the
    trace encoded with that nonce). Expect about ``2**bits`` calls; ``bits`` is capped at
    ``MAX_POW_BITS`` because beyond that minting takes hours in Python.
    """
    if not 0 <= bits <= MAX_POW_BITS:
        raise ValueError(f"proof-of-work bits must be in 0..{MAX_POW_BITS}, not {bits}")
    if start < 0:
        raise ValueError(f"a proof-of-work nonce cannot be negative, not {start}")
    # "at least `bits` leading zeros" is "digest < 2**(256 - bits)": one int comparison per try.
    bound = 1 << (_DIGEST_BITS - bits)
    copy_state = _CONTEXT_STATE.copy
    from_bytes = int.from_bytes
    nonce = start
    while True:
        state = copy_state()
        state.update(payload(nonce))
        if from_bytes(state.digest(), "big") < bound:
            return nonce
        nonce += 1
