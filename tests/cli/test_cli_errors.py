"""The real ``stig`` command, run as a subprocess: every mistake a person can make gets one line
on stderr starting with ``stig:`` and exit 1 (a usage error: click's message and exit 2), and
never a traceback. Each check costs a process start, so they are grouped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

_BESIDE = Path(sys.executable).parent / "stig"
STIG = str(_BESIDE) if _BESIDE.exists() else shutil.which("stig")


def stig(
    home: Path, *args: str, stdin: str = "", code: int = 0
) -> subprocess.CompletedProcess[str]:
    """Run ``stig --home HOME ARGS`` with stdin from a pipe (never a terminal) and no STIG_HOME;
    check the exit code and that no traceback leaked out."""
    assert STIG is not None, "the stig console script is not installed"
    clean = {k: v for k, v in os.environ.items() if k not in ("STIG_HOME", "STIG_PASSPHRASE")}
    done = subprocess.run(
        [STIG, "--home", str(home), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
    return done


def fails(home: Path, *args: str, stdin: str = "") -> str:
    """A user error: exit 1, nothing on stdout, one line on stderr starting with ``stig:``."""
    done = stig(home, *args, stdin=stdin, code=1)
    assert done.stdout == ""
    assert done.stderr.startswith("stig: ") and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    stig(root, "init")
    return root


def test_user_errors_are_one_line(home: Path, tmp_path: Path) -> None:
    posted = stig(home, "post", "the only trace here").stdout.strip()
    absent = "0" * 64 if not posted.startswith("0") else "f" * 64
    not_a_bundle = tmp_path / "notes.txt"
    not_a_bundle.write_text("just some notes\n")
    cases = [
        (("show", "zzzzzz"), "is not a trace id"),
        (("show", posted[:5]), "at least its first 6 characters"),
        (("echo", absent), "no trace here starts with"),
        (("post", "too long", "--ttl", "31d"), "ttl_too_long"),
        (("post", "where?", "--place", "u09tv"), "bad_place"),
        (("post", "what?", "-t", "no way!"), "bad_tag"),
        (("post", "who?", "-p", "nobody"), "no persona named 'nobody'"),
        (("post",), "nothing to post: the text is empty"),  # stdin is empty too
        (("feed", "--author", "nobody"), "neither a persona here nor a 64-hex public key"),
        (("import", str(not_a_bundle)), "not a stig bundle"),
    ]
    for args, message in cases:
        assert message in fails(home, *args), args
    for args, message in [
        (("post", "x", "--ttl", "soon"), "Invalid value for '--ttl'"),
        (("feed", "--bogus"), "No such option"),
    ]:
        done = stig(home, *args, code=2)
        assert message in done.stderr and done.stdout == "", args
    assert len(stig(home, "feed").stdout.splitlines()) == 2  # nothing was added on the way

    (home / "store.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    assert "damaged or not a stig store" in fails(home, "post", "hello")


def test_a_missing_home_is_not_created(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    assert f"no stig home at {fresh}; run `stig init` first" in fails(fresh, "feed")
    assert not fresh.exists()
