"""A node's operator at the command line: `stig status` with no node running, a metrics address
that is refused before anything starts, and how log records read (stig.cli.logs). A running
relay's stats line, status and SIGHUP: tests/mesh/test_mesh_relay_ops.py."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from stig.cli.logs import JsonFormat, LibraryFloor, TextFormat
from tests.cli.running import fails, stig


def test_status_without_a_running_node_says_so(tmp_path: Path) -> None:
    home = tmp_path / "home"
    stig(home, "init")
    assert "no node is running for this home" in fails(home, "status")
    assert "no node is running for this home" in fails(home, "status", "--json")


def test_a_metrics_address_off_loopback_is_refused_at_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    message = fails(home, "relay", "--listen", "/ip4/127.0.0.1/tcp/0", "--metrics", "0.0.0.0:9464")
    assert "--metrics: '0.0.0.0:9464' is not a loopback address" in message
    assert not (home / "addrs").exists()  # it never started
    (home / "config.toml").write_text('[relay]\nmetrics = "192.0.2.7:9464"\n')
    assert "relay.metrics: '192.0.2.7:9464' is not a loopback" in fails(home, "node")
    assert (
        "Invalid value for '--log-format'"
        in stig(home, "relay", "--log-format", "xml", code=2).stderr
    )


def _record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("broken")
        except ValueError:
            info = sys.exc_info()
    record = logging.LogRecord("stig.node", logging.WARNING, __file__, 1, message, args, info)
    record.created = 1796637600.25  # 2026-12-07T10:00:00.250Z
    return record


def test_a_text_log_line_has_time_level_and_logger() -> None:
    line = TextFormat().format(_record("cut off %s: %s", "12D3KooW", "junk"))
    assert line == "2026-12-07T10:00:00.250Z WARNING stig.node: cut off 12D3KooW: junk"
    with_traceback = TextFormat().format(_record("failed", exc=True))
    assert with_traceback.startswith("2026-12-07T10:00:00.250Z WARNING stig.node: failed\n")
    assert with_traceback.rstrip().endswith("ValueError: broken")


def test_a_json_log_record_is_one_line() -> None:
    line = JsonFormat().format(_record("reload: %s", "naïve\nsecond line", exc=True))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["time"] == "2026-12-07T10:00:00.250Z"
    assert (entry["level"], entry["logger"]) == ("WARNING", "stig.node")
    assert entry["message"] == "reload: naïve\nsecond line"
    assert entry["exception"].rstrip().endswith("ValueError: broken")


def test_py_libp2p_records_stay_out_below_their_floor() -> None:
    """A py-libp2p module that sets its own level (the auto-connector: INFO) still does not reach
    a quiet node's log; with -v its warnings do; stig's own records are never held back."""
    import libp2p.network.auto_connector  # noqa: F401 - sets its logger's level

    chatty = logging.getLogger("libp2p.network.auto_connector")
    assert chatty.isEnabledFor(logging.INFO)  # why the parent's level is not enough
    quiet, verbose = LibraryFloor(logging.CRITICAL), LibraryFloor(logging.WARNING)
    dials = logging.LogRecord(chatty.name, logging.INFO, __file__, 1, "dials", None, None)
    warning = logging.LogRecord("libp2p.swarm", logging.WARNING, __file__, 1, "w", None, None)
    ours = logging.LogRecord("stig.node", logging.INFO, __file__, 1, "posted", None, None)
    assert not quiet.filter(dials) and not quiet.filter(warning) and quiet.filter(ours)
    assert not verbose.filter(dials) and verbose.filter(warning) and verbose.filter(ours)
    libp2pish = logging.LogRecord("libp2pish", logging.INFO, __file__, 1, "x", None, None)
    assert quiet.filter(libp2pish)  # only the library's own loggers
