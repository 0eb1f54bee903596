"""The real ``stig`` command: publish, serve and import-feed, end to end on real files and a
real HTTP server (``stig serve`` as its own process). Finer cases of each piece are tested in
process, beside this file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.running import HEX64, as_json, fails, stig
from tests.publish.pages import atom_ids, check_html, trace_pages
from tests.publish.serving import fetch, served

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
<title>Counter news</title><link>https://news.example.org/</link><description>d</description>
<item><title>Strike at the depot</title><link>https://news.example.org/strike</link>
<guid>https://news.example.org/strike</guid>
<description>&lt;p&gt;Workers &lt;b&gt;walked out&lt;/b&gt; at 6am.&lt;/p&gt;&lt;p&gt;Support
&amp;amp; soup welcome.&lt;/p&gt;</description></item>
<item><title>Court date set</title><link>https://news.example.org/court</link>
<description>The hearing is on Monday.</description></item>
</channel></rss>
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    stig(root, "init")
    return root


def post(home: Path, *args: str) -> str:
    printed = stig(home, *args).stdout.strip()
    assert HEX64.match(printed), printed
    return printed


def test_publish_follows_a_retraction_and_serve_shows_only_the_site(
    home: Path, tmp_path: Path
) -> None:
    callout = post(home, "post", "-k", "callout", "-t", "housing", "Eviction at 7am. <b>Come</b>")
    note = post(home, "post", "-t", "prison", "a letter from prison")
    site = tmp_path / "site"
    done = stig(home, "publish", "--out", str(site), "--title", "Relay & friends")
    assert done.stdout.startswith("published 2 traces into")
    assert trace_pages(site) == {callout, note}
    assert atom_ids((site / "feed.atom").read_bytes()) == {callout, note}
    check_html((site / "index.html").read_bytes())

    with served(site) as base:
        status, headers, body = fetch(base)
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert headers["Content-Security-Policy"].startswith("default-src 'none'")  # no script
        assert b"Eviction at 7am. &lt;b&gt;Come&lt;/b&gt;" in body
        assert b"Relay &amp; friends" in body
        status, headers, _ = fetch(f"{base}feed.atom")
        assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
        assert fetch(base, "HEAD")[0] == 200
        assert fetch(f"{base}t/{callout}.html")[0] == 200

        stig(home, "retract", callout)
        stig(home, "publish", "--out", str(site))
        status, _, body = fetch(f"{base}t/{callout}.html")
        assert status == 404 and b"faded" in body  # gone, with the site's own 404 page
        assert atom_ids(fetch(f"{base}feed.atom")[2]) == {note}
        assert fetch(f"{base}tags/housing.html")[0] == 404

        for hidden in (".stig-site.json", ".stig-site.lock", "t/", "tags/"):
            assert fetch(base + hidden)[0] == 404, hidden
        assert fetch(base + "%2e%2e/%2e%2e/etc/passwd")[0] == 404
        assert fetch(base, "POST")[0] == 501
        assert fetch(base, "DELETE")[0] == 501
    assert trace_pages(site) == {note}


def test_import_feed_from_a_file_then_a_url_creates_no_duplicates(
    home: Path, tmp_path: Path
) -> None:
    stig(home, "id", "new", "relay")
    public = tmp_path / "public"
    public.mkdir()
    feed = public / "news.rss"
    feed.write_text(RSS)
    broken = public / "broken.rss"
    broken.write_text(RSS[: RSS.index("Court date")])  # cut off in the middle

    message = fails(home, "import-feed", str(broken), "-p", "relay")
    assert message.startswith(f"stig: {broken} is not an Atom or RSS feed: ")
    assert "at line" in message
    assert not (home / "imported-feeds.json").exists()

    first = json.loads(
        stig(
            home, "import-feed", str(feed), "-p", "relay", "-t", "News", "--ttl", "3d", "--json"
        ).stdout
    )
    assert len(first["imported"]) == 2 and first["already_imported"] == 0
    items = as_json(home, "feed", "--kind", "report")
    assert sorted(i["id"] for i in items) == sorted(first["imported"])
    strike = next(i for i in items if "Strike" in i["body"])
    assert strike["body"] == (
        "Strike at the depot\n\nWorkers walked out at 6am.\n\nSupport & soup welcome."
        "\n\nhttps://news.example.org/strike"
    )
    assert (strike["tags"], strike["kind"]) == (["news"], "report")
    assert strike["expires"] - strike["created"] == 3 * 86400

    with served(public) as base:  # the same feed, fetched over HTTP this time
        again = stig(home, "import-feed", f"{base}news.rss", "-p", "relay", "-t", "news")
        assert "imported 0 of 2 entries" in again.stdout and "2 imported before" in again.stdout
        assert "cannot fetch" in fails(home, "import-feed", f"{base}missing.rss", "-p", "relay")
    assert len(as_json(home, "feed", "--kind", "report")) == 2


def test_import_feed_of_a_stig_relays_own_feed_says_connect_instead(
    home: Path, tmp_path: Path
) -> None:
    """A relay's Atom feed holds traces (entry ids urn:stig:trace:<id>): re-signing them as
    reports would cut them from their authors; the import refuses and says what to do."""
    post(home, "post", "-k", "callout", "Eviction at 7am")
    site = tmp_path / "site"
    stig(home, "publish", "--out", str(site))
    other = tmp_path / "other"
    stig(other, "init")
    said = fails(other, "import-feed", str(site / "feed.atom"))
    assert "is a stig relay's feed (1 of its entries are stig traces" in said
    assert "this is a stig relay: connect to it instead" in said
    assert as_json(other, "feed") == []
