"""A read-only HTTP server for a published site, for a LAN or a local preview (stdlib
``http.server``; put nginx or another hardened server in front for the open internet).

GET and HEAD only; no directory listings; nothing whose path has a part starting with "."
(the manifest, the lock, files being written); nothing that resolves outside the directory.
Pages carry a Content-Security-Policy that allows no script at all. Requests are not logged
unless asked: readers' addresses are not the relay's business.
"""

from __future__ import annotations

import io
import os
import socket
import sys
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from stig.errors import UsageError
from stig.publish.site import NOT_FOUND

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class SiteHandler(SimpleHTTPRequestHandler):
    server_version = "stig-serve"
    extensions_map = {  # noqa: RUF012 - the stdlib's class attribute, overridden
        **SimpleHTTPRequestHandler.extensions_map,
        ".html": "text/html; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".atom": "application/atom+xml; charset=utf-8",
        ".json": "application/json",
    }

    def __init__(self, *args: Any, directory: str, verbose: bool = False, **kwargs: Any) -> None:
        self.verbose = verbose
        super().__init__(*args, directory=directory, **kwargs)

    def send_head(self) -> Any:
        path = unquote(urlsplit(self.path).path)
        if any(part.startswith(".") for part in path.split("/") if part):
            return self._not_found()
        resolved = Path(self.translate_path(self.path)).resolve()
        root = Path(self.directory).resolve()
        if resolved != root and root not in resolved.parents:
            return self._not_found()
        return super().send_head()

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self._not_found()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        if code == HTTPStatus.NOT_FOUND:
            self._not_found()
            return
        super().send_error(code, message, explain)

    def _not_found(self) -> io.BytesIO | None:
        page = Path(self.directory) / NOT_FOUND
        try:
            body = page.read_bytes()
        except OSError:
            body = b"Not found\n"
        self.send_response(HTTPStatus.NOT_FOUND)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return None

    def version_string(self) -> str:
        return self.server_version

    def end_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        if self.verbose:
            sys.stderr.write(f"{self.log_date_time_string()} {format % args}\n")


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6), or just ``PORT`` on 127.0.0.1."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"{text!r} is not HOST:PORT; write e.g. 127.0.0.1:8080 (port 0: any)")
    return host, int(port)


def make_server(root: Path, host: str, port: int, verbose: bool = False) -> ThreadingHTTPServer:
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory; publish a site first (stig publish --out)")
    handler = partial(SiteHandler, directory=str(root), verbose=verbose)
    server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
    try:
        return server_class((host, port), handler)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
