"""Writing a site into a directory so that a web server never serves half of it.

Every file is written beside its destination under a temporary name and renamed into place
(``os.replace`` is atomic on POSIX): a reader gets the old page or the new one, never a mix.
A file that is unchanged is not touched. Files of the previous render that are not in the new
one — the page of a trace that expired or was retracted — are removed.

The directory's manifest (``.stig-site.json``) lists the files stig wrote there; stig only
ever removes files listed in it, and refuses to take over a directory that holds other files
without one. A lock (``.stig-site.lock``, flock) keeps two processes from publishing into the
same directory at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from stig.errors import UsageError

MANIFEST = ".stig-site.json"
LOCK = ".stig-site.lock"
FILE_MODE = 0o644
"""Published files are for everyone to read: a web server running as another user must."""


@dataclass(frozen=True)
class Written:
    """What one render changed on disk."""

    written: int = 0
    removed: int = 0
    unchanged: int = 0


def is_site_path(path: str) -> bool:
    """A relative POSIX path with no empty, dot-leading or ``..`` part: what a site may hold."""
    if not path or path.startswith("/") or "\\" in path or "\x00" in path:
        return False
    parts = PurePosixPath(path).parts
    return all(part and not part.startswith(".") for part in parts)


class Mirror:
    """A directory that holds a published site. Use as a context manager (it holds the lock)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock: IO[bytes] | None = None
        self._files: set[str] = set()
        self._digests: dict[str, bytes] = {}

    def __enter__(self) -> Mirror:
        self.open()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def open(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            present = {entry.name for entry in self.root.iterdir()} - {LOCK}
        except OSError as exc:
            raise UsageError(f"cannot use {self.root} for the site: {exc.strerror}") from exc
        if present and MANIFEST not in present:
            raise UsageError(
                f"{self.root} holds files stig did not write; publish into an empty or new "
                "directory (stig removes pages that fade, and only ever its own)"
            )
        lock = (self.root / LOCK).open("ab")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            lock.close()
            raise UsageError(
                f"another stig process is publishing into {self.root}; stop it first"
            ) from exc
        try:
            self._files = self._read_manifest()
        except BaseException:
            lock.close()
            raise
        self._lock = lock

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    @property
    def files(self) -> frozenset[str]:
        return frozenset(self._files)

    def write(self, site: Mapping[str, bytes]) -> Written:
        """Make the directory hold exactly ``site`` (among the files stig wrote)."""
        assert self._lock is not None, "open the mirror first"
        for path in site:
            if not is_site_path(path):
                raise ValueError(f"not a site path: {path!r}")
        new = set(site)
        gone = self._files - new
        try:
            if not new <= self._files:
                # Listed before written: a crash midway leaves nothing unaccounted for.
                self._write_manifest(self._files | new)
            written = unchanged = 0
            for path, data in sorted(site.items()):
                if self._unchanged(path, data):
                    unchanged += 1
                    continue
                self._replace(self.root / path, data)
                self._digests[path] = _digest(data)
                written += 1
            for path in sorted(gone):
                with contextlib.suppress(FileNotFoundError):
                    (self.root / path).unlink()
                self._digests.pop(path, None)
            if self._files != new:
                self._write_manifest(new)
        except OSError as exc:
            raise UsageError(
                f"cannot write the site into {self.root}: {exc.strerror or exc}"
            ) from exc
        self._files = new
        return Written(written=written, removed=len(gone), unchanged=unchanged)

    def _unchanged(self, path: str, data: bytes) -> bool:
        target = self.root / path
        known = self._digests.get(path)
        if known is not None:
            return known == _digest(data) and target.is_file()
        try:
            same = target.is_file() and not target.is_symlink() and target.read_bytes() == data
        except OSError:
            return False
        if same:
            self._digests[path] = _digest(data)
        return same

    def _read_manifest(self) -> set[str]:
        path = self.root / MANIFEST
        try:
            listed = json.loads(path.read_text(encoding="utf-8"))["files"]
            if not isinstance(listed, list):
                raise TypeError("files is not a list")
        except FileNotFoundError:
            return set()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(
                f"{path} is damaged ({exc}); delete it, and the directory's old pages by hand"
            ) from exc
        # A tampered manifest must not make stig delete outside the site.
        return {p for p in listed if isinstance(p, str) and is_site_path(p)}

    def _write_manifest(self, files: Iterable[str]) -> None:
        text = json.dumps({"version": 1, "files": sorted(files)}, indent=1) + "\n"
        self._replace(self.root / MANIFEST, text.encode(), durable=True)

    def _replace(self, target: Path, data: bytes, *, durable: bool = False) -> None:
        """Pages are not synced to disk one by one: after a power cut the next render
        rewrites any page that came back wrong (it compares bytes). The manifest is."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=".stig-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fchmod(out.fileno(), FILE_MODE)
                if durable:
                    os.fsync(out.fileno())
            os.replace(name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
            raise


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()
