"""Petnames: the names this device gives to authors' keys, kept in the home and nowhere else.

An author is a key (64 hex characters); a person reading the feed knows people, not keys. A
petname is what *this* device calls a key (``stig name 3fa9c1d2e8b0 ana``), in
``<home>/names.json`` (mode 0600, written atomically). It is never sent, synced or published
(no one else learns whom you know, or what you call them), and ``stig wipe`` erases it.

How an author reads (``Petnames.label``): this device's own personas by their persona name,
then a petname, then the key's first hex digits. A name is one word of at most
``MAX_NAME_CHARS`` printable characters; it may not read as something else a person types
where an author is asked for — a key prefix (``AUTHOR_PREFIX_MIN`` or more hex digits), a tag
(``#``) or an option (``-``). One key has at most one name and one name one key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stig.errors import StigError, UsageError
from stig.node.private_file import write_json
from stig.readable import SHORT_ID

MAX_NAME_CHARS = 32
AUTHOR_PREFIX_MIN = 8
"""Hex digits from which a typed author is read as a key prefix (stig.node.local)."""
_HEX = frozenset("0123456789abcdef")


def check_name(name: str) -> str:
    """``name`` if it can be a petname; else a UsageError saying why."""
    if not name or len(name) > MAX_NAME_CHARS:
        raise UsageError(f"a name is 1 to {MAX_NAME_CHARS} characters; {name!r} is not")
    if not name.isprintable() or any(c.isspace() for c in name):
        raise UsageError(f"a name is one word of printable characters; {name!r} is not")
    if name[0] in "#-":
        raise UsageError(f"a name cannot start with {name[0]!r} (it would read as a tag or option)")
    if len(name) >= AUTHOR_PREFIX_MIN and set(name.lower()) <= _HEX:
        raise UsageError(f"{name!r} would read as the start of a key; choose a name with a letter")
    return name


@dataclass(frozen=True)
class Petnames:
    """Names by key; immutable (``named`` and ``unnamed`` give a new one)."""

    by_key: Mapping[bytes, str] = field(default_factory=dict, hash=False)

    def __bool__(self) -> bool:
        return bool(self.by_key)

    def name_of(self, key: bytes) -> str | None:
        return self.by_key.get(key)

    def key_of(self, name: str) -> bytes | None:
        return next((key for key, given in self.by_key.items() if given == name), None)

    def named(self, key: bytes, name: str) -> Petnames:
        """``key`` called ``name`` (instead of any name it had); UsageError if another key
        has that name already."""
        holder = self.key_of(check_name(name))
        if holder is not None and holder != key:
            raise UsageError(
                f"{name!r} already names {holder.hex()[:SHORT_ID]}: "
                f"`stig unname {name}` first, or choose another name"
            )
        return Petnames({**self.by_key, key: name})

    def unnamed(self, name: str) -> Petnames:
        key = self.key_of(name)
        if key is None:
            raise UsageError(f"no author is named {name!r} here (`stig name --list` shows them)")
        return Petnames({k: v for k, v in self.by_key.items() if k != key})

    def label(self, key: bytes, own: Mapping[bytes, str] = {}) -> str:
        """How ``key`` reads: an own persona's name, else its petname, else its first hex
        digits."""
        return own.get(key) or self.by_key.get(key) or key.hex()[:SHORT_ID]

    def known(self, key: bytes, own: Mapping[bytes, str] = {}) -> str | None:
        """The name ``key`` has here (an own persona's, or a petname), or None."""
        return own.get(key) or self.by_key.get(key)


def load(path: Path) -> Petnames:
    """The names in ``path``; none if there is no file. A damaged file is an error that says
    how to fix it."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        by_key = {bytes.fromhex(str(key)): check_name(str(name)) for key, name in raw.items()}
    except FileNotFoundError:
        return Petnames()
    except (OSError, ValueError, AttributeError, TypeError, UsageError) as exc:
        raise StigError(
            f"{path} is damaged ({exc}); fix it or delete it (that forgets every name)"
        ) from exc
    if any(len(key) != 32 for key in by_key) or len(set(by_key.values())) != len(by_key):
        raise StigError(f"{path} is damaged (a key that is not 32 bytes, or a name used twice)")
    return Petnames(by_key)


def save(path: Path, names: Petnames) -> None:
    """Write the names atomically, mode 0600 (mkstemp's), sorted by name."""
    data = {key.hex(): name for key, name in sorted(names.by_key.items(), key=lambda kv: kv[1])}
    write_json(path, data)


def update(path: Path, change: Callable[[Petnames], Petnames]) -> Petnames:
    """Load, change and save the names; the new names."""
    changed = change(load(path))
    save(path, changed)
    return changed
