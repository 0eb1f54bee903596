"""Running the real ``stig`` command in the CLI tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

_BESIDE = Path(sys.executable).parent / "stig"
STIG = str(_BESIDE) if _BESIDE.exists() else shutil.which("stig")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def stig(
    home: Path, *args: str, stdin: str = "", code: int = 0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``stig --home HOME ARGS`` with stdin from a pipe (never a terminal), no STIG_HOME
    and no STIG_PASSPHRASE unless ``env`` sets them; check the exit code and that no traceback
    leaked out."""
    return stig_as_typed("--home", str(home), *args, stdin=stdin, code=code, env=env)


def stig_as_typed(
    *args: str, stdin: str = "", code: int = 0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``stig ARGS`` exactly as given (``--home`` wherever the test puts it), with the same
    environment and checks as ``stig``."""
    assert STIG is not None, "the stig console script is not installed"
    clean = {k: v for k, v in os.environ.items() if k not in ("STIG_HOME", "STIG_PASSPHRASE")}
    done = subprocess.run(
        [STIG, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
    return done


def fails(home: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> str:
    """A user error: exit 1, nothing on stdout, one line on stderr starting with ``stig:``."""
    done = stig(home, *args, stdin=stdin, code=1, env=env)
    assert done.stdout == ""
    assert done.stderr.startswith("stig: ") and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


def as_json(home: Path, *args: str) -> Any:
    return json.loads(stig(home, *args, "--json").stdout)
