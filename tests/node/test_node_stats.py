"""What a running node tells its operator (stig.node.stats, stig.node.metrics, and the policy
swap of MeshNode.apply_policy): the pure formatting, the metrics exposition, and MeshNodes on
the in-memory network whose numbers must agree with their per-peer ledger. The same over real
processes, with the stats line, `stig status` and a SIGHUP: tests/mesh/test_mesh_relay_ops.py."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from stig.errors import StoreError, UsageError
from stig.node import metrics
from stig.node.config import RelayPolicy, check_metrics_address, load_config
from stig.node.stats import Counts, Interval, Reporter, Snapshot, Tally, snapshot_json, stats_line
from tests.node.test_node_mesh import Mesh, mesh, note, until

__all__ = ["mesh"]  # the fixture, imported for the tests below

T = 1796637600.0  # 2026-12-07T10:00:00Z


def snapshot(at: float, accepted: int = 0, evicted: int = 0, **rejected: int) -> Snapshot:
    return Snapshot(
        at=at,
        totals=Counts(accepted, rejected, evicted),
        peers=3,
        traces=1204,
        live=1190,
        disk_bytes=3 * (1 << 20) + 200_000,
    )


# -- pure ----------------------------------------------------------------------------------------


def test_an_interval_counts_what_moved_since_the_earlier_snapshot() -> None:
    earlier = snapshot(T, accepted=10, evicted=1, refused_tag=2, bad_signature=1)
    later = snapshot(T + 60, accepted=22, evicted=1, refused_tag=5, bad_signature=1, low_pow=1)
    interval = Interval.between(earlier, later)
    assert interval.counts == Counts(12, {"refused_tag": 3, "low_pow": 1}, 0)
    assert interval.counts.rejected_total == 4
    assert (interval.start, interval.end) == (T, later)


def test_the_stats_line_reads_field_by_field() -> None:
    earlier = snapshot(T - 60, accepted=3, refused_tag=1)
    later = snapshot(T, accepted=15, evicted=2, refused_tag=4, bad_signature=1)
    assert stats_line(Interval.between(earlier, later)) == (
        "2026-12-07T10:00:00Z stats 60s: peers=3 accepted=12 rejected=4 "
        "(bad_signature=1 refused_tag=3) evicted=2 traces=1204 live=1190 disk=3.2MiB"
    )
    quiet = Interval.between(later, snapshot(T + 60, accepted=15, evicted=2, refused_tag=4))
    assert "accepted=0 rejected=0 evicted=0 " in stats_line(quiet)


def test_the_status_holds_totals_and_the_last_line() -> None:
    now = snapshot(T + 5, accepted=15, refused_tag=4)
    assert snapshot_json(now, None)["last_interval"] is None
    last = Interval.between(snapshot(T - 60, accepted=3), snapshot(T, accepted=15, refused_tag=4))
    found = snapshot_json(now, last)
    assert found["totals"] == {"accepted": 15, "rejected": {"refused_tag": 4}, "evicted": 0}
    assert (found["peers"], found["traces"], found["live"]) == (3, 1204, 1190)
    assert found["last_interval"] == {
        "start": T - 60,
        "end": T,
        "accepted": 12,
        "rejected": {"refused_tag": 4},
        "evicted": 0,
        "peers": 3,
        "traces": 1204,
        "live": 1190,
        "disk_bytes": now.disk_bytes,
        "line": stats_line(last),
    }


async def test_the_reporter_hands_over_intervals_that_add_up_to_the_totals() -> None:
    tally = Tally()
    seen: list[Interval] = []

    async def measure() -> Snapshot:
        tally.accept(1)
        tally.reject("refused_tag" if len(seen) % 2 else "expired")
        return Snapshot(time.time(), tally.counts(), 0, 0, 0, 0)

    reporter = Reporter(measure, 0.0, seen.append)
    task = asyncio.get_running_loop().create_task(reporter.run())
    await until(lambda: len(seen) >= 5, "five intervals")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert reporter.last is seen[-1]
    summed = Counts()
    for interval in seen:
        summed = Counts(
            summed.accepted + interval.counts.accepted,
            {
                r: summed.rejected.get(r, 0) + interval.counts.rejected.get(r, 0)
                for r in {*summed.rejected, *interval.counts.rejected}
            },
        )
    first = Counts(1, {"expired": 1})  # what the first measure found, before any interval
    assert seen[-1].end.totals.since(first) == summed


async def test_a_measure_that_fails_makes_the_next_interval_longer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    moments = iter([T, T + 60, None, T + 180])
    seen: list[Interval] = []

    async def measure() -> Snapshot:
        at = next(moments, T + 999)
        if at == T + 999:
            await asyncio.Event().wait()  # no more measures: until cancelled
        if at is None:
            raise StoreError("the store is locked")
        return snapshot(at, accepted=int(at - T))

    task = asyncio.get_running_loop().create_task(Reporter(measure, 0.0, seen.append).run())
    await until(lambda: len(seen) == 2, "two intervals")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert [(i.start, i.end.at, i.counts.accepted) for i in seen] == [
        (T, T + 60, 60),
        (T + 60, T + 180, 120),
    ]
    assert "cannot measure the node: the store is locked" in caplog.text


# -- metrics ---------------------------------------------------------------------------------


class _Fixed(Collector):
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def collect(self) -> Iterator[Metric]:
        yield from metrics.metric_families(self.snap)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_expose_the_counters_and_gauges() -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(snapshot(T, accepted=15, evicted=2, refused_tag=4, expired=1)))
    found = samples(generate_latest(registry).decode())
    assert found == {
        ("stig_traces_accepted_total", ()): 15,
        ("stig_traces_rejected_total", (("reason", "expired"),)): 1,
        ("stig_traces_rejected_total", (("reason", "refused_tag"),)): 4,
        ("stig_traces_evicted_total", ()): 2,
        ("stig_peers", ()): 3,
        ("stig_store_traces", ()): 1204,
        ("stig_store_live_traces", ()): 1190,
        ("stig_store_bytes", ()): 3 * (1 << 20) + 200_000,
    }


async def test_the_metrics_endpoint_measures_the_node_at_each_scrape() -> None:
    measured: list[Snapshot] = []

    async def measure() -> Snapshot:
        measured.append(snapshot(T, accepted=len(measured)))
        return measured[-1]

    endpoint = metrics.serve("127.0.0.1", 0, measure, asyncio.get_running_loop())
    try:
        assert endpoint.url.startswith("http://127.0.0.1:")

        def scrape() -> str:
            with urllib.request.urlopen(endpoint.url, timeout=10) as answer:
                assert answer.headers["Content-Type"].startswith("text/plain")
                return str(answer.read().decode())

        first = samples(await asyncio.to_thread(scrape))
        second = samples(await asyncio.to_thread(scrape))
    finally:
        await asyncio.to_thread(endpoint.close)
    assert first[("stig_traces_accepted_total", ())] == 0
    assert second[("stig_traces_accepted_total", ())] == 1
    assert not any(name.startswith(("python_", "process_")) for name, _ in first)  # own registry


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("127.0.0.53:1", ("127.0.0.53", 1)),
        ("[::1]:9464", ("::1", 9464)),
        ("localhost:0", ("127.0.0.1", 0)),
    ],
)
def test_a_loopback_metrics_address_is_taken(address: str, expected: tuple[str, int]) -> None:
    assert check_metrics_address(address, "--metrics") == expected


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("0.0.0.0:9464", "not a loopback address"),
        ("[::]:9464", "not a loopback address"),
        ("192.0.2.7:9464", "not a loopback address"),
        ("metrics.example.org:9464", "not a loopback address"),
        ("9464", "is not host:port"),
        ("127.0.0.1:http", "is not host:port"),
        ("127.0.0.1:70000", "is not host:port"),
    ],
)
def test_any_other_metrics_address_is_refused(address: str, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        check_metrics_address(address, "--metrics")


def test_stats_and_metrics_are_relay_keys_of_the_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[relay]\nstats_interval = 5\nmetrics = "127.0.0.1:9464"\nmax_traces = 9\n')
    config = load_config(path)
    assert (config.monitoring.stats_interval, config.monitoring.metrics) == (5.0, "127.0.0.1:9464")
    assert config.relay == RelayPolicy(max_traces=9)
    assert load_config(tmp_path / "absent.toml").monitoring.stats_interval == 60.0
    for text, why in [
        ("stats_interval = -1", "relay.stats_interval must be a number of seconds"),
        ('stats_interval = "1m"', "relay.stats_interval must be a number of seconds"),
        ('metrics = "0.0.0.0:9464"', "relay.metrics: '0.0.0.0:9464' is not a loopback"),
        ("metrics = 9464", "relay.metrics must be a str"),
    ]:
        path.write_text(f"[relay]\n{text}\n")
        with pytest.raises(UsageError, match=why):
            load_config(path)


# -- running nodes ---------------------------------------------------------------------------


async def test_the_totals_agree_with_the_ledger_and_the_store(mesh: Mesh) -> None:
    source = await mesh.start("source")
    kept = [note(f"kept {i}", tags=("housing",)) for i in range(3)]
    await source.post(*kept, note("spam", tags=("spam",)), note("more spam", tags=("spam",)))
    await until(lambda: len(source.network.published) == 5, "the source to publish")
    policy = RelayPolicy(refuse_tags=frozenset({"spam"}), max_traces=2)
    relay = await mesh.start("relay", bootstrap=(source,), relay=policy)
    await until(lambda: relay.node.ledger.record(source.peer_id).last_sync > 0, "the first sync")

    stats = (await relay.node.report())["stats"]
    record = relay.node.ledger.record(source.peer_id)
    assert stats["totals"] == {
        "accepted": record.accepted,
        "rejected": dict(record.rejected),
        "evicted": 1,  # three kept, two carried at most
    }
    assert (record.accepted, dict(record.rejected)) == (3, {"refused_tag": 2})
    assert (stats["peers"], stats["traces"], stats["live"]) == (1, 2, 2)
    assert stats["disk_bytes"] > 0
    assert stats["last_interval"] is None  # no stats line asked for


async def test_a_new_policy_applies_to_a_running_node_without_a_reconnect(mesh: Mesh) -> None:
    source = await mesh.start("source")
    relay = await mesh.start("relay", bootstrap=(source,))
    await until(lambda: relay.node.ledger.record(source.peer_id).last_sync > 0, "the first sync")
    synced = relay.node.ledger.record(source.peer_id).last_sync
    before = note("before the reload", tags=("leaflets",))
    await source.post(before)
    await until(lambda: relay.holds(before), "the push before the reload")

    changes = relay.node.apply_policy(RelayPolicy(refuse_tags=frozenset({"leaflets", "zines"})))
    assert changes == ["refuse_tags: [] -> [leaflets, zines]"]
    after, marker = note("after the reload", tags=("leaflets",)), note("marker", tags=("other",))
    await source.post(after)
    await source.post(marker)
    await until(lambda: relay.holds(marker), "the push after the reload")
    assert not await relay.holds(after)
    totals = (await relay.node.report())["stats"]["totals"]
    assert totals == {"accepted": 2, "rejected": {"refused_tag": 1}, "evicted": 0}
    # The same connection all along: a new one would have started a new sync session.
    assert relay.node.ledger.record(source.peer_id).last_sync == synced
    assert source.peer_id in relay.network.peers()
    assert relay.node.apply_policy(relay.node.policy) == []
