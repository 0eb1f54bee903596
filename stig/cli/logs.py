"""How a running node logs (``stig node``, ``stig relay``): one record a line on stderr, with a
UTC timestamp, the level and the logger's name — as text, or as one JSON object a line for log
shippers (``--log-format json``; docs/relay.md, "Logs").

stig's own loggers (``stig.*``) log at INFO (DEBUG with ``--verbose``); every other library —
py-libp2p and its dependencies above all — goes through the same handler at WARNING (INFO with
``--verbose``), so nothing reaches stderr unformatted. Python warnings are logged too.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")


def _when(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class TextFormat(logging.Formatter):
    """``2026-12-07T10:00:00.123Z INFO stig.node: message`` (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_when(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormat(logging.Formatter):
    """``{"time": …, "level": …, "logger": …, "message": …}`` on one line; ``exception``
    holds a traceback, if any (newlines escaped: one record stays one line)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _when(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class LibraryFloor(logging.Filter):
    """Lets a py-libp2p record (logger ``libp2p`` or below it) through only at ``level`` and up.
    The level of the ``libp2p`` logger alone is not enough: some of its modules set their own
    (``libp2p.network.auto_connector`` sets INFO when imported, and said "initiating 200 new
    dials" every 10 s on a quiet node)."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        library = name == "libp2p" or name.startswith("libp2p.")
        return not library or record.levelno >= self.level


def configure(log_format: str, verbose: bool) -> None:
    """Send every log record to stderr in ``log_format`` ("text" or "json")."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormat() if log_format == "json" else TextFormat())
    library_level = logging.WARNING if verbose else logging.CRITICAL
    handler.addFilter(LibraryFloor(library_level))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("stig").setLevel(logging.DEBUG if verbose else logging.INFO)
    # py-libp2p's records (routed here by stig.net.libp2p_side): only with -v.
    logging.getLogger("libp2p").setLevel(library_level)
    # stem 1.8.2 sets its own logger to its TRACE level (every control command and reply);
    # like any library's, its records are WARNING and up (INFO with -v).
    logging.getLogger("stem").setLevel(logging.INFO if verbose else logging.WARNING)
    logging.captureWarnings(True)
