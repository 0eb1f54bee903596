"""The one clock of a stig process: the wall clock, plus an offset that only tests set.

Everything above the pure core that needs *now* reads it here (``now`` as a float, ``wall_clock``
in whole seconds), so a test can start a real process whose clock is ahead or behind its
neighbours' — the way real devices drift — without touching the machine's clock.

``STIG_CLOCK_OFFSET`` (seconds, may be negative or fractional) is **for tests only**: it is read
once, when this module is first imported, and a process with a wrong clock rejects or keeps
traces as a device with that wrong clock would.
"""

from __future__ import annotations

import os
import time

OFFSET_VARIABLE = "STIG_CLOCK_OFFSET"


def _offset_from_environment() -> float:
    raw = os.environ.get(OFFSET_VARIABLE, "").strip()
    if not raw:
        return 0.0
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{OFFSET_VARIABLE}={raw!r} is not a number of seconds") from None


OFFSET = _offset_from_environment()


def now() -> float:
    """Seconds since the epoch, as this process sees them."""
    return time.time() + OFFSET


def wall_clock() -> int:
    """``now()`` in whole seconds: what traces carry."""
    return int(time.time() + OFFSET)
