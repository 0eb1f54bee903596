"""Garbage collection when the person is not typing.

A full collection over a screen's worth of rendered segments takes 100–600 ms on a slow
machine; left to CPython's thresholds it lands in the middle of a keypress. While the app runs,
automatic collection is off and this collects between keys instead: the young generation
often, everything now and then, always after a pause in the typing.
"""

from __future__ import annotations

import gc
import time

YOUNG_EVERY = 1.0
FULL_EVERY = 30.0
QUIET = 0.4
"""Seconds without a key before a collection may run."""


class IdleCollector:
    def __init__(self) -> None:
        self._last_key = 0.0
        self._last_full = time.monotonic()
        self._was_enabled = gc.isenabled()

    def start(self) -> None:
        gc.disable()

    def stop(self) -> None:
        if self._was_enabled:
            gc.enable()

    def key_pressed(self) -> None:
        self._last_key = time.monotonic()

    def tick(self) -> None:
        """Call every YOUNG_EVERY seconds."""
        now = time.monotonic()
        if now - self._last_key < QUIET:
            return
        if now - self._last_full >= FULL_EVERY:
            gc.collect()
            self._last_full = now
        else:
            gc.collect(1)
