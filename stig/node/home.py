"""A node's home: the data directory and what lives in it.

Layout::

    <home>/              mode 0700
      personas/          key files (stig.node.keyring)
      store.db           the SQLite store (+ -wal, -shm)

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
    def store(self) -> Path:
        return self.root / "store.db"

    @property
    def store_files(self) -> list[Path]:
        return [self.store, self.root / "store.db-wal", self.root / "store.db-shm"]

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
