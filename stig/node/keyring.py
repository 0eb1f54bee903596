"""The personas of one node: a directory of key files.

Layout::

    <dir>/            mode 0700
      <name>.key      one key file per persona (format in stig.crypto.keyfile), mode 0600
      DEFAULT         the name of the default persona, one line

The file name is authoritative: ``ana.key`` must hold persona ``ana``, so a renamed file is
reported rather than silently answering to two names.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Final

from stig.crypto.keyfile import (
    MAX_KEYFILE_BYTES,
    MEMLIMIT_DEFAULT,
    OPSLIMIT_DEFAULT,
    decode_keyfile,
    encode_keyfile,
    keyfile_is_locked,
    keyfile_public_key,
)
from stig.crypto.persona import Persona, check_persona_name, valid_persona_name
from stig.errors import PersonaError, UsageError

KEY_SUFFIX: Final = ".key"
DEFAULT_FILE: Final = "DEFAULT"
_DEFAULT_TMP: Final = "DEFAULT.tmp"
_DIR_MODE: Final = 0o700
_KEY_MODE: Final = 0o600


class Keyring:
    """Create, list, load and erase the personas stored in ``directory``.

    ``opslimit`` and ``memlimit`` are the argon2id costs used for new passphrase-protected
    key files (existing files carry their own); tests lower them to libsodium's minimum.
    """

    def __init__(
        self,
        directory: Path,
        *,
        opslimit: int = OPSLIMIT_DEFAULT,
        memlimit: int = MEMLIMIT_DEFAULT,
    ) -> None:
        self.directory = directory
        self._opslimit = opslimit
        self._memlimit = memlimit

    def names(self) -> list[str]:
        """The names of the stored personas, sorted."""
        try:
            entries = list(self.directory.iterdir())
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise PersonaError(f"cannot list personas in {self.directory}: {exc.strerror}") from exc
        return sorted(
            entry.name.removesuffix(KEY_SUFFIX)
            for entry in entries
            if entry.name.endswith(KEY_SUFFIX)
            and valid_persona_name(entry.name.removesuffix(KEY_SUFFIX))
        )

    def create(self, name: str, passphrase: str | None = None) -> Persona:
        """Generate and store a new persona; the first one becomes the default."""
        check_persona_name(name)
        if self._path(name).exists():
            raise UsageError(f"a persona named {name!r} already exists; `stig id` lists them")
        persona = Persona.generate(name)
        data = encode_keyfile(persona, passphrase, opslimit=self._opslimit, memlimit=self._memlimit)
        self._write(name, data)
        if self.default is None:
            self.set_default(name)
        return persona

    def add(self, name: str, data: bytes) -> None:
        """Store a key file made elsewhere (a persona carried from another device), as it is;
        the caller has opened it (so it is sound). The first persona becomes the default."""
        check_persona_name(name)
        if self._path(name).exists():
            raise UsageError(
                f"a persona named {name!r} already exists here; import it under another name "
                "with --name"
            )
        self._write(name, data)
        if self.default is None:
            self.set_default(name)

    def _write(self, name: str, data: bytes) -> None:
        """Write a new key file, mode 0600 from its creation, never over an existing one."""
        path = self._path(name)
        self._ensure_directory()
        try:
            # O_EXCL so that two concurrent creates cannot overwrite each other's key; the mode
            # is set at creation so the seed is never readable by others, even for an instant.
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, _KEY_MODE)
        except FileExistsError as exc:
            raise UsageError(
                f"a persona named {name!r} already exists; `stig id` lists them"
            ) from exc
        except OSError as exc:
            raise PersonaError(f"cannot write key file {path}: {exc.strerror}") from exc
        try:
            try:
                # The creation mode passes through the umask; the key must end up exactly 0600.
                os.fchmod(fd, _KEY_MODE)
                write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            fsync_directory(self.directory)
        except OSError as exc:
            # A half-written key file would later read as damaged; better to leave nothing.
            with contextlib.suppress(OSError):
                path.unlink()
            raise PersonaError(f"cannot write key file {path}: {exc.strerror}") from exc

    def load(self, name: str | None = None, passphrase: str | None = None) -> Persona:
        """The persona ``name`` (the default one if ``None``), opened with ``passphrase``."""
        name = self._resolve(name)
        return decode_keyfile(self._read(name), passphrase, expect_name=name)

    def public_key(self, name: str) -> bytes:
        """The public key of persona ``name``, without needing its passphrase."""
        return keyfile_public_key(self._read(name), expect_name=name)

    def owners(self) -> dict[bytes, str]:
        """This device's personas by public key: whose a trace is, if it is one of ours."""
        return {self.public_key(name): name for name in self.names()}

    def is_locked(self, name: str) -> bool:
        """True if persona ``name`` is protected by a passphrase."""
        data = self._read(name)
        # Parsing with the expected name reports a renamed file the same way load() would.
        keyfile_public_key(data, expect_name=name)
        return keyfile_is_locked(data)

    @property
    def default(self) -> str | None:
        """The default persona, or ``None`` if unset or its key file is gone."""
        try:
            text = (self.directory / DEFAULT_FILE).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        name = text.strip()
        # A DEFAULT naming a deleted persona counts as unset, so the next persona created
        # takes its place instead of every command failing on a missing file.
        if not valid_persona_name(name) or not self._path(name).is_file():
            return None
        return name

    def set_default(self, name: str) -> None:
        """Make ``name`` the persona used when none is given."""
        if not valid_persona_name(name) or not self._path(name).is_file():
            raise _no_such_persona(name)
        tmp = self.directory / _DEFAULT_TMP
        try:
            # Write-then-rename, so a crash leaves either the old default or the new one.
            with tmp.open("w", encoding="utf-8") as handle:
                handle.write(name + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(self.directory / DEFAULT_FILE)
            fsync_directory(self.directory)
        except OSError as exc:
            raise PersonaError(
                f"cannot record the default persona in {self.directory}: {exc.strerror}"
            ) from exc

    def erase(self) -> None:
        """Overwrite every key file with zeros, delete it, then remove the directory.

        The overwrite defeats undelete tools on ordinary file systems; on SSDs and
        copy-on-write or journalling file systems old blocks may survive, which only full-disk
        encryption addresses.
        """
        try:
            entries = list(self.directory.iterdir())
        except FileNotFoundError:
            return
        except OSError as exc:
            raise PersonaError(
                f"cannot erase personas in {self.directory}: {exc.strerror}"
            ) from exc
        try:
            for entry in entries:
                if entry.name.endswith(KEY_SUFFIX):
                    shred(entry)
            for leftover in (DEFAULT_FILE, _DEFAULT_TMP):
                (self.directory / leftover).unlink(missing_ok=True)
            fsync_directory(self.directory)
        except OSError as exc:
            raise PersonaError(
                f"cannot erase personas in {self.directory}: {exc.strerror}"
            ) from exc
        try:
            self.directory.rmdir()
        except OSError as exc:
            # The keys are gone; files we did not write are not ours to delete.
            raise PersonaError(
                f"key files erased, but {self.directory} still holds other files and was kept"
            ) from exc

    def _path(self, name: str) -> Path:
        return self.directory / f"{name}{KEY_SUFFIX}"

    def _resolve(self, name: str | None) -> str:
        if name is not None:
            return name
        default = self.default
        if default is None:
            if self.names():
                raise PersonaError(
                    "no default persona; choose one with `stig id default NAME` "
                    "(`stig id` lists them)"
                )
            raise PersonaError("no persona yet; create one with `stig id new NAME`")
        return default

    def _read(self, name: str) -> bytes:
        # Invalid names are refused before touching the disk: they could hold path separators.
        if not valid_persona_name(name):
            raise _no_such_persona(name)
        path = self._path(name)
        try:
            with path.open("rb") as handle:
                # One byte over the limit is enough for the decoder to report the file as damaged.
                return handle.read(MAX_KEYFILE_BYTES + 1)
        except FileNotFoundError as exc:
            raise _no_such_persona(name) from exc
        except OSError as exc:
            raise PersonaError(f"cannot read key file {path}: {exc.strerror}") from exc

    def _ensure_directory(self) -> None:
        try:
            self.directory.mkdir(mode=_DIR_MODE, parents=True)
        except FileExistsError:
            return
        except OSError as exc:
            raise PersonaError(f"cannot create {self.directory}: {exc.strerror}") from exc
        # mkdir's mode is filtered by the umask; the keys directory must be private whatever it is.
        try:
            self.directory.chmod(_DIR_MODE)
        except OSError as exc:
            raise PersonaError(f"cannot protect {self.directory}: {exc.strerror}") from exc


def _no_such_persona(name: str) -> PersonaError:
    return PersonaError(f"no persona named {name!r}; `stig id` lists them")


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def fsync_directory(directory: Path) -> None:
    # Without this, a crash after fsync(file) can still lose the directory entry itself.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def shred(path: Path) -> None:
    # O_NOFOLLOW: zeroing through a planted symlink would destroy whatever it points at.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        path.unlink(missing_ok=True)
        return
    try:
        size = os.fstat(fd).st_size
        write_all(fd, bytes(size))
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink()
