"""stig's tor seam against real tors of the private network: attaching, status, onions
published under our key (tor derives the same address), SOCKS errors in words, and a tor of
stig's own that joins the network and dies with its owner."""

from __future__ import annotations

import socket
from pathlib import Path

import psutil
import pytest
import trio

from stig.errors import TorError
from stig.net.tor import socks
from stig.net.tor.control import TorControl
from stig.net.tor.daemon import TorDaemon
from stig.net.tor.onion_key import OnionKey
from tests.tor.loopback import loopback_only
from tests.tor.private_network import PrivateTorNetwork, free_ports

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


def test_attach_refuses_a_control_port_off_this_machine() -> None:
    with pytest.raises(TorError, match="only used on this machine") as caught:
        TorControl.attach(9051, host="192.0.2.1")
    assert caught.value.reason == "not_loopback"


def test_attach_to_nothing_says_to_start_tor() -> None:
    (port,) = free_ports(1)
    with pytest.raises(TorError, match="start tor with 'ControlPort") as caught:
        TorControl.attach(port)
    assert caught.value.reason == "not_running"


def test_without_tor_installed_stig_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no tor on it
    with pytest.raises(TorError, match="apt-get install tor") as caught:
        TorDaemon(tmp_path / "tor").start()
    assert caught.value.reason == "not_installed"


def test_the_private_network_itself_stays_on_the_loopback(
    tor_network: PrivateTorNetwork,
) -> None:
    """Every tor of the test network holds inet sockets on 127.0.0.1 only: the network cannot
    reach (or be reached from) anything outside this machine."""
    for pid in tor_network.pids():
        assert psutil.Process(pid).net_connections(kind="inet")
        assert loopback_only(pid) == []


def test_status_and_an_onion_under_our_key(tor_network: PrivateTorNetwork) -> None:
    client = tor_network.clients[0]
    key = OnionKey.generate()
    with socket.socket() as target:
        target.bind(("127.0.0.1", 0))
        target.listen()
        with TorControl.attach(client.control) as control:
            status = control.status()
            assert status.bootstrapped and status.progress == 100
            assert status.socks == ("127.0.0.1", client.socks)
            assert not status.own_tor
            # publish() refuses an address other than the one computed from the key: this
            # passing means tor derived the same address as stig.net.tor.onion_key.
            assert control.publish(key, 80, target.getsockname()[1]) == key.address
            assert control.status().onions == (key.address,)
            control.withdraw(key.address)
            control.withdraw(key.address)  # idempotent
            assert control.status().onions == ()


def test_socks_errors_say_what_happened(tor_network: PrivateTorNetwork) -> None:
    client = tor_network.clients[1]
    nowhere = OnionKey.generate().address  # well formed, never published

    async def dial(proxy: tuple[str, int], name: str) -> None:
        with trio.fail_after(120):
            stream = await socks.connect(proxy, name, 4001)
            await stream.aclose()

    with pytest.raises(TorError) as caught:
        trio.run(dial, ("127.0.0.1", client.socks), f"{nowhere}.onion")
    assert caught.value.reason == "onion_unreachable"
    assert nowhere in str(caught.value)

    (closed,) = free_ports(1)
    with pytest.raises(TorError, match="is tor running") as caught:
        trio.run(dial, ("127.0.0.1", closed), f"{nowhere}.onion")
    assert caught.value.reason == "not_running"


def test_stigs_own_tor_joins_publishes_and_dies_with_its_owner(
    tor_network: PrivateTorNetwork, tmp_path: Path
) -> None:
    daemon = TorDaemon(tmp_path / "tor", extra_torrc=tor_network.client_torrc())
    try:
        control = daemon.start()
        status = control.wait_bootstrapped(within=120)
        assert status.own_tor and status.socks is not None
        assert status.socks[0] == "127.0.0.1"
        key = OnionKey.generate()
        assert control.publish(key, 80, 9, await_publication=False) == key.address
        assert daemon.process is not None
        # Closing the owning control connection is enough for tor to exit: a node that
        # crashes leaves no tor behind (bounded wait; SIGKILL by PID in stop() otherwise).
        control.close()
        assert daemon.process.wait(30) == 0
    finally:
        daemon.stop()
