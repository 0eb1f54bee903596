"""Synthetic traces for the benchmarks (shared by ingest.py and feed.py; not a benchmark itself).

Every trace is made by ``stig.crdt.compose.compose``, so it is signed and valid exactly as a real
one. The mix aims at a plausible busy mesh, not at any worst case:

* ``authors`` personas, picked at random for each trace;
* kinds: notes, reports, callouts, actions, replies (notes/reports that reference an earlier
  trace), echoes, confirms, disputes, and a few retracts of the author's own earlier traces;
* echoes/confirms/actions go 70 % to a small pool of "hot" traces and 30 % to any earlier
  trace, so heat varies from a single author to dozens of supporters;
* bodies of pseudo-words, ``body_min``..``body_max`` bytes (ASCII, so bytes == characters);
* 0-3 tags from a pool of 30, a place (2-4 character geohash) on 60 % of traces;
* ``created`` rises evenly over ``span`` seconds ending at ``now`` (default 3 days, default TTL
  7 days), so nothing has expired at ``now``.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from stig.crdt import kinds
from stig.crdt.bounds import DAY
from stig.crdt.compose import compose
from stig.crdt.trace import Trace
from stig.crypto.persona import Persona

TAGS = (
    "housing", "j20", "rent", "eviction", "strike", "transit", "water", "heat", "food",
    "clinic", "school", "union", "tenants", "police", "court", "march", "vigil", "repair",
    "bikes", "garden", "library", "childcare", "legal", "shelter", "power", "flood",
    "noise", "market", "rally", "meeting",
)  # fmt: skip

PLACES = (
    "u09t", "u09w", "u0d", "u0dq", "gcpv", "gcpu", "gcq", "u33d", "u33", "sp3e",
    "sp3", "ezjm", "dr5r", "dr5", "9q8y", "9q9", "c23n", "u4pr", "u10", "gbsu",
)  # fmt: skip

SYLLABLES = (
    "ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "ba", "di", "fu", "ga", "ho", "ji",
    "ke", "la", "mo", "nu", "pa", "qui", "ro", "si", "to", "ul", "ve", "wa", "xe", "yo",
    "za", "an", "el", "or", "is", "um", "tra", "ste", "pli", "gro", "ble", "cha",
)  # fmt: skip

HOT_POOL = 200
HOT_SHARE = 0.02  # chance a new listed trace joins the hot pool
OWN_RECENT = 8  # per author, how many own ids are kept as retract candidates

# kind -> weight (per mille); "reply" is a note or report that references an earlier trace.
MIX: tuple[tuple[str, int], ...] = (
    (kinds.NOTE, 350),
    (kinds.REPORT, 170),
    (kinds.CALLOUT, 170),
    (kinds.ACTION, 80),
    ("reply", 100),
    (kinds.ECHO, 100),
    (kinds.CONFIRM, 20),
    (kinds.DISPUTE, 9),
    (kinds.RETRACT, 1),
)


def make_personas(count: int, rng: random.Random) -> list[Persona]:
    return [Persona(f"p{i}", rng.randbytes(32)) for i in range(count)]


def make_corpus(rng: random.Random, chars: int = 1 << 21) -> str:
    """A long text of pseudo-words (a vocabulary of a few thousand), bodies are cut from it."""
    vocabulary = [
        "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(6000)
    ]
    words: list[str] = []
    total = 0
    while total < chars:
        word = rng.choice(vocabulary)
        if rng.random() < 0.06:
            word += rng.choice((".", ",", "!", "?", ".\n"))
        words.append(word)
        total += len(word) + 1
    return " ".join(words)


@dataclass
class TraceGenerator:
    """Yields ``total`` valid traces, oldest first, created evenly over ``span`` before ``now``."""

    total: int
    now: int
    authors: int = 200
    seed: int = 1
    span: int = 3 * DAY
    body_min: int = 900
    body_max: int = 1900
    echo_share: float | None = None  # override the share of echoes (default: MIX)
    rng: random.Random = field(init=False)
    personas: list[Persona] = field(init=False)
    corpus: str = field(init=False)
    _kinds: list[str] = field(init=False)
    _weights: list[int] = field(init=False)
    _listed: list[tuple[bytes, int]] = field(init=False, default_factory=list)
    _hot: deque[tuple[bytes, int]] = field(init=False)
    _own: list[deque[bytes]] = field(init=False)
    made: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.personas = make_personas(self.authors, self.rng)
        self.corpus = make_corpus(self.rng)
        self._kinds = [k for k, _ in MIX]
        self._weights = [w for _, w in MIX]
        if self.echo_share is not None:
            index = self._kinds.index(kinds.ECHO)
            rest = sum(self._weights) - self._weights[index]
            self._weights[index] = round(rest * self.echo_share / (1 - self.echo_share))
        self._hot = deque(maxlen=HOT_POOL)
        self._own = [deque(maxlen=OWN_RECENT) for _ in range(self.authors)]

    def __iter__(self) -> Iterator[Trace]:
        while self.made < self.total:
            yield self.next()

    def batch(self, size: int) -> list[Trace]:
        return [self.next() for _ in range(min(size, self.total - self.made))]

    def next(self) -> Trace:
        rng = self.rng
        created = self.now - self.span + (self.span * self.made) // max(self.total, 1)
        self.made += 1
        kind = rng.choices(self._kinds, self._weights)[0]
        who = rng.randrange(self.authors)
        refs: tuple[bytes, ...] = ()
        if kind == kinds.RETRACT:
            if not self._own[who]:
                kind = kinds.NOTE
            else:
                refs = (self._own[who].popleft(),)
        elif kind in (kinds.ECHO, kinds.CONFIRM, kinds.DISPUTE, "reply") or (
            kind == kinds.ACTION and rng.random() < 0.5
        ):
            if not self._listed:
                kind = kinds.NOTE
            else:
                target, target_author = self._target(kind)
                if target_author == who:
                    who = (who + 1 + rng.randrange(self.authors - 1)) % self.authors
                refs = (target,)
        if kind == "reply":
            kind = rng.choice((kinds.NOTE, kinds.REPORT))
        trace = compose(
            self.personas[who],
            kind,
            self._body(),
            now=created,
            tags=rng.sample(TAGS, rng.choice((0, 1, 1, 2, 2, 3))),
            place=rng.choice(PLACES) if rng.random() < 0.6 else "",
            refs=refs,
        )
        if kind not in kinds.META_KINDS:
            self._listed.append((trace.id, who))
            self._own[who].append(trace.id)
            if rng.random() < HOT_SHARE:
                self._hot.append((trace.id, who))
        return trace

    def _target(self, kind: str) -> tuple[bytes, int]:
        supports = kind in kinds.SUPPORT_KINDS
        if supports and self._hot and self.rng.random() < 0.7:
            return self.rng.choice(self._hot)
        return self.rng.choice(self._listed)

    def _body(self) -> str:
        size = self.rng.randint(self.body_min, self.body_max)
        start = self.rng.randrange(len(self.corpus) - size - 64)
        start = self.corpus.index(" ", start) + 1
        return self.corpus[start : start + size].strip()
