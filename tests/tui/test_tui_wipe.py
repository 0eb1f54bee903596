"""The terminal UI on a home that is wiped under it (``stig wipe`` in another terminal): it
exits cleanly instead of showing, and acting on, what was erased (pressing ``c`` with the
personas gone crashed it)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from stig.net.memory_net import MemoryHub
from stig.node import control
from stig.node.config import Config, NetworkConfig
from stig.node.local import wipe
from stig.tui.app import StigApp
from tests.tui.homes import clock, fill, make_home, story
from tests.tui.test_tui_flows import SIZE, settle, until

pytestmark = pytest.mark.timeout(60)

EXIT_WITHIN = 5.0


async def exited(app: StigApp) -> None:
    deadline = time.monotonic() + EXIT_WITHIN
    while app.return_code is None:
        assert time.monotonic() < deadline, "the app still runs"
        await asyncio.sleep(0.05)
    assert app.return_code == 0


async def test_a_stop_request_on_the_control_socket_ends_the_app(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    await fill(home, story())
    config = Config(NetworkConfig(sync_interval=3600))
    app = StigApp(home, network=MemoryHub().network("tui"), config=config, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.session.status.mode == "online", "the mesh")
        assert home.control_socket.exists()
        # What `stig wipe` sends, from another process: here, from a thread.
        assert await asyncio.to_thread(control.request_stop, home.control_socket, 5)
        await exited(app)
        assert app.live.asked_to_stop
        assert not home.control_socket.exists()


async def test_the_app_ends_when_its_home_is_wiped(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    await fill(home, story())
    app = StigApp(home, offline=True, clock=clock)  # no mesh, so no control socket to ask
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not wipe(home)  # nothing was listening: the app notices the store is gone
        await exited(app)
        await pilot.press("c")  # composing with the personas gone used to crash the app
