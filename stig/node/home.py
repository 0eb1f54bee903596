"""A node's home: the data directory and what lives in it.

Layout::

    <home>/              mode 0700
      personas/          key files (stig.node.keyring)
      groups/<name>/     an affinity group: key.json (today's chain key), store.db (what was
                         read in the group), cursor (stig.node.groups)
      store.db           the SQLite store (+ -wal, -shm)
      config.toml        listen addresses, bootstrap peers, relay policy (stig.node.config)
      transport.key      the libp2p identity of this node (not a persona), mode 0600
      addrs              a running node's full multiaddrs, one per line
      control.sock       a running node's control socket (stig peers)
      imported-feeds.json  entries `stig import-feed` already turned into traces (stig.publish)
      mutes.json         what this device chose not to see (stig.node.mute_list)
      names.json         what this device calls authors' keys (stig.node.petnames)
      seen.json          how far the terminal UI was read, per space (stig.tui.unread)

The home is chosen by ``--home DIR``, else ``$STIG_HOME``, else the platform's user data
directory (platformdirs), so several nodes can run side by side on one machine.

The home holds keys and what was read, group traces in the clear among them: nothing in it is
for other users of the machine. A process that opens a home sets its umask to 077 first
(``Home.protect``), so whatever it creates there — SQLite's files, key files, cursors — is
private from the start, and an existing home found readable by others is tightened.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from stig.errors import StigError

HOME_ENV = "STIG_HOME"
_HOME_MODE = 0o700
_FILE_MODE = 0o600
PRIVATE_UMASK = 0o077
"""The umask of a process that opens a home: files 0600, directories 0700."""
_OWN_ENTRIES = frozenset(
    {
        "personas", "groups", "store.db", "store.db-wal", "store.db-shm", "config.toml",
        "transport.key", "addrs", "addrs.tmp", "control.sock", "imported-feeds.json", "mutes.json",
        "names.json", "watches.json", "outbox", "synced", "synced.tmp", "seen.json",
    }
)  # fmt: skip
"""What stig itself keeps in a home: only these are tightened, so that a home pointed at a
directory that also holds other things (``--home ~``) does not change those things' modes."""


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def choose(cls, given: str | os.PathLike[str] | None = None) -> Home:
        chosen = given or os.environ.get(HOME_ENV) or platformdirs.user_data_dir("stig")
        return cls(Path(chosen).expanduser().absolute())

    @property
    def personas(self) -> Path:
        return self.root / "personas"

    @property
    def groups(self) -> Path:
        return self.root / "groups"

    @property
    def store(self) -> Path:
        return self.root / "store.db"

    @property
    def addresses_file(self) -> Path:
        """The running node's full multiaddrs, one per line (``stig addr``)."""
        return self.root / "addrs"

    @property
    def control_socket(self) -> Path:
        return self.root / "control.sock"

    @property
    def config_file(self) -> Path:
        return self.root / "config.toml"

    @property
    def transport_key(self) -> Path:
        """The libp2p identity's seed: a transport key, never a persona (DESIGN.md §1.4)."""
        return self.root / "transport.key"

    @property
    def onion_key(self) -> Path:
        """The seed of this node's onion service key (tor.onion_key = "kept"), 0600."""
        return self.root / "onion.key"

    @property
    def tor_dir(self) -> Path:
        """The data directory of stig's own tor (tor.control = "own"), 0700."""
        return self.root / "tor"

    @property
    def outbox(self) -> Path:
        """Times of this home's posts not yet covered by a sync (stig.node.outbox)."""
        return self.root / "outbox"

    @property
    def synced_file(self) -> Path:
        """When the last completed sync began (stig.node.outbox)."""
        return self.root / "synced"

    @property
    def watches_file(self) -> Path:
        """What this person wants to notice (stig.node.watch_list): never sent anywhere."""
        return self.root / "watches.json"

    @property
    def mutes_file(self) -> Path:
        """What this device chose not to see (stig.node.mute_list): never sent anywhere."""
        return self.root / "mutes.json"

    @property
    def names_file(self) -> Path:
        """What this device calls authors' keys (stig.node.petnames): never sent anywhere."""
        return self.root / "names.json"

    @property
    def seen_file(self) -> Path:
        """How far the terminal UI's person has read each space (stig.tui.unread): never sent."""
        return self.root / "seen.json"

    @property
    def store_files(self) -> list[Path]:
        return [self.store, self.root / "store.db-wal", self.root / "store.db-shm"]

    def transport_seed(self) -> bytes:
        """The seed of this node's libp2p identity, created on first use (mode 0600). Keeping
        it keeps the peer id stable across restarts; it never signs a trace."""
        path = self.transport_key
        try:
            seed = path.read_bytes()
        except FileNotFoundError:
            seed = os.urandom(32)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(seed)
        if len(seed) != 32:
            raise StigError(
                f"{path} is damaged ({len(seed)} bytes, not 32); delete it to get a new peer id"
            )
        return seed

    def exists(self) -> bool:
        return self.store.exists()

    def create(self) -> None:
        try:
            self.root.mkdir(mode=_HOME_MODE, parents=True, exist_ok=True)
            # mkdir keeps the mode of a directory that exists already (made by hand, 0755).
            _tighten(self.root, _HOME_MODE)
        except OSError as exc:
            raise StigError(
                f"cannot create the home directory {self.root}: {exc.strerror}; "
                "choose another with --home DIR"
            ) from exc

    def protect(self) -> bool:
        """Make this process create private files (umask 077), and tighten the home if it is
        one (a store or keys in it) and other users could read or enter it: the root and
        stig's own directories to 0700, stig's files to 0600. True if anything was changed
        (the caller says so, once)."""
        os.umask(PRIVATE_UMASK)
        if not (self.store.exists() or self.personas.is_dir()):
            return False
        changed = False
        try:
            changed |= _tighten(self.root, _HOME_MODE)
            for entry in os.scandir(self.root):
                if entry.name in _OWN_ENTRIES:
                    changed |= _tighten_tree(Path(entry.path))
        except OSError as exc:
            raise StigError(
                f"cannot make the home {self.root} private: {exc.strerror}; "
                f"run `chmod -R go= {self.root}`"
            ) from exc
        return changed


def _tighten(path: Path, mode: int) -> bool:
    """chmod ``path`` to ``mode`` if it grants anything to group or others; symlinks are
    left alone (a chmod would follow them out of the home)."""
    found = path.lstat()
    if stat.S_ISLNK(found.st_mode) or not found.st_mode & 0o077:
        return False
    os.chmod(path, mode)
    return True


def _tighten_tree(path: Path) -> bool:
    if path.is_symlink():
        return False
    if not path.is_dir():
        return _tighten(path, _FILE_MODE)
    changed = _tighten(path, _HOME_MODE)
    for entry in os.scandir(path):
        changed |= _tighten_tree(Path(entry.path))
    return changed
