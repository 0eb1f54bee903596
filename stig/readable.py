"""How times, intensities and ids read to a person — shared by the CLI, the TUI and the site."""

from __future__ import annotations

import re

from stig.crdt.bounds import MAX_PLACE_CHARS
from stig.crdt.views import Counts

SHORT_ID = 12
"""Hex characters of a trace id shown where space is short (enough to resolve it back)."""

_BAR = " ▁▂▃▄▅▆▇█"


def span(seconds: int) -> str:
    """A short human duration: 45s, 12m, 5h, 3d."""
    seconds = max(0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def bar(intensity: float, top: float, width: int = 5) -> str:
    """Intensity as a small bar, relative to the strongest trace shown."""
    if top <= 0:
        return " " * width
    filled = min(intensity / top, 1.0) * width
    full = int(filled)
    rest = _BAR[round((filled - full) * (len(_BAR) - 1))] if full < width else ""
    return ("█" * full + rest).ljust(width)


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def responses(counts: Counts, *, zeros: bool = False) -> list[str]:
    """A trace's answers, echoes, confirms and disputes in words (``zeros``: also the nones)."""
    return [
        plural(n, one, many)
        for n, one, many in (
            (counts.answers, "answer", "answers"),
            (counts.echoes, "echo", "echoes"),
            (counts.confirms, "confirmation", "confirmations"),
            (counts.disputes, "dispute", "disputes"),
        )
        if n or zeros
    ]


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")


def parse_duration(text: str) -> int:
    """``90m``, ``12h``, ``3d``, ``2w``, or plain seconds."""
    match = _DURATION.match(text.lower())
    if not match:
        raise ValueError(f"{text!r} is not a duration; write e.g. 90m, 12h, 3d or 2w")
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]


_LAT_LON = re.compile(r"^\s*([-+]?\d{1,3}(?:\.\d+)?)\s*,\s*([-+]?\d{1,3}(?:\.\d+)?)\s*$")


def cell_of(text: str) -> str | None:
    """The coarsest-allowed geohash cell (MAX_PLACE_CHARS characters, about 39 km x 20 km)
    holding ``lat,lon`` (``48.8566,2.3522`` -> ``u09t``); None if ``text`` is not a pair of
    coordinates (then it is a geohash, or a mistake for normalize_place to name). Only the
    cell is kept: the coordinates never go further than this function (DESIGN.md §1.4)."""
    match = _LAT_LON.match(text)
    if not match:
        return None
    lat, lon = float(match.group(1)), float(match.group(2))
    if not -90 <= lat <= 90:
        raise ValueError(f"latitude {match.group(1)} is not between -90 and 90 (write lat,lon)")
    if not -180 <= lon <= 180:
        raise ValueError(f"longitude {match.group(2)} is not between -180 and 180")
    import pygeohash  # noqa: PLC0415 - only a place typed as coordinates needs it

    return pygeohash.encode(lat, lon, precision=MAX_PLACE_CHARS)
