"""Writing a site into a directory: atomic replacement, unchanged files untouched, stale
files removed, and nothing removed that stig did not write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stig.errors import UsageError
from stig.publish.mirror import LOCK, MANIFEST, Mirror, is_site_path
from tests.publish.pages import leftovers


def test_writes_replace_and_remove_only_its_own_files(tmp_path: Path) -> None:
    site = tmp_path / "site"
    with Mirror(site) as mirror:
        first = mirror.write({"index.html": b"one", "t/a.html": b"a", "t/b.html": b"b"})
        assert (first.written, first.removed) == (3, 0)
        kept = (site / "t" / "a.html").stat()
        (site / "t" / "mine.txt").write_text("the operator's own note")

        second = mirror.write({"index.html": b"two", "t/a.html": b"a"})
        assert (second.written, second.removed, second.unchanged) == (1, 1, 1)
        assert (site / "index.html").read_bytes() == b"two"
        assert not (site / "t" / "b.html").exists()
        assert (site / "t" / "mine.txt").exists()  # never listed, never removed
        again = (site / "t" / "a.html").stat()
        assert (again.st_ino, again.st_mtime_ns) == (kept.st_ino, kept.st_mtime_ns)
        assert oct((site / "index.html").stat().st_mode & 0o777) == oct(0o644)
    listed = json.loads((site / MANIFEST).read_text())["files"]
    assert listed == ["index.html", "t/a.html"]
    assert leftovers(site) == []


def test_a_second_run_takes_over_its_own_site_only(tmp_path: Path) -> None:
    site = tmp_path / "site"
    with Mirror(site) as mirror:
        mirror.write({"index.html": b"x", "t/old.html": b"old"})
    with Mirror(site) as mirror:  # a later run (another process) removes the old page
        assert mirror.write({"index.html": b"x"}).removed == 1
    assert not (site / "t" / "old.html").exists()

    foreign = tmp_path / "home-dir"
    foreign.mkdir()
    (foreign / "thesis.odt").write_text("years of work")
    with pytest.raises(UsageError, match="did not write"):
        Mirror(foreign).open()
    assert (foreign / "thesis.odt").exists()


def test_a_tampered_manifest_cannot_delete_outside_the_site(tmp_path: Path) -> None:
    site = tmp_path / "site"
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    with Mirror(site) as mirror:
        mirror.write({"index.html": b"x"})
    (site / MANIFEST).write_text(
        json.dumps({"files": ["../precious.txt", "/etc/hostname", "index.html", ".ssh"]})
    )
    with Mirror(site) as mirror:
        assert mirror.files == {"index.html"}
        mirror.write({"feed.atom": b"y"})
    assert precious.read_text() == "keep me"
    (site / MANIFEST).write_text("{not json")
    with pytest.raises(UsageError, match="damaged"):
        Mirror(site).open()


def test_one_publisher_per_directory(tmp_path: Path) -> None:
    site = tmp_path / "site"
    with Mirror(site), pytest.raises(UsageError, match="another stig process"):
        Mirror(site).open()
    with Mirror(site):  # released when the first one closed
        pass
    assert (site / LOCK).exists()


def test_site_paths() -> None:
    assert is_site_path("t/abc.html") and is_site_path("tags/_c3a9.atom")
    for bad in ("", "/etc/passwd", "../x", "t/../../x", ".stig-site.json", "t/.hidden", "a\\b"):
        assert not is_site_path(bad), bad


def test_a_failed_write_is_one_clear_error_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    site = tmp_path / "site"
    with Mirror(site) as mirror:
        mirror.write({"index.html": b"old"})
        (site / "t" / "a.html").mkdir(parents=True)  # something in the way of the new page
        with pytest.raises(UsageError, match="cannot write the site"):
            mirror.write({"index.html": b"new", "t/a.html": b"page"})
        assert leftovers(site) == []
        assert (site / "index.html").read_bytes() in (b"old", b"new")  # whole, either way
