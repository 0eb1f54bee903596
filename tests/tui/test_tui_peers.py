"""The Peers page: this node's invite (code, QR code, ``c`` to copy) and the field that adds a
peer from its code or address at once (stig.node.joining), over real SQLite homes. The invite
needs real addresses: the node here runs real libp2p on 127.0.0.1; the peer it dials is a real
``stig node`` process, ended by PID."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from stig.net.peer_invite import peer_invite, read_peer_invite
from stig.node.config import Config, NetworkConfig
from stig.node.home import Home
from stig.tui.app import StigApp
from stig.tui.screens.peers import PeersScreen
from tests.mesh.processes import LOCAL, Node, cluster, stig
from tests.tui.homes import clock, make_home
from tests.tui.test_tui_flows import SIZE, settle, until

pytestmark = pytest.mark.timeout(180)

OTHER = "/ip4/198.18.0.9/tcp/4737/p2p/12D3KooWPaU6p1BCEEPhCZ724vZotwf67GkkwLhBcxbYnoLZxmVE"
"""A peer that is nowhere (198.18.0.0/15 is for benchmarks): adding it only writes config.toml."""


def bootstrap_of(home: Home) -> list[str]:
    if not home.config_file.exists():
        return []
    config = tomllib.loads(home.config_file.read_text())
    return list(config.get("network", {}).get("bootstrap", []))


def said(app: StigApp) -> str:
    return str(app.screen.query_one("#add-said", Static).render())


async def add(pilot: Pilot[None], text: str) -> None:
    await pilot.press("a")
    field = pilot.app.screen.query_one("#add-peer", Input)
    assert field.has_focus
    field.value = text
    await pilot.press("enter")
    await settle(pilot)


def online(root: Path) -> StigApp:
    home = make_home(root)
    config = Config(NetworkConfig(listen=(LOCAL,), sync_interval=3600))
    return StigApp(home, config=config, clock=clock)


async def test_the_invite_shown_is_this_nodes_and_c_copies_it(tmp_path: Path) -> None:
    app = online(tmp_path / "home")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")
        page = app.screen
        assert isinstance(page, PeersScreen)
        await until(pilot, lambda: page.invite is not None, "this node's invite")
        assert page.invite is not None
        code = page.invite.code
        status = app.session.status
        addresses = read_peer_invite(code)
        assert addresses == list(status.addresses)[:4]
        assert all(a.endswith(f"/p2p/{status.peer_id}") for a in addresses)
        shown = str(page.query_one("#my-invite-words", Static).render())
        assert code in shown.replace("\n", "")
        assert page.query_one("#my-invite-qr", Static).display
        assert "reach" in str(page.query_one("#me", Static).render())

        await pilot.press("c")
        assert app.clipboard == code


async def test_a_code_added_here_is_dialed_at_once_and_kept(tmp_path: Path) -> None:
    other = tmp_path / "other"
    stig(other, "init", "-q")
    with cluster() as nodes:
        node = Node(other).start()
        nodes.append(node)
        peer = node.address.rsplit("/p2p/", 1)[1]
        app = online(tmp_path / "home")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.session.status.peer_id != "", "the mesh to start")
            await pilot.press("p")
            await add(pilot, peer_invite(node.addresses))
            await until(pilot, lambda: "connected to" in said(app), "the dial's answer")
            assert f"added to config.toml; connected to {peer}" in said(app)
            assert bootstrap_of(app.home) == read_peer_invite(peer_invite(node.addresses))
            await until(pilot, lambda: app.session.status.connected == 1, "a connected peer")
            assert app.screen.query_one("#add-peer", Input).value == ""
            table = app.screen.query_one("#peers", DataTable)
            await until(
                pilot,
                lambda: peer in table.rows and str(table.get_row(peer)[1]).startswith("direct"),
                "the peer's row, saying how it is reached",
            )


async def test_offline_a_peer_is_kept_for_later_and_bad_input_is_explained(
    tmp_path: Path,
) -> None:
    home = make_home(tmp_path / "home")
    app = StigApp(home, offline=True, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        page = app.screen
        assert isinstance(page, PeersScreen)
        words = str(page.query_one("#my-invite-words", Static).render())
        assert "offline" in words
        assert not page.query_one("#my-invite-qr", Static).display
        assert "dialed when stig starts without --offline" in said(app)
        await pilot.press("c")  # nothing to copy: said, nothing copied
        assert app.clipboard == ""

        code = peer_invite([OTHER])
        await add(pilot, code[:-9])
        assert "the invite is cut short" in said(app)
        await add(pilot, "198.18.0.9:4737")
        assert "/ip4/198.18.0.9/tcp/4737/p2p/<peer id>" in said(app)
        await add(pilot, "/ip4/198.18.0.9/tcp/4737")
        assert "is not a full peer address" in said(app)
        assert bootstrap_of(home) == []  # nothing written for what was refused
        assert page.query_one("#add-peer", Input).value == "/ip4/198.18.0.9/tcp/4737"  # kept

        await add(pilot, code)
        assert f"{OTHER}\n  added to config.toml; dialed when this node goes online" in said(app)
        assert bootstrap_of(home) == [OTHER]
        await add(pilot, OTHER)
        assert "already in config.toml" in said(app)
        assert bootstrap_of(home) == [OTHER]

        await pilot.press("escape")  # leaves the field, stays on the page
        assert isinstance(app.screen, PeersScreen)
