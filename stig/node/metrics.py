"""The metrics endpoint: a running node's stats (stig.node.stats) in the Prometheus text format,
over HTTP on a loopback address (opt-in: ``relay.metrics``, ``--metrics``; docs/relay.md).

It is served by ``prometheus_client`` (the Prometheus project's own client library) from its
own thread, with a registry of its own — not the library's global one, which would also export
the Python process collectors and would clash between two nodes in one process (tests). Each
scrape measures the node afresh: the collector asks the node's asyncio loop for a snapshot
(``asyncio.run_coroutine_threadsafe``) and waits at most ``MEASURE_WITHIN`` for it, so the
numbers are the same ones ``stig status`` and the stats line show, read the same way.

Exported (counters since the process started, gauges now):

* ``stig_traces_accepted_total`` — traces from peers stored;
* ``stig_traces_rejected_total{reason="…"}`` — messages refused, by reason;
* ``stig_traces_evicted_total`` — traces evicted above ``relay.max_traces``;
* ``stig_peers`` — connected peers; ``stig_store_traces`` — traces in the store;
  ``stig_store_live_traces`` — live ones; ``stig_store_bytes`` — the store's files on disk.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from stig.node.stats import Snapshot

MEASURE_WITHIN = 10.0
"""How long a scrape waits for the node's loop to measure it (the store's counts)."""


def metric_families(snapshot: Snapshot) -> list[Metric]:
    """The snapshot as Prometheus metric families (pure: tests read them directly)."""
    totals = snapshot.totals
    rejected = CounterMetricFamily(
        "stig_traces_rejected", "Messages refused from peers, by reason.", labels=["reason"]
    )
    for reason, n in sorted(totals.rejected.items()):
        rejected.add_metric([reason], n)
    return [
        CounterMetricFamily(
            "stig_traces_accepted", "Traces from peers stored.", value=totals.accepted
        ),
        rejected,
        CounterMetricFamily(
            "stig_traces_evicted", "Traces evicted above relay.max_traces.", value=totals.evicted
        ),
        GaugeMetricFamily("stig_peers", "Connected peers.", value=snapshot.peers),
        GaugeMetricFamily("stig_store_traces", "Traces in the store.", value=snapshot.traces),
        GaugeMetricFamily(
            "stig_store_live_traces", "Traces in the store not expired.", value=snapshot.live
        ),
        GaugeMetricFamily(
            "stig_store_bytes", "Bytes of the store's files on disk.", value=snapshot.disk_bytes
        ),
    ]


class _NodeCollector(Collector):
    def __init__(
        self, measure: Callable[[], Awaitable[Snapshot]], loop: asyncio.AbstractEventLoop
    ) -> None:
        self._measure = measure
        self._loop = loop

    def collect(self) -> Iterator[Metric]:
        # Runs on the HTTP server's thread; the store belongs to the node's loop.
        async def measure() -> Snapshot:
            return await self._measure()

        future = asyncio.run_coroutine_threadsafe(measure(), self._loop)
        yield from metric_families(future.result(MEASURE_WITHIN))


class MetricsEndpoint:
    """The HTTP server, started by ``serve`` and stopped by ``close``."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def url(self) -> str:
        address = self._server.server_address[0]
        host = address.decode() if isinstance(address, bytes) else str(address)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self._server.server_port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def serve(
    host: str,
    port: int,
    measure: Callable[[], Awaitable[Snapshot]],
    loop: asyncio.AbstractEventLoop,
) -> MetricsEndpoint:
    """Serve the node's metrics at ``http://host:port/metrics`` (port 0: any free one; see
    ``url``). The address was checked by ``config.check_metrics_address``: loopback only.
    OSError if the port is taken."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_NodeCollector(measure, loop))
    server, thread = start_http_server(port, host, registry=registry)
    return MetricsEndpoint(server, thread)
