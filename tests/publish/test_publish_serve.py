"""The read-only server in process: what it refuses to show, and how --listen is read."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stig.errors import UsageError
from stig.publish.serve import make_server, parse_listen
from tests.publish.serving import fetch


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    site = tmp_path / "site"
    (site / "t").mkdir(parents=True)
    (site / "index.html").write_text("<!DOCTYPE html><title>i</title>")
    (site / "404.html").write_text("gone: faded")
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web")
    (site / "t" / "leak.html").symlink_to(secret)
    server = make_server(site, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_only_the_site_is_served(base: str) -> None:
    assert fetch(base)[0] == 200
    status, _, body = fetch(f"{base}t/leak.html")  # a link pointing out of the directory
    assert status == 404 and b"not for the web" not in body
    assert fetch(f"{base}t/")[0] == 404  # no listings
    assert fetch(f"{base}t")[0] in (301, 404)


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen("8080") == ("127.0.0.1", 8080)
    assert parse_listen("[::1]:0") == ("::1", 0)
    for bad in ("127.0.0.1:http", "127.0.0.1:70000", ""):
        with pytest.raises(UsageError, match="HOST:PORT"):
            parse_listen(bad)
