"""Desktop notifications, where there is a desktop (desktop-notifier: D-Bus on Linux, the
platform's own service on macOS and Windows). Where there is none — a server, a session without
a D-Bus bus — the first failure is logged with what to do, and nothing more is tried."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class Desktop:
    def __init__(self, app_name: str = "stig") -> None:
        self._app_name = app_name
        self._notifier: Any = None
        self.available = True
        missing = _missing_desktop()
        if missing:
            self.available = False
            log.warning(
                "desktop notifications are not available here (%s); noticed traces are "
                "still logged, and the terminal UI shows them",
                missing,
            )

    async def send(self, title: str, message: str) -> bool:
        """Show one notification; False (and never again) if this session has no desktop."""
        if not self.available:
            return False
        try:
            if self._notifier is None:
                from desktop_notifier import DesktopNotifier  # noqa: PLC0415

                self._notifier = DesktopNotifier(app_name=self._app_name)
            await self._notifier.send(title=title, message=message)
        except Exception as exc:
            self.available = False
            log.warning(
                "desktop notifications are not available here (%s: %s); noticed traces are "
                "still logged, and the terminal UI shows them",
                type(exc).__name__,
                exc,
            )
            return False
        return True


def _missing_desktop() -> str:
    """Why this session cannot show desktop notifications, or "" if it may. On Linux they go
    over the D-Bus session bus (a desktop session has one; a server or an ssh login has none),
    and desktop-notifier only logs, not raises, when there is none."""
    if not sys.platform.startswith("linux"):
        return ""
    if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return ""
    if Path(f"/run/user/{os.getuid()}/bus").exists():
        return ""
    return "no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set"
