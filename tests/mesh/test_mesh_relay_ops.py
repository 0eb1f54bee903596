"""As a relay operator (issue 14, part 4), with real processes on 127.0.0.1, real libp2p, every
process ended by PID: the stats line, `stig status --json` and the metrics endpoint agree with
the relay's counters; a SIGHUP applies a new `refuse_tags` to a running relay without dropping
its connections, and a broken config.toml on reload changes nothing. Waits are bounded, never
timed: each test waits for a state, with a generous deadline."""

from __future__ import annotations

import json
import os
import re
import signal
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.mesh.processes import Node, cluster, stig, stig_json, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

QUIET = "sync_interval = 3600\n"  # only the sync on connect: every count below comes by push
STATS = re.compile(
    r"^(?P<at>\S+Z) stats \d+s: peers=(?P<peers>\d+) accepted=(?P<accepted>\d+) "
    r"rejected=(?P<rejected>\d+)(?: \((?P<reasons>[^)]*)\))? evicted=(?P<evicted>\d+) "
    r"traces=(?P<traces>\d+) live=(?P<live>\d+) disk=[\d.]+MiB$"
)
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) \S+: ")


def init(home: Path, relay: str = "") -> Path:
    stig(home, "init", "-q")
    (home / "config.toml").write_text(f"[network]\n{QUIET}[relay]\n{relay}")
    return home


def relay_home(home: Path, relay: str) -> Path:
    home.mkdir(parents=True)
    (home / "config.toml").write_text(f"[network]\n{QUIET}[relay]\n{relay}")
    return home


def parsed(line: str) -> dict[str, Any]:
    found = STATS.match(line)
    assert found is not None, line
    reasons = dict(r.split("=") for r in (found["reasons"] or "").split())
    return {
        "accepted": int(found["accepted"]),
        "rejected": {reason: int(n) for reason, n in reasons.items()},
        "evicted": int(found["evicted"]),
        "peers": int(found["peers"]),
        "traces": int(found["traces"]),
        "live": int(found["live"]),
    }


def summed(relay: Node) -> dict[str, Any]:
    """The counters of every stats line printed so far, added up."""
    total: dict[str, Any] = {"accepted": 0, "rejected": {}, "evicted": 0}
    for line in relay.output():
        if " stats " not in line:
            continue
        one = parsed(line)
        total["accepted"] += one["accepted"]
        total["evicted"] += one["evicted"]
        for reason, n in one["rejected"].items():
            total["rejected"][reason] = total["rejected"].get(reason, 0) + n
    return total


def totals(relay: Node) -> dict[str, Any]:
    found: dict[str, Any] = stig_json(relay.home, "status")["totals"]
    return found


def first_synced(relay: Node, author: Node) -> float | None:
    peer = author.address.rsplit("/", 1)[-1]
    for record in relay.peers()["peers"]:
        if record["peer"] == peer and record["connected"]:
            synced: float | None = record["last_sync"]
            return synced
    return None


def scrape(url: str) -> dict[tuple[str, str], float]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    return {
        (s.name, s.labels.get("reason", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_stats_line_status_and_metrics_agree(tmp_path: Path) -> None:
    home = relay_home(tmp_path / "relay", 'refuse_tags = ["spam"]\nstats_interval = 1\n')
    with cluster() as nodes:
        relay = Node(home, "--metrics", "127.0.0.1:0", command="relay").start()
        nodes.append(relay)
        author = Node(init(tmp_path / "author"), "--bootstrap", relay.address).start()
        nodes.append(author)
        wait_for(lambda: first_synced(relay, author) is not None, 30, "the first sync")

        stig(author.home, "post", "-t", "depot", "picket from 6am")
        stig(author.home, "post", "-t", "spam", "buy now")
        wait_for(
            lambda: (t := totals(relay))["accepted"] == 1 and t["rejected"].get("refused_tag"),
            30,
            "the relay to take one trace and refuse the other",
        )
        # Each line counts what happened since the one before: together, the totals.
        wait_for(lambda: summed(relay) == totals(relay), 30, "the stats lines to add up")
        status = stig_json(relay.home, "status")
        assert status["totals"] == summed(relay)
        assert status["totals"]["evicted"] == 0
        assert (status["peers"], status["traces"], status["live"]) == (1, 1, 1)

        # The status's last interval is a line the relay printed, number for number.
        last = status["last_interval"]
        wait_for(lambda: last["line"] in relay.output(), 30, "the last line to be read")
        assert parsed(last["line"]) == {
            key: last[key] for key in ("accepted", "rejected", "evicted", "peers", "traces", "live")
        }

        # The metrics endpoint shows the same counters (`curl` on its address).
        url = re.search(r"metrics on (http://\S+)", relay.log())
        assert url is not None, relay.log()
        metrics = scrape(url[1])
        now = totals(relay)
        assert metrics[("stig_traces_accepted_total", "")] == now["accepted"]
        assert {
            reason: n
            for (name, reason), n in metrics.items()
            if name == "stig_traces_rejected_total"
        } == now["rejected"]
        assert metrics[("stig_traces_evicted_total", "")] == 0
        assert metrics[("stig_store_traces", "")] == 1
        assert metrics[("stig_store_live_traces", "")] == 1
        assert metrics[("stig_peers", "")] == 1
        assert metrics[("stig_store_bytes", "")] > 0

    # stderr holds log records only — libp2p's too — each with its time, level and logger.
    records = [line for line in relay.log().splitlines() if LOG_LINE.match(line)]
    assert records and len(records) == len(relay.log().splitlines()), relay.log()[-3000:]


def test_sighup_changes_refuse_tags_on_a_running_relay(tmp_path: Path) -> None:
    home = relay_home(tmp_path / "relay", "")
    with cluster() as nodes:
        relay = Node(home, "--log-format", "json", command="relay").start()
        nodes.append(relay)
        author = Node(init(tmp_path / "author"), "--bootstrap", relay.address).start()
        nodes.append(author)
        wait_for(lambda: first_synced(relay, author) is not None, 30, "the first sync")
        synced = first_synced(relay, author)

        stig(author.home, "post", "-t", "zines", "before the reload")
        wait_for(lambda: totals(relay)["accepted"] == 1, 30, "a zines trace to be taken")

        (home / "config.toml").write_text(f'[network]\n{QUIET}[relay]\nrefuse_tags = ["zines"]\n')
        assert relay.process is not None
        os.kill(relay.process.pid, signal.SIGHUP)
        wait_for(
            lambda: "relay policy: refuse_tags: [] -> [zines]" in messages(relay),
            30,
            "the relay to log the new policy",
        )
        stig(author.home, "post", "-t", "zines", "after the reload")
        stig(author.home, "post", "-t", "leaflets", "marker")
        wait_for(
            lambda: totals(relay) == {"accepted": 2, "rejected": {"refused_tag": 1}, "evicted": 0},
            30,
            "the relay to refuse zines and take the marker",
        )

        # A config.toml that does not load changes nothing, and the relay runs on.
        (home / "config.toml").write_text("[relay\n")
        os.kill(relay.process.pid, signal.SIGHUP)
        wait_for(
            lambda: any("stays as it was" in m and "not valid TOML" in m for m in messages(relay)),
            30,
            "the relay to log the broken config",
        )
        stig(author.home, "post", "-t", "zines", "after a broken reload")
        wait_for(lambda: totals(relay)["rejected"] == {"refused_tag": 2}, 30, "zines still refused")
        assert relay.process.poll() is None

        # Connections stayed: a new one would have started a new sync session.
        assert first_synced(relay, author) == synced
    assert all(json.loads(line)["time"] for line in relay.log().splitlines())  # JSON logs


def messages(relay: Node) -> list[str]:
    return [json.loads(line)["message"] for line in relay.log().splitlines() if line]
