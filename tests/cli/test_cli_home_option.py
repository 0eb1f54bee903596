"""``--home DIR`` after the command (``stig feed --home X``) means what it means before it, so
``make run ARGS="--home X"`` (which runs ``stig tui --home X``) opens that home."""

from __future__ import annotations

from pathlib import Path

from tests.cli.running import HEX64, stig, stig_as_typed


def test_home_after_the_command_is_the_same_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    stig_as_typed("init", "--home", str(home))
    posted = stig_as_typed("post", "left after the command", "--home", str(home)).stdout.strip()
    assert HEX64.match(posted)
    assert "left after the command" in stig(home, "feed").stdout  # the root option sees it
    assert "left after the command" in stig_as_typed("feed", "--home", str(home)).stdout
    # a command of a command group takes it too
    stig_as_typed("group", "new", "crew", "--home", str(home))
    assert stig_as_typed("group", "list", "--home", str(home)).stdout == "crew\n"


def test_the_same_home_twice_is_fine_two_homes_are_refused(tmp_path: Path) -> None:
    home, other = tmp_path / "home", tmp_path / "other"
    stig(home, "init")
    assert stig(home, "feed", "--home", str(home)).stdout.startswith("nothing alive here yet")
    done = stig(home, "feed", "--home", str(other), code=1)
    assert done.stdout == ""
    assert done.stderr == f"stig: --home is given twice ({home} and {other}): give it once\n"
    assert not other.exists()


def test_tui_takes_home_after_the_command(tmp_path: Path) -> None:
    """What `make run ARGS="--home X"` runs; without a terminal it stops before creating X."""
    home = tmp_path / "home"
    done = stig_as_typed("tui", "--home", str(home), code=1)
    assert "needs a terminal" in done.stderr and "No such option" not in done.stderr
    assert "--home" in stig_as_typed("tui", "--help").stdout
    assert not home.exists()
