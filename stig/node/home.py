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

The home is chosen by ``--home DIR``, else ``$STIG_HOME``, else the platform's user data
directory (platformdirs), so several nodes can run side by side on one machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from stig.errors import StigError

HOME_ENV = "STIG_HOME"
_HOME_MODE = 0o700


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
        except OSError as exc:
            raise StigError(
                f"cannot create the home directory {self.root}: {exc.strerror}; "
                "choose another with --home DIR"
            ) from exc
