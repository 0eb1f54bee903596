"""The affinity groups this device is in: one folder per group, named locally.

    groups/<name>/key.json   {"format": "stig-group/1", "day": D, "chain": hex} — mode 0600
    groups/<name>/store.db   the group's traces as read here (a store of its own, never synced)
    groups/<name>/cursor     how far into the public store envelopes were looked at

The name never leaves this device. The key file holds only today's chain key (stig.crypto.group):
every time a group is used on a later day, the key is moved forward and the old file is
overwritten with zeros before the new one takes its place, so a day's key is gone once the day
is past. There is no list of members anywhere: the key is membership.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from stig.crypto.group import (
    KEY_BYTES,
    Epoch,
    advance,
    epochs,
    invite_code,
    read_invite,
)
from stig.crypto.persona import valid_persona_name
from stig.errors import StigError, UsageError
from stig.node.keyring import fsync_directory, shred, write_all

FORMAT = "stig-group/1"
KEY_FILE = "key.json"
STORE_FILE = "store.db"
CURSOR_FILE = "cursor"
WINDOW_DAYS = 31
"""Days ahead whose keys a member derives to open envelopes: every live trace expires within
MAX_TTL (30 days), so within this many days of today."""
INVITE_GRACE_DAYS = 1
"""An invite may carry tomorrow's day (the inviter's clock is ahead, or past midnight UTC)."""


class Groups:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def names(self) -> list[str]:
        try:
            entries = sorted(self.directory.iterdir())
        except FileNotFoundError:
            return []
        return [e.name for e in entries if (e / KEY_FILE).exists() and valid_persona_name(e.name)]

    def path(self, name: str) -> Path:
        return self.directory / name

    def store_path(self, name: str) -> Path:
        return self._existing(name) / STORE_FILE

    # -- membership ---------------------------------------------------------------------------

    def new(self, name: str, today: int) -> None:
        """A new group with a fresh secret: share it with `invite`."""
        self._create(name, os.urandom(KEY_BYTES), today)

    def join(self, name: str, code: str, today: int) -> None:
        chain, day = read_invite(code)
        if day > today + INVITE_GRACE_DAYS:
            raise UsageError(
                f"this invite is for day {day}, and today is day {today} here: check this "
                "device's clock, or ask for a new invite"
            )
        start = max(today, day)
        chain = advance(chain, start - day)
        for other in self.names():
            mine, mine_day = self.chain(other, start)
            if mine_day == start and mine == chain:
                raise UsageError(f"this device is in that group already, as {other!r}")
        self._create(name, chain, start)

    def fork(self, name: str, today: int) -> str:
        """A new secret for ``name`` (its traces read so far stay): the invite code for it.
        Whoever gets the new code is in the fork; the old secret no longer reads what is posted
        here from now on."""
        path = self._existing(name)
        self._write(path, os.urandom(KEY_BYTES), today)
        return self.invite(name, today)

    def leave(self, name: str) -> None:
        """Forget the group: its key (overwritten first), its store, its cursor."""
        path = self._existing(name)
        shred(path / KEY_FILE)
        for leftover in path.iterdir():
            if leftover.is_file():
                shred(leftover)
        shutil.rmtree(path, ignore_errors=True)
        fsync_directory(self.directory)

    def erase(self) -> None:
        """Every group (``stig wipe``)."""
        for name in self.names():
            self.leave(name)
        with contextlib.suppress(OSError):
            self.directory.rmdir()

    # -- keys ---------------------------------------------------------------------------------

    def chain(self, name: str, today: int) -> tuple[bytes, int]:
        """The chain key of ``name`` and its day: today's, moving the stored key forward (and
        erasing the old one); a key from an invite dated tomorrow stays tomorrow's."""
        path = self._existing(name)
        chain, day = self._read(name)
        if day < today:
            chain = advance(chain, today - day)
            self._write(path, chain, today)
            day = today
        return chain, day

    def invite(self, name: str, today: int) -> str:
        return invite_code(*self.chain(name, today))

    def epochs_of(self, name: str, today: int) -> dict[str, Epoch]:
        """The epochs of group ``name`` for today and the days a live trace can still expire
        on, by tag: what a member needs to recognise and open envelopes."""
        chain, day = self.chain(name, today)
        return {epoch.tag_text: epoch for epoch in epochs(chain, day, WINDOW_DAYS)}

    def epoch(self, name: str, day: int, today: int) -> Epoch:
        """The keys of ``name`` for ``day`` (today or later)."""
        chain, first = self.chain(name, today)
        if day < first:
            raise UsageError("that day has passed for this group: its key is gone")
        return Epoch.of(advance(chain, day - first), day)

    # -- the catch-up cursor -----------------------------------------------------------------

    def cursor(self, name: str) -> int:
        try:
            return int((self._existing(name) / CURSOR_FILE).read_text(encoding="ascii"))
        except (FileNotFoundError, ValueError):
            return 0

    def set_cursor(self, name: str, cursor: int) -> None:
        path = self._existing(name) / CURSOR_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(str(cursor), encoding="ascii")
        tmp.replace(path)

    # -- files --------------------------------------------------------------------------------

    def _existing(self, name: str) -> Path:
        path = self.path(name)
        if not valid_persona_name(name) or not (path / KEY_FILE).exists():
            known = ", ".join(self.names()) or "none yet"
            raise UsageError(
                f"no group named {name!r} on this device (groups: {known}); "
                "`stig group new NAME` or `stig group join CODE` makes one"
            )
        return path

    def _create(self, name: str, chain: bytes, today: int) -> None:
        if not valid_persona_name(name):
            raise UsageError(
                f"{name!r} is not a valid group name: use 1 to 32 characters of a-z, 0-9, _ "
                "and -, starting with a letter or digit (the name stays on this device)"
            )
        path = self.path(name)
        if (path / KEY_FILE).exists():
            raise UsageError(f"a group named {name!r} exists already; `stig group list`")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
        self._write(path, chain, today)

    def _read(self, name: str) -> tuple[bytes, int]:
        path = self.path(name) / KEY_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            chain = bytes.fromhex(data["chain"])
            day = int(data["day"])
            if data.get("format") != FORMAT or len(chain) != KEY_BYTES or day < 0:
                raise ValueError("not a group key file")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StigError(f"the group key file {path} is damaged or unreadable: {exc}") from exc
        return chain, day

    def _write(self, path: Path, chain: bytes, day: int) -> None:
        """Replace the key file, then zero the old one: at every moment one whole key file is
        in place, so a crash loses nothing, and the old key does not outlive the call."""
        data = json.dumps({"format": FORMAT, "day": day, "chain": chain.hex()}).encode()
        fd, tmp = tempfile.mkstemp(dir=path, prefix=".key-", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        target = path / KEY_FILE
        old = path / ".key-old"
        old.unlink(missing_ok=True)
        if target.exists():
            os.link(target, old)
        os.replace(tmp, target)
        fsync_directory(path)
        if old.exists():
            shred(old)
