"""Sealed traces: seal and open throughput against bare SecretBox, measured in one run.

    python benchmarks/seal.py [--n 2000] [--repeat 5] [--json]

For each padding bucket (stig.crypto.group.BUCKETS), one signed inner trace whose encoded size
fills that bucket (the largest that fits, so the padding is as small as it gets):

1. LIMIT: bare PyNaCl ``SecretBox.encrypt`` / ``decrypt`` of the same padded bytes (one box
   made beforehand, a fresh random 24-byte nonce from os.urandom per message, as seal draws
   one) — the physical limit of the symmetric part.
2. SEAL / OPEN: ``stig.crypto.group.seal`` / ``open_sealed`` of the inner trace's bytes (pad,
   box, and on opening the padding checks).
3. FULL: ``stig.crdt.sealed.seal_trace`` (encode the inner trace, seal, a one-time Ed25519 key
   made from a random seed, the envelope composed and signed) and ``open_envelope`` (base64,
   open, then the inner trace validated as if it came from the network: decode, canonical
   check, bounds, signature, times). What a member pays per trace beyond the store.

Every case runs --n operations per repeat; the cases are interleaved --repeat times and the best
repeat of each counts (the machine may be shared). MB/s counts the padded bytes (the bucket),
so all rows of one bucket are comparable. Ratios: stig / limit, as throughputs (1 = as fast).

With --json the last line is ``{"buckets": {bucket: {case: per_s}}}``.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nacl.secret import SecretBox
from nacl.signing import SigningKey

from stig.crdt.codec import encode
from stig.crdt.compose import compose
from stig.crdt.sealed import open_envelope, seal_trace
from stig.crdt.trace import Trace
from stig.crypto.group import BUCKETS, Epoch, day_of, open_sealed, seal
from stig.crypto.persona import Persona

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import print_json, print_machine, print_table

NOW = 1_795_000_000  # 2026-11-18, fixed: the traces stay valid whatever the clock says
TTL = 3 * 86400
CASES = ("bare encrypt", "seal", "seal_trace", "bare decrypt", "open_sealed", "open_envelope")
SIGNING = ("keygen+sign", "verify")
"""Bare Ed25519 on the inner trace's bytes, for the table of what the full path adds: a
one-time key made from a fresh seed and one signature (seal_trace), one verification
(open_envelope)."""


def filling(author: Persona, bucket: int) -> Trace:
    """The signed note with the longest body whose encoding still fits ``bucket``."""
    low, high = 0, bucket
    best = compose(author, "note", "x", now=NOW, ttl=TTL)
    while low <= high:
        size = (low + high) // 2
        trace = compose(author, "note", "x" * max(size, 1), now=NOW, ttl=TTL)
        if len(trace.encoded) + 2 <= bucket:
            best, low = trace, size + 1
        else:
            high = size - 1
    return best


def timed(call: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return time.perf_counter() - start


def cases(epoch: Epoch, inner: Trace, bucket: int) -> dict[str, Callable[[], Any]]:
    raw = encode(inner)
    padded = struct.pack(">H", len(raw)) + raw + bytes(bucket - 2 - len(raw))
    box = SecretBox(epoch.seal_key)
    boxed = bytes(box.encrypt(padded, os.urandom(24)))
    sealed = seal(epoch, raw)
    envelope = seal_trace(inner, epoch, NOW)
    by_tag = {epoch.tag_text: epoch}
    assert open_sealed(epoch, sealed) == raw
    assert open_envelope(envelope, by_tag, NOW) == inner
    assert len(boxed) == len(sealed)
    signing_key = SigningKey(os.urandom(32))
    signed = signing_key.sign(raw)
    verify_key = signing_key.verify_key
    return {
        "keygen+sign": lambda: SigningKey(os.urandom(32)).sign(raw),
        "verify": lambda: verify_key.verify(signed),
        "bare encrypt": lambda: box.encrypt(padded, os.urandom(24)),
        "seal": lambda: seal(epoch, raw),
        "seal_trace": lambda: seal_trace(inner, epoch, NOW),
        "bare decrypt": lambda: box.decrypt(boxed),
        "open_sealed": lambda: open_sealed(epoch, sealed),
        "open_envelope": lambda: open_envelope(envelope, by_tag, NOW),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="operations per case per repeat")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    print_machine()

    author = Persona("bench", bytes(range(32)))
    epoch = Epoch.of(os.urandom(32), day_of(NOW + TTL))
    results: dict[int, dict[str, float]] = {}
    sizes: dict[int, int] = {}
    for bucket in BUCKETS:
        inner = filling(author, bucket)
        sizes[bucket] = len(inner.encoded)
        run = cases(epoch, inner, bucket)
        best = dict.fromkeys(CASES + SIGNING, float("inf"))
        for _ in range(args.repeat):
            for name in CASES + SIGNING:
                best[name] = min(best[name], timed(run[name], args.n))
        results[bucket] = {name: args.n / best[name] for name in CASES + SIGNING}

    rows = []
    for bucket, per_s in results.items():
        for name in CASES:
            rate = per_s[name]
            limit = per_s["bare encrypt" if name in CASES[:3] else "bare decrypt"]
            rows.append(
                (
                    f"{bucket} ({sizes[bucket]})",
                    name,
                    rate,
                    rate * bucket / 1e6,
                    1e6 / rate,
                    rate / limit,
                )
            )
    print_table(
        f"Seal and open, best of {args.repeat} x {args.n} (bucket: padded bytes; "
        "in brackets the inner trace's encoded size)",
        ("bucket (inner)", "case", "traces/s", "MB/s", "us each", "x limit"),
        rows,
    )
    extra = [
        (
            bucket,
            1e6 / per_s["seal_trace"] - 1e6 / per_s["seal"],
            1e6 / per_s["keygen+sign"],
            1e6 / per_s["open_envelope"] - 1e6 / per_s["open_sealed"],
            1e6 / per_s["verify"],
        )
        for bucket, per_s in results.items()
    ]
    print_table(
        "What the full path adds to the symmetric part, beside bare Ed25519 (us per trace)",
        ("bucket", "seal_trace - seal", "keygen+sign", "open_envelope - open_sealed", "verify"),
        extra,
    )
    if args.json:
        print_json({"buckets": {str(b): r for b, r in results.items()}})


if __name__ == "__main__":
    main()
